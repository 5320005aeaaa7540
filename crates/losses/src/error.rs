/// Errors of loss functions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error raised by candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An invalid constructor argument, named by `field`.
    #[error("{message}")]
    Config {
        /// The offending argument.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Input and target do not fit each other.
    #[error("{0}")]
    Shape(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
