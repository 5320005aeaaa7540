/// Errors of optimizers.
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
