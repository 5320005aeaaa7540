//! A split's parquet files on this machine: from the hub cache, else downloaded with
//! `hf-hub` (into the cache), the way `candle-datasets` gets them.
//!
//! `candle-datasets` 0.11 (`hub::from_hub`) lists the repository on the hub (an API
//! call, even when every file is cached), then takes each `.parquet` file from the
//! cache or downloads it: every configuration and split, and nothing without the
//! network. Here the listing comes from the hub when it can be reached and from the
//! cached snapshot when it cannot (or `HF_HUB_OFFLINE=1`), only the split's files are
//! fetched, and `data_files` names need no listing at all.

use super::hub_cache::{self, CachedSnapshot};
use super::hub_files;
use super::HuggingFaceConfig;
use crate::{Error, Result};
use hf_hub::{HFClient, HFClientSync, HFError, HFRepositorySync, RepoTypeDataset};
use std::path::{Path, PathBuf};

/// The parquet files of hub split `split`: each one's name in the repository and its
/// path in the cache, in order.
///
/// # Errors
/// [`Error::NotFound`] naming the repository, revision and cache folder when the
/// files are neither cached nor downloadable; [`Error::Download`] for a failed
/// download or listing; the errors of [`hub_files::split_files`].
pub(crate) fn split_files(cfg: &HuggingFaceConfig, split: &str) -> Result<Vec<(String, PathBuf)>> {
    let cache = cfg.cache_dir();
    let offline = hub_cache::offline();
    let hub = Hub::new(cfg, &cache, offline)?;
    let wanted = cfg.data_files_of(split)?;
    let names = match wanted {
        Some(w) if !w.iter().any(|p| hub_files::is_pattern(p)) => w,
        Some(w) => hub_files::expand(&w, &hub.listing()?, &cfg.path)?,
        None => hub_files::split_files(
            &hub.listing()?,
            &cfg.path,
            &cfg.revision,
            cfg.name.as_deref(),
            split,
        )?,
    };
    names
        .into_iter()
        .map(|n| {
            let p = hub.get(&n)?;
            Ok((n, p))
        })
        .collect()
}

/// One repository at one revision, through the cache and (unless offline) the hub.
struct Hub<'a> {
    cfg: &'a HuggingFaceConfig,
    cache: &'a Path,
    offline: bool,
    repo: HFRepositorySync<RepoTypeDataset>,
}

impl<'a> Hub<'a> {
    fn new(cfg: &'a HuggingFaceConfig, cache: &'a Path, offline: bool) -> Result<Self> {
        let client = HFClient::builder()
            .cache_dir(cache)
            .build()
            .and_then(HFClientSync::from_inner)
            .map_err(|e| Error::Download(format!("cannot start the hub client: {e}")))?;
        let (owner, name) = hf_hub::split_id(&cfg.path);
        Ok(Self {
            cfg,
            cache,
            offline,
            repo: client.dataset(owner, name),
        })
    }

    /// `owner/name at revision R`.
    fn what(&self) -> String {
        format!("{} at revision {}", self.cfg.path, self.cfg.revision)
    }

    /// The error for what is in neither the cache nor the hub.
    fn not_cached(&self, what: &str, why: &str) -> Error {
        Error::NotFound(format!(
            "{what} of the Hugging Face dataset {} is not in the hub cache {} ({}), and {why}. \
             Run once with the network, or fill the cache: \
             huggingface-cli download {} --repo-type dataset --revision {}",
            self.what(),
            self.cache.display(),
            hub_cache::repo_folder(&self.cfg.path),
            self.cfg.path,
            self.cfg.revision
        ))
    }

    fn cached(&self) -> Option<CachedSnapshot> {
        hub_cache::cached_snapshot(self.cache, &self.cfg.path, &self.cfg.revision)
    }

    /// Every file of the repository at the revision.
    fn listing(&self) -> Result<Vec<String>> {
        if self.offline {
            return self
                .cached()
                .map(|s| s.files)
                .ok_or_else(|| self.not_cached("the file list", "HF_HUB_OFFLINE is set"));
        }
        match self.repo.info().revision(self.cfg.revision.clone()).send() {
            Ok(info) => Ok(info
                .siblings
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.rfilename)
                .collect()),
            Err(e @ HFError::Request { .. }) => {
                match self.cached() {
                    Some(s) => {
                        tracing::warn!(
                            "the hub cannot be reached ({e}); using the cached files of {}",
                            self.what()
                        );
                        Ok(s.files)
                    }
                    None => Err(self
                        .not_cached("the file list", &format!("the hub cannot be reached: {e}"))),
                }
            }
            Err(e) => Err(Error::Download(format!(
                "cannot list the files of the Hugging Face dataset {}: {e}",
                self.what()
            ))),
        }
    }

    /// The cached copy of file `name`, downloaded first when it is not cached.
    fn get(&self, name: &str) -> Result<PathBuf> {
        let download = self
            .repo
            .download_file()
            .filename(name)
            .revision(self.cfg.revision.clone());
        let failed = |e: HFError| {
            Error::Download(format!(
                "cannot download {name} of the Hugging Face dataset {}: {e}",
                self.what()
            ))
        };
        match download.clone().local_files_only(true).send() {
            Ok(p) => Ok(p),
            Err(HFError::LocalEntryNotFound { .. }) if self.offline => {
                Err(self.not_cached(name, "HF_HUB_OFFLINE is set"))
            }
            Err(HFError::LocalEntryNotFound { .. }) => {
                tracing::info!("downloading {name} of {}", self.what());
                download.send().map_err(|e| match e {
                    HFError::Request { .. } => {
                        self.not_cached(name, &format!("the hub cannot be reached: {e}"))
                    }
                    e => failed(e),
                })
            }
            Err(e) => Err(failed(e)),
        }
    }
}
