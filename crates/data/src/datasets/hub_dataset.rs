use super::parquet_table::{self, Inputs, Labels, Table};
use super::{hub_fetch, HuggingFaceConfig};
use crate::{Array, Dataset, Error, Image, Input, Result, Sample, Split, Target};
use std::path::PathBuf;

/// A split of a Hugging Face hub dataset, read from its parquet files: what
/// `datasets.load_dataset(path, name, split=..., revision=...)` gives, as samples of
/// wick's transforms and loaders.
///
/// # Files
/// The split's files are the repository's parquet files of the configuration and
/// split (see [`HuggingFaceConfig`]; by default the hub's parquet branch
/// `refs/convert/parquet`, `<config>/<split>/NNNN.parquet`), or the `data_files`.
/// They are taken from the hub cache (`cache_dir`, `HF_HUB_CACHE`, `$HF_HOME/hub`,
/// `~/.cache/huggingface/hub`: the cache `huggingface_hub` and `hf-hub` share), and
/// downloaded into it when missing.
///
/// Listing a repository's files needs the hub. Without it (`HF_HUB_OFFLINE=1`, or the
/// hub cannot be reached) the files are listed from the cached snapshot of the
/// revision, so a filled cache is enough; `data_files` names need no listing at all.
///
/// # Samples
/// - Images (no `feature_columns`): the `image_column` cells, structs `{bytes, path}`
///   as `datasets.Image` stores them (or plain bytes), are kept encoded and decoded
///   by content (PNG, JPEG, GIF, BMP, WebP) when a sample is read. Gray images stay
///   one channel (MNIST gives `[1, 28, 28]` after `ToTensor`, as PIL's mode `L`);
///   the others become 8-bit RGB, alpha dropped (a 2-channel gray+alpha image gives
///   one channel).
/// - Tabular (`feature_columns`): the numbers (or lists of numbers) of those columns,
///   in order, as one float vector `[n]`.
/// - Targets from `label_column`: integers are class indices (named by the
///   `ClassLabel` names in the files' metadata), strings are classes (sorted by name,
///   as `ImageFolder`'s), floats are values `[1]`.
pub struct HuggingFace {
    repo: String,
    split: String,
    table: Table,
}

impl HuggingFace {
    /// Finds, fetches and reads wick split `split` of the dataset `cfg` describes.
    ///
    /// # Errors
    /// See [`HuggingFaceConfig::build`].
    pub fn load(cfg: &HuggingFaceConfig, split: Split) -> Result<Self> {
        cfg.validate()?;
        let hub_split = cfg.hub_split(split);
        let files = hub_fetch::split_files(cfg, &hub_split)?;
        Self::from_files(cfg, &hub_split, &files)
    }

    /// Reads split `hub_split` from parquet files already on this machine: each
    /// file's name (for messages) and path. `cfg` gives the columns.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for a file that is not parquet, a missing column, or a value
    /// of the wrong kind, naming the file and row.
    pub fn from_files(
        cfg: &HuggingFaceConfig,
        hub_split: &str,
        files: &[(String, PathBuf)],
    ) -> Result<Self> {
        let table = parquet_table::read(files, cfg)?;
        let len = match &table.labels {
            Labels::Classes(c) => c.len(),
            Labels::Values(v) => v.len(),
        };
        tracing::info!(
            "{} split {hub_split}: {len} rows from {} file(s)",
            cfg.path,
            files.len()
        );
        Ok(Self {
            repo: cfg.path.clone(),
            split: hub_split.to_string(),
            table,
        })
    }

    /// The repository, `owner/name`.
    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// The hub split read (`"train"`, `"validation"`, …).
    pub fn hub_split(&self) -> &str {
        &self.split
    }

    /// The split's files, by their names in the repository.
    pub fn files(&self) -> Vec<&str> {
        self.table.starts.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Decodes encoded image bytes by content: gray stays one channel, other
    /// images become 8-bit RGB (alpha dropped).
    ///
    /// # Errors
    /// The decoder's message when the bytes are not an image it reads.
    pub fn decode(bytes: &[u8]) -> std::result::Result<Image, String> {
        crate::image_decode::gray_or_rgb(bytes)
    }
}

impl Dataset for HuggingFace {
    fn len(&self) -> usize {
        match &self.table.labels {
            Labels::Classes(c) => c.len(),
            Labels::Values(v) => v.len(),
        }
    }

    fn get(&self, index: usize) -> Result<Sample> {
        Error::check_index(index, self.len())?;
        let input = match &self.table.inputs {
            Inputs::Images(images) => Input::Image(Self::decode(&images[index]).map_err(|e| {
                let (file, row) = parquet_table::locate(&self.table.starts, index);
                Error::Corrupt {
                    path: PathBuf::from(format!("{}/{file}", self.repo)),
                    message: format!("row {row}: cannot decode the image: {e}"),
                }
            })?),
            Inputs::Features { width, data } => Input::Array(Array {
                shape: vec![*width],
                data: data[index * width..(index + 1) * width].to_vec(),
            }),
        };
        let target = match &self.table.labels {
            Labels::Classes(c) => Target::Class(c[index]),
            Labels::Values(v) => Target::scalar(v[index]),
        };
        Ok(Sample::new(input, target))
    }

    fn classes(&self) -> Vec<String> {
        self.table.classes.clone()
    }
}
