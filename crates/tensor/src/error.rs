/// Errors of the tensor layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error raised by candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// A device string that is not `auto`, `cpu`, `cuda` or `cuda:N`.
    #[error("invalid device {0:?} (expected \"auto\", \"cpu\", \"cuda\" or \"cuda:N\")")]
    InvalidDevice(String),
    /// CUDA asked for, but this build has no CUDA support or no GPU is present.
    #[error("{0}")]
    CudaUnavailable(String),
    /// An invalid argument of an initialization scheme (`torch.nn.init`).
    #[error("{0}")]
    Init(String),
    /// A file that cannot be read as what it should be (a `.pth` that is not a PyTorch
    /// archive, a pickle asking for code, a truncated tensor), named.
    #[error("{path}: {msg}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A parameter whose layer holds a plain candle `Var`, asked to freeze.
    #[error(
        "`{0}` cannot be frozen: its layer holds a plain candle Var (hold a \
         wick_tensor::Parameter and hand it out with Param::of to make it freezable)"
    )]
    NotFreezable(String),
    /// A gradient check failed.
    #[error("gradcheck failed: {0}")]
    GradCheck(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
