//! Templates: the list, one by id, and new ones (deprecated upstream, still served).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::model::*;
use super::reply::*;
use crate::SandboxState;

pub(super) async fn list_templates(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        let account = &store.accounts[index];
        let templates: Vec<Value> = account.templates.iter().map(|t| t.list_json(account.contact_id)).collect();
        answer(json!({ "Templates": templates }))
    })
}

pub(super) async fn get_template(
    State(state): State<Arc<SandboxState>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        let id: i64 = id.trim().parse().map_err(|_| invalid("templateId must be a number."))?;
        let template = store.accounts[index]
            .templates
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| fail(Failure::TemplateNotFound, format!("Template {id} was not found.")))?;
        answer(json!({ "Message": "Success", "Template": template.detail_json() }))
    })
}

pub(super) fn hex_color(params: &Map<String, Value>, key: &str) -> Result<Option<String>, Response> {
    match text(params, key) {
        None => Ok(None),
        Some(c) if c.len() == 6 && c.chars().all(|ch| ch.is_ascii_hexdigit()) => Ok(Some(c.to_ascii_uppercase())),
        Some(_) => Err(invalid(format!("{key} must be a hexadecimal colour in [000000, FFFFFF]."))),
    }
}

pub(super) fn new_template(params: &Map<String, Value>, id: i64) -> Result<Template, Response> {
    let name = text(params, "templateName").ok_or_else(|| invalid("templateName is required."))?;
    // The documents allow A-Z, a-z, 0-9, () and space; their own example uses "_", which is accepted too.
    if name.len() > 100 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "() _".contains(c)) {
        return Err(invalid("templateName accepts A-Z, a-z, 0-9, () and space."));
    }
    let format = text(params, "templateOutputFormat").map(|f| f.to_ascii_uppercase());
    let format = match format.as_deref() {
        Some(f @ ("JPG" | "JPEG" | "TIF" | "TIFF" | "PNG" | "PSD")) => f.to_string(),
        _ => return Err(invalid("templateOutputFormat accepts JPG, JPEG, TIF, TIFF, PNG, PSD.")),
    };
    let delivery = int(params, "deliveryTimeInHour", |n| matches!(n, 24 | 72 | 168))?
        .ok_or_else(|| invalid("deliveryTimeInHour accepts 168, 72, 24."))?;
    let background = int(params, "backgroundType", |n| (0..=3).contains(&n))?
        .ok_or_else(|| invalid("backgroundType accepts 0, 1, 2, 3."))?;
    let background_color = hex_color(params, "backgroundColor")?;
    let gradient_color = hex_color(params, "backgroundVerticalGradientColor")?;
    match background {
        1 if background_color.is_none() => return Err(invalid("backgroundColor is required for backgroundType 1.")),
        2 if matches!(format.as_str(), "JPG" | "JPEG") => {
            return Err(invalid("A transparent background cannot be saved as JPG/JPEG."));
        }
        3 if background_color.is_none() || gradient_color.is_none() => {
            return Err(invalid(
                "backgroundColor and backgroundVerticalGradientColor are required for backgroundType 3.",
            ));
        }
        _ => {}
    }
    let size = |key: &str| int(params, key, |n| n > 0);
    let margin = |key: &str| Ok::<_, Response>(int(params, key, |n| n >= 0)?.unwrap_or(0));
    let shadow = int(params, "shadowType", |n| (0..=2).contains(&n))?.unwrap_or(0);
    let today = Utc::now().date_naive();
    let price_cents = 95
        + if background >= 2 { 30 } else { 0 }
        + if shadow == 2 { 25 } else { 0 }
        + if delivery == 24 { 50 } else { 0 };
    Ok(Template {
        id,
        name,
        output_format: format,
        delivery_hours: delivery,
        background_type: background,
        background_color,
        gradient_color,
        resize_type: int(params, "resizeType", |n| (0..=3).contains(&n))?.unwrap_or(0),
        resize_unit: int(params, "resizeUnit", |n| (0..=2).contains(&n))?.unwrap_or(0),
        resize_height: size("resizeHeight")?,
        resize_width: size("resizeWidth")?,
        resize_min: size("resizeMinSize")?,
        resize_max: size("resizeMaxSize")?,
        margin_type: int(params, "marginType", |n| (0..=2).contains(&n))?.unwrap_or(0),
        margins: [margin("marginTop")?, margin("marginBottom")?, margin("marginLeft")?, margin("marginRight")?],
        vertical_alignment: int(params, "marginVerticalAlignment", |n| (1..=3).contains(&n))?.unwrap_or(2),
        shadow_type: shadow,
        kept_mannequin: flag(params, "isKeptMannequin")?.unwrap_or(false),
        kept_model: flag(params, "isKeptModel")?.unwrap_or(false),
        price_cents,
        created: today,
        modified: today,
        color: Some(ColorSettings::default()),
        label_id: 10,
        callback_url: None,
    })
}

pub(super) async fn create_template(State(state): State<Arc<SandboxState>>, body: Bytes) -> Reply {
    let params = body_map(&body)?;
    with_account(&state, &params, bad_credentials, |store, index| {
        let template = new_template(&params, store.next_template_id)?;
        store.next_template_id += 1;
        let body =
            json!({ "Message": "Success", "TemplateId": template.id, "Price": price_json(template.price_cents) });
        store.accounts[index].templates.push(template);
        answer(body)
    })
}
