/// Errors of optimizers, schedulers and gradient clipping.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error raised by candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An invalid constructor argument, named by `field`, with torch.optim's wording.
    #[error("{message}")]
    Config {
        /// The offending argument.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// `param_groups` that do not fit the parameters (a pattern matching nothing, a
    /// parameter in two groups).
    #[error("{0}")]
    Group(String),
    /// A saved optimizer or scheduler state that does not fit (unknown parameter name,
    /// wrong shape, missing entry).
    #[error("cannot load state: {0}")]
    State(String),
    /// A non-finite total gradient norm with `error_if_nonfinite = true`.
    #[error("{0}")]
    NonFinite(String),
    /// A parameter of a dtype the optimizers do not update (they take f32 and f64).
    #[error("optimizer: parameter `{name}` has dtype {dtype:?}; only f32 and f64 are supported")]
    DType {
        /// The parameter's name.
        name: String,
        /// Its dtype.
        dtype: candle_core::DType,
    },
}

impl Error {
    pub(crate) fn config(field: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            field,
            message: message.into(),
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
