use super::hub_cache::{self, PARQUET_REVISION};
use crate::{Dataset, Error, Result, Split};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The hub split each of wick's splits reads: `split = "validation"` (one split,
/// for a split's own `dataset`) or `split = { train = "train", test = "validation" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HubSplit {
    /// This hub split, whichever split the dataset is built for.
    Name(String),
    /// The hub split of the training and of the test split.
    Map(SplitNames),
}

/// `{ train = "...", test = "..." }`: a hub split for each of wick's splits (the
/// default of each: its own name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitNames {
    /// The hub split of `train` (default `"train"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<String>,
    /// The hub split of `test` (default `"test"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
}

/// One file name or pattern, or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The names, as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// `data_files` of `datasets.load_dataset`: files (or glob patterns) of the
/// repository, relative to its root. A name or a list makes one split, `train`; a
/// table names the splits: `{ train = "data/train-*.parquet", test = [...] }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DataFiles {
    /// The files of split `train`.
    Train(OneOrMany),
    /// The files of each split.
    Splits(BTreeMap<String, OneOrMany>),
}

fn parquet_revision() -> String {
    PARQUET_REVISION.into()
}
fn image() -> String {
    "image".into()
}
fn label() -> String {
    "label".into()
}

/// Arguments of `datasets.load_dataset(path, name, split, revision, data_files,
/// cache_dir)` for a dataset of the Hugging Face hub in parquet files, plus the
/// columns that make samples (`image_column`, `label_column`, `feature_columns`).
///
/// Building it needs wick built with `--features hub`; see
/// the `HuggingFace` dataset (with the feature) for what it reads and how it finds
/// the files without the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuggingFaceConfig {
    /// The dataset repository, `owner/name` (`"ylecun/mnist"`; required).
    pub path: String,
    /// The configuration (subset), e.g. `"mnist"` (default: the only one, else
    /// `"default"`). On the parquet branch it is the first folder of the files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The hub split of each of wick's splits (default: `train` reads `"train"`,
    /// `test` reads `"test"`); see [`HubSplit`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<HubSplit>,
    /// The branch, tag or commit (default `"refs/convert/parquet"`: the parquet copy
    /// the hub keeps of every public dataset, which `candle-datasets` reads too).
    #[serde(default = "parquet_revision")]
    pub revision: String,
    /// Files or patterns (`*`, `**`) relative to the repository root, instead of
    /// finding the split's files; see [`DataFiles`]. Names without a pattern need no
    /// listing of the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_files: Option<DataFiles>,
    /// The hub cache folder (default: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `~/.cache/huggingface/hub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// The column of the images, each a struct `{bytes, path}` as `datasets.Image`
    /// stores them, or plain bytes (default `"image"`). Unused with
    /// `feature_columns`.
    #[serde(default = "image")]
    pub image_column: String,
    /// The column of the targets (default `"label"`): integers or `ClassLabel`
    /// (class indices), floats (values), strings (classes, sorted) or booleans.
    #[serde(default = "label")]
    pub label_column: String,
    /// Numeric columns (numbers or lists of numbers) that make each sample a float
    /// vector, for tabular datasets (default: none, samples are images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_columns: Option<Vec<String>>,
}

impl HuggingFaceConfig {
    /// A config for repository `path` with the defaults.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            name: None,
            split: None,
            revision: parquet_revision(),
            data_files: None,
            cache_dir: None,
            image_column: image(),
            label_column: label(),
            feature_columns: None,
        }
    }

    /// The hub split that wick's `split` reads.
    pub fn hub_split(&self, split: Split) -> String {
        let own = match split {
            Split::Train => "train",
            Split::Test => "test",
        };
        match &self.split {
            None => own.into(),
            Some(HubSplit::Name(n)) => n.clone(),
            Some(HubSplit::Map(m)) => match split {
                Split::Train => m.train.clone(),
                Split::Test => m.test.clone(),
            }
            .unwrap_or_else(|| own.into()),
        }
    }

    /// The hub cache folder: `cache_dir` (`~` expanded) or the default
    /// ([`hub_cache::default_cache_dir`]).
    pub fn cache_dir(&self) -> PathBuf {
        match &self.cache_dir {
            Some(d) => crate::data_root(Some(d)),
            None => hub_cache::default_cache_dir(),
        }
    }

    /// Whether samples are images (no `feature_columns`).
    pub fn images(&self) -> bool {
        self.feature_columns.is_none()
    }

    /// Checks the arguments that can be checked without files.
    ///
    /// # Errors
    /// [`Error::Config`] naming the argument.
    pub fn validate(&self) -> Result<()> {
        let parts: Vec<&str> = self.path.split('/').collect();
        if parts.len() > 2
            || parts
                .iter()
                .any(|p| p.is_empty() || *p == "." || *p == "..")
        {
            return Err(Error::config(
                "path",
                format!(
                    "path = {:?} is not a hub dataset repository (expected \"owner/name\", e.g. \"ylecun/mnist\")",
                    self.path
                ),
            ));
        }
        if self.revision.is_empty() {
            return Err(Error::config("revision", "revision is empty"));
        }
        if let Some(HubSplit::Name(s)) | Some(HubSplit::Map(SplitNames { train: Some(s), .. })) =
            &self.split
        {
            check_split(s)?;
        }
        if let Some(HubSplit::Map(SplitNames { test: Some(s), .. })) = &self.split {
            check_split(s)?;
        }
        if self.data_files.is_some() && self.name.is_some() {
            return Err(Error::config(
                "data_files",
                "give either `name` (a configuration) or `data_files` (its files), not both",
            ));
        }
        if self.label_column.is_empty() {
            return Err(Error::config("label_column", "label_column is empty"));
        }
        if let Some(f) = &self.feature_columns {
            if f.is_empty() {
                return Err(Error::config(
                    "feature_columns",
                    "feature_columns is empty (leave it out for images)",
                ));
            }
            if f.contains(&self.label_column) {
                return Err(Error::config(
                    "feature_columns",
                    format!(
                        "the label column {:?} is among the feature_columns",
                        self.label_column
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The `data_files` entries of hub split `split`, when `data_files` is given.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `data_files` has no such split.
    pub fn data_files_of(&self, split: &str) -> Result<Option<Vec<String>>> {
        let Some(df) = &self.data_files else {
            return Ok(None);
        };
        let found = match df {
            DataFiles::Train(f) => (split == "train").then(|| f.to_vec()),
            DataFiles::Splits(m) => m.get(split).map(OneOrMany::to_vec),
        };
        let names: Vec<&str> = match df {
            DataFiles::Train(_) => vec!["train"],
            DataFiles::Splits(m) => m.keys().map(String::as_str).collect(),
        };
        found.map(Some).ok_or_else(|| {
            Error::NotFound(format!(
                "data_files of {} has no split {split:?}; its splits: {}",
                self.path,
                names.join(", ")
            ))
        })
    }

    /// Builds the dataset of `split`: finds its parquet files (in the hub cache, else
    /// on the hub) and reads them (see the `HuggingFace` dataset of the `hub` feature).
    ///
    /// # Errors
    /// Without the `hub` feature, [`Error::Config`] saying so. Else invalid
    /// arguments, files neither cached nor downloadable (the message names the
    /// repository, revision and cache folder), unreadable files or missing columns.
    pub fn build(&self, split: Split) -> Result<Arc<dyn Dataset>> {
        self.validate()?;
        #[cfg(feature = "hub")]
        {
            Ok(Arc::new(super::HuggingFace::load(self, split)?))
        }
        #[cfg(not(feature = "hub"))]
        {
            let _ = split;
            Err(Error::config(
                "type",
                format!(
                    "dataset HuggingFace needs wick built with `--features hub` \
                     (cargo build --release --features hub) to read {}",
                    self.path
                ),
            ))
        }
    }
}

fn check_split(s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::config("split", "split is empty"));
    }
    if s.contains(['[', ']', '+']) {
        return Err(Error::config(
            "split",
            format!(
                "split = {s:?}: slices and sums of splits are not supported; take a Subset, \
                 or `holdout` a fraction for testing"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> HuggingFaceConfig {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn arguments_and_defaults() {
        let c = parse("path = \"ylecun/mnist\"");
        assert_eq!(c, HuggingFaceConfig::new("ylecun/mnist"));
        assert_eq!(c.revision, "refs/convert/parquet");
        assert_eq!(
            (c.image_column.as_str(), c.label_column.as_str()),
            ("image", "label")
        );
        assert_eq!(c.hub_split(Split::Train), "train");
        assert_eq!(c.hub_split(Split::Test), "test");
        assert!(c.images());
        let c = parse("path = \"beans\"\nsplit = { test = \"validation\" }");
        assert_eq!(c.hub_split(Split::Train), "train");
        assert_eq!(c.hub_split(Split::Test), "validation");
        let c = parse("path = \"beans\"\nsplit = \"validation\"");
        assert_eq!(c.hub_split(Split::Train), "validation");
        assert!(
            toml::from_str::<HuggingFaceConfig>("path = \"a\"\nsplit = { val = \"x\" }").is_err()
        );
        assert!(toml::from_str::<HuggingFaceConfig>("path = \"a\"\nlabels = \"x\"").is_err());
        // a resolved config writes back to what it was read from
        let c = parse(
            "path = \"o/n\"\ndata_files = { train = \"a/*.parquet\", test = [\"b.parquet\"] }",
        );
        let back: HuggingFaceConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn data_files_splits() {
        let c = parse("path = \"o/n\"\ndata_files = \"x.parquet\"");
        assert_eq!(
            c.data_files_of("train").unwrap(),
            Some(vec!["x.parquet".into()])
        );
        let e = c.data_files_of("test").unwrap_err().to_string();
        assert!(
            e.contains("data_files of o/n has no split \"test\"; its splits: train"),
            "{e}"
        );
        let c = parse("path = \"o/n\"\ndata_files = { train = [\"a\", \"b\"], test = \"c\" }");
        assert_eq!(c.data_files_of("test").unwrap(), Some(vec!["c".into()]));
        assert_eq!(c.data_files_of("train").unwrap().unwrap().len(), 2);
        assert_eq!(
            HuggingFaceConfig::new("o/n")
                .data_files_of("train")
                .unwrap(),
            None
        );
    }

    #[test]
    fn invalid_arguments() {
        let bad = |s: &str, field: &str, msg: &str| {
            let e = parse(s).validate().unwrap_err();
            let Error::Config { field: f, message } = &e else {
                panic!("{e}")
            };
            assert_eq!(*f, field);
            assert!(message.contains(msg), "{message}");
        };
        bad("path = \"a/b/c\"", "path", "not a hub dataset repository");
        bad("path = \"../x\"", "path", "not a hub dataset repository");
        bad("path = \"\"", "path", "not a hub dataset repository");
        bad("path = \"a\"\nsplit = \"train[:10%]\"", "split", "slices");
        bad("path = \"a\"\nsplit = { test = \"\" }", "split", "empty");
        bad(
            "path = \"a\"\nname = \"c\"\ndata_files = \"x\"",
            "data_files",
            "not both",
        );
        bad(
            "path = \"a\"\nfeature_columns = []",
            "feature_columns",
            "empty",
        );
        bad(
            "path = \"a\"\nfeature_columns = [\"x\", \"label\"]",
            "feature_columns",
            "label column \"label\"",
        );
        assert!(parse("path = \"mnist\"").validate().is_ok());
    }

    #[cfg(not(feature = "hub"))]
    #[test]
    fn needs_the_hub_feature() {
        let e = HuggingFaceConfig::new("ylecun/mnist")
            .build(Split::Train)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("dataset HuggingFace needs wick built with `--features hub`"),
            "{e}"
        );
        assert!(e.contains("ylecun/mnist"), "{e}");
    }
}
