//! pixgate: one GraphQL endpoint over Pixieset Studio and Pixelz.
//!
//! Layers, each talking only to the ones below it: `startup` (assembly) →
//! `server` (routes and transports) → `graphql` (types and resolvers) → `loaders`
//! (one request's data access) → `cache` and `upstream` (one typed client per API).
//! `session` resolves who is calling, once, under `auth`'s policy; `config` holds
//! the settings every layer reads. The simulator of both APIs is a crate of its own
//! (`sandbox/`), which `startup` runs when no upstream is configured.
//! `doctor` checks a configuration against the world before `serve` meets it.
//! `docs/ARCHITECTURE.md` maps every concern to its module.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod client_images;
pub mod config;
pub mod doctor;
pub mod error_code;
pub mod events;
pub mod graphql;
pub mod idempotency;
pub mod loaders;
pub mod lock;
pub mod money;
pub mod redis_link;
pub mod request_id;
pub mod scope;
pub mod secret;
pub mod server;
pub mod session;
pub mod startup;
pub mod telemetry;
pub mod upstream;
