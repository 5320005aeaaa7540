//! A sweep on disk: `runs/<name>/sweep-<timestamp>/` holds `sweep.json` (the trials and
//! their overrides), `experiment.toml` (the experiment every trial starts from, base
//! files and `--set` already merged, so a resume does not depend on the file having
//! stayed the same) and one normal run directory per trial.

use super::SweepError;
use crate::monitor::Mode;
use crate::overrides::Override;
use crate::rundir;
use crate::schema::Experiment;
use crate::sweep_config::{Configuration, SweepConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The plan's file in the sweep directory.
pub const PLAN_FILE: &str = "sweep.json";
/// The experiment every trial starts from.
pub const EXPERIMENT_FILE: &str = "experiment.toml";

/// One trial: a configuration with one seed, a run directory of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Its run directory's name in the sweep directory (`003-lr=0.01,type=Adam`).
    pub name: String,
    /// Which configuration (trials of one configuration differ by seed only).
    pub config: usize,
    /// The `--set` overrides of the configuration, `key=value`.
    pub overrides: Vec<String>,
    /// The trial's seed.
    pub seed: u64,
}

impl Trial {
    /// The overrides `wick run` gets: the configuration's, and the seed.
    pub fn run_overrides(&self) -> Vec<String> {
        let mut o = self.overrides.clone();
        o.push(format!("seed={}", self.seed));
        o
    }
}

/// What `sweep.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The experiment file the sweep was started from.
    pub experiment: String,
    /// The swept keys, in the order of the trials' overrides.
    pub keys: Vec<String>,
    /// The metric trials are ranked by (`train.checkpoint.monitor`'s, as `best`).
    pub monitor: String,
    /// Whether larger or smaller is better.
    pub mode: Mode,
    /// Seeds per configuration.
    pub seeds: usize,
    /// Whether hopeless trials stop early (the median rule).
    #[serde(default)]
    pub prune: bool,
    /// Every trial, in the order they run.
    pub trials: Vec<Trial>,
}

impl Plan {
    /// The trials of `sweep` over `exp` (read from `file`).
    pub fn new(file: &Path, exp: &Experiment, sweep: &SweepConfig) -> Self {
        let configs = sweep.configurations(exp.seed);
        let monitor = exp.best_metric();
        let mode = exp
            .train
            .checkpoint
            .mode
            .unwrap_or_else(|| Mode::for_metric(&monitor));
        let mut trials = Vec::new();
        for (c, config) in configs.iter().enumerate() {
            for s in 0..sweep.seeds {
                let seed = exp.seed + s as u64;
                let n = trials.len() + 1;
                trials.push(Trial {
                    name: trial_name(n, config, (sweep.seeds > 1).then_some(seed)),
                    config: c,
                    overrides: config.iter().map(Override::to_string).collect(),
                    seed,
                });
            }
        }
        Self {
            experiment: file.display().to_string(),
            keys: sweep.parameters.iter().map(|(k, _)| k.clone()).collect(),
            monitor,
            mode,
            seeds: sweep.seeds,
            prune: sweep.prune,
            trials,
        }
    }

    /// Creates `runs_dir/<name>/sweep-<timestamp>/` with the plan and the experiment.
    pub fn create(&self, exp: &Experiment, runs_dir: &Path) -> Result<PathBuf, SweepError> {
        let dir = rundir::new_stamped_dir(&runs_dir.join(&exp.name), "sweep-")
            .map_err(|e| SweepError::io(&runs_dir.join(&exp.name), e))?;
        rundir::write_atomic(&dir, EXPERIMENT_FILE, exp.to_toml().as_bytes())
            .map_err(|e| SweepError::io(&dir.join(EXPERIMENT_FILE), e))?;
        let json = serde_json::to_string_pretty(self).unwrap_or_default();
        rundir::write_atomic(&dir, PLAN_FILE, json.as_bytes())
            .map_err(|e| SweepError::io(&dir.join(PLAN_FILE), e))?;
        Ok(dir)
    }

    /// Reads the plan of the sweep directory `dir`.
    pub fn load(dir: &Path) -> Result<Self, SweepError> {
        let path = dir.join(PLAN_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| SweepError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| SweepError::Plan {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

/// `003-lr=0.01,type=Adam,seed=1`: the number, then each override by its last key
/// (the whole path where two keys end alike), as TensorBoard and `ls` show the runs.
fn trial_name(n: usize, config: &Configuration, seed: Option<u64>) -> String {
    let last = |o: &Override| {
        o.path
            .to_string()
            .rsplit('.')
            .next()
            .unwrap_or("")
            .to_string()
    };
    let short: Vec<String> = config.iter().map(last).collect();
    let mut parts: Vec<String> = config
        .iter()
        .zip(&short)
        .map(|(o, s)| {
            let key = if short.iter().filter(|x| *x == s).count() > 1 {
                o.path.to_string()
            } else {
                s.clone()
            };
            format!("{key}={}", o.value)
        })
        .collect();
    if let Some(s) = seed {
        parts.push(format!("seed={s}"));
    }
    let name: String = format!("{n:03}-{}", parts.join(","))
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    // file names stay under common limits
    name.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_names_use_the_last_key_unless_ambiguous() {
        let c: Configuration = vec![
            "optimizer.lr=0.01".parse().unwrap(),
            "optimizer.type=Adam".parse().unwrap(),
        ];
        assert_eq!(trial_name(3, &c, Some(1)), "003-lr=0.01,type=Adam,seed=1");
        let c: Configuration = vec![
            "optimizer.type=Adam".parse().unwrap(),
            "scheduler.type=StepLR".parse().unwrap(),
            "data.root=/tmp/x".parse().unwrap(),
        ];
        assert_eq!(
            trial_name(12, &c, None),
            "012-optimizer.type=Adam,scheduler.type=StepLR,root=_tmp_x"
        );
    }
}
