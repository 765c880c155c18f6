//! One integration-test binary, so the suite links once.

mod browser_pages;
mod cli;
mod conformance;
mod documented_keys;
mod documented_parameters;
mod fleet;
mod gateway;
mod instances;
mod limits;
mod live;
mod mutations;
mod observability;
mod persisted;
mod reliability;
mod same_answer;
mod sandbox_faults;
mod sandbox_pixelz;
mod sandbox_pixieset;
mod sandbox_processing;
mod schema;
mod secrets;
mod soak;
mod support;
mod traffic;
mod upstream;
mod websocket;
