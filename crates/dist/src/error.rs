/// What a collective or the setup of a process group can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation around a collective (flattening, a dtype) failed.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
    /// The launcher's environment or the engine's start-up is wrong; the message says
    /// what to set.
    #[error("{0}")]
    Setup(String),
    /// A collective failed.
    #[error("{0}")]
    Comm(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
