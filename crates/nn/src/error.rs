/// Errors building or running layers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error raised by candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An error of the tensor layer.
    #[error(transparent)]
    Tensor(#[from] wick_tensor::Error),
    /// A layer argument is invalid, or disagrees with the inferred input shape.
    /// `field` names the argument when one is to blame.
    #[error("{message}")]
    Config {
        /// The offending argument (`"in_features"`), if any.
        field: Option<&'static str>,
        /// What is wrong.
        message: String,
    },
    /// An error in layer `index` of a [`crate::Sequential`].
    #[error("layer {index} ({ty}): {source}")]
    Layer {
        /// The layer's position in the model.
        index: usize,
        /// Its PyTorch class name.
        ty: &'static str,
        /// The underlying error.
        source: Box<Error>,
    },
}

impl Error {
    /// An invalid-argument error about `field`.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            field: Some(field),
            message: message.into(),
        }
    }

    /// An error about the layer as a whole (usually its input shape).
    pub fn shape(message: impl Into<String>) -> Self {
        Self::Config {
            field: None,
            message: message.into(),
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
