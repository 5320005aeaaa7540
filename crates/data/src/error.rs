use std::path::PathBuf;

/// Errors of datasets, transforms and loaders. File errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error raised by candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Reading a file failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A data file exists but its content is not what its format says.
    #[error("corrupt data file {}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The dataset's files are nowhere to be found and may not be downloaded.
    #[error("{0}")]
    NotFound(String),
    /// A download failed on every mirror.
    #[error("{0}")]
    Download(String),
    /// An invalid argument of a transform, sampler or loader, named by `field`.
    #[error("{message}")]
    Config {
        /// The offending argument.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A transform got an input it cannot handle.
    #[error("{0}")]
    Transform(String),
    /// A text data file (CSV) has a bad value or row; `location` is `file:line` or
    /// `file:line:column` (1-based).
    #[error("{location}: {message}")]
    Parse {
        /// `file:line[:column]`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// An index past the end of a dataset.
    #[error("index {index} is out of range for a dataset of {len} samples")]
    Index {
        /// The index asked for.
        index: usize,
        /// The dataset's length.
        len: usize,
    },
    /// Samples that cannot be collated into one batch (different shapes or kinds).
    #[error("{0}")]
    Collate(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn check_index(index: usize, len: usize) -> Result<()> {
        if index < len {
            Ok(())
        } else {
            Err(Self::Index { index, len })
        }
    }
    pub(crate) fn config(field: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            field,
            message: message.into(),
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
