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
    /// Input and target do not fit each other (shapes, ranges, class indices).
    #[error("{0}")]
    Shape(String),
    /// A loss was called with the wrong number of input tensors, or with a target it
    /// does not take (see [`Loss::input_names`](crate::Loss::input_names)).
    #[error(
        "{loss} takes {} input{} ({}){}, but was given {got} input{}{}",
        inputs.len(),
        if inputs.len() == 1 { "" } else { "s" },
        inputs.join(", "),
        if *takes_target { " and a target" } else { " and no target" },
        if *got == 1 { "" } else { "s" },
        hint
    )]
    Arity {
        /// The PyTorch class name.
        loss: &'static str,
        /// The names of the inputs it takes, in PyTorch's argument order.
        inputs: &'static [&'static str],
        /// Whether it takes a target.
        takes_target: bool,
        /// How many inputs it was given.
        got: usize,
        /// What to call instead (may be empty).
        hint: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
