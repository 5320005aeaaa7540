//! `[log]`: what a run writes for tools beside its own files.
//!
//! ```toml
//! [log]
//! tensorboard = false   # no TensorBoard event files in the run directory
//! ```

use serde::{Deserialize, Serialize};

/// `[log]` (see the module doc). Left out of the resolved `config.toml` while it holds
/// the defaults, so that the configs of runs made before it existed still match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// TensorBoard event files in the run directory (default `true`): `tensorboard
    /// --logdir runs` then shows the run.
    #[serde(default = "yes")]
    pub tensorboard: bool,
}

fn yes() -> bool {
    true
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { tensorboard: true }
    }
}

impl LogConfig {
    /// Whether every key has its default (the table is then not written).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}
