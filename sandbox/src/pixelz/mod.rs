//! The simulated Pixelz developer API under `/REST.svc/JSON`.
//!
//! Pixelz answers HTTP 200 for its own failures and says what went wrong in
//! `ErrorCode`; credentials travel in the query string (GET) or the JSON body.

mod account;
mod images;
mod model;
mod reply;
pub mod seed;
mod templates;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

pub use model::Store;
pub(super) use reply::numbered_refusals;

use super::SandboxState;
use account::*;
use images::*;
use templates::*;

const JSON_BASE: &str = "/REST.svc/JSON";

pub fn routes() -> Router<Arc<SandboxState>> {
    let mut router = Router::new();
    // Pixelz documents every path with a trailing slash; clients send both.
    for (path, route) in [
        ("/Templates", get(list_templates)),
        ("/Template", post(create_template)),
        ("/Template/{template_id}", get(get_template)),
        ("/Image", post(submit_image)),
        ("/WhiteGloveService", post(submit_white_glove)),
        ("/Image/{ticket}", get(image_status).delete(delete_image)),
        ("/Image/Reject/{ticket}", put(reject_image)),
        ("/Images", get(list_images)),
        ("/Images/Count", get(count_images)),
        ("/ProductIds", get(list_product_ids)),
        ("/Contact", get(get_contact).post(create_contact)),
        ("/Invoices", get(list_invoices)),
    ] {
        router =
            router.route(&format!("{JSON_BASE}{path}"), route.clone()).route(&format!("{JSON_BASE}{path}/"), route);
    }
    router
}
