//! The `sandbox` section: how the in-process simulator runs when no upstream is configured.
//! Its defaults are the simulator's own.

use super::settings::Given;

/// Strict: only what the upstream documents show.
pub const DEFAULT_EXTRAS: bool = false;

/// How the in-process sandbox runs, when no upstream is configured.
#[derive(Clone, Debug)]
pub struct SandboxChoice {
    /// None: the simulator's own default.
    pub step_ms: Option<u64>,
    pub extras: bool,
}

impl SandboxChoice {
    pub(super) fn given(given: &Given) -> Self {
        Self { step_ms: given.sandbox_step_ms(), extras: given.sandbox_extras().unwrap_or(DEFAULT_EXTRAS) }
    }
}
