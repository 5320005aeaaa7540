//! `wick compare RUN...`: what differs between runs and what it changed — the keys whose
//! values differ between the runs' resolved configs (`config.toml`), each run's best and
//! last value of the monitored metric and its last losses, and overlay plots (one line
//! per run) of every per-epoch number they share. A sweep directory stands for its
//! trials.

use crate::error::RunError;
use crate::monitor::Mode;
use crate::plots::{self, Series};
use crate::rundir;
use crate::sweep::results::{aligned, best_of};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One run, as compared.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The run directory.
    pub dir: PathBuf,
    /// Its short name: the last two folders (`fashion-mnist/20261203-101500`).
    pub name: String,
    /// Every leaf of its resolved config by key path (`optimizer.lr` → `0.01`).
    pub config: BTreeMap<String, String>,
    /// The `epoch` rows of its `metrics.csv`.
    pub epochs: Vec<BTreeMap<String, f64>>,
}

/// Runs side by side.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The runs, in the order given.
    pub runs: Vec<RunSummary>,
    /// The keys whose values differ (or that some runs lack), sorted.
    pub differing: Vec<String>,
    /// Of those, the arguments of a class some runs swapped for another (`optimizer.
    /// momentum` where `optimizer.type` differs): implied by the `type`, named in a
    /// line under the table instead of a column each.
    pub implied: Vec<String>,
    /// The metric runs are ranked by: the first run's `best` metric.
    pub monitor: String,
    /// Its direction.
    pub mode: Mode,
}

/// The run directories `args` stand for: a sweep directory (`sweep.json`) is its
/// trials that have started, any other directory itself.
pub fn expand(args: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for a in args {
        match crate::sweep::Plan::load(a) {
            Ok(plan) => out.extend(
                plan.trials
                    .iter()
                    .map(|t| a.join(&t.name))
                    .filter(|d| d.join("metrics.csv").exists()),
            ),
            Err(_) => out.push(a.clone()),
        }
    }
    out
}

/// `runs_dir/compare-<YYYYmmdd-HHMMSS>`: where `wick compare` draws by default.
pub fn default_dir(runs_dir: &Path) -> PathBuf {
    runs_dir.join(
        chrono::Local::now()
            .format("compare-%Y%m%d-%H%M%S")
            .to_string(),
    )
}

/// Reads the runs in `dirs`.
pub fn compare(dirs: &[PathBuf]) -> Result<Comparison, RunError> {
    if dirs.len() < 2 {
        return Err(RunError::RunDir(
            "give two run directories or more, or a sweep directory".into(),
        ));
    }
    let mut runs = Vec::new();
    let mut first = None;
    for d in dirs {
        let exp = rundir::load_run_config(d)?;
        first.get_or_insert_with(|| {
            let m = exp.best_metric();
            let mode = exp
                .train
                .checkpoint
                .mode
                .unwrap_or_else(|| Mode::for_metric(&m));
            (m, mode)
        });
        let table: toml::Table = toml::from_str(&exp.to_toml())
            .map_err(|e| RunError::RunDir(format!("{}: {e}", d.display())))?;
        let mut config = BTreeMap::new();
        flatten(&toml::Value::Table(table), "", &mut config);
        runs.push(RunSummary {
            dir: d.clone(),
            name: short_name(d),
            config,
            epochs: rundir::epoch_rows(d).map_err(|e| RunError::RunDir(e.to_string()))?,
        });
    }
    let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.config.keys()).collect();
    let differing: Vec<String> = keys
        .into_iter()
        .filter(|k| {
            let v = |r: &RunSummary| r.config.get(*k).cloned();
            runs.iter().any(|r| v(r) != v(&runs[0]))
        })
        .filter(|k| k.as_str() != "name")
        .cloned()
        .collect();
    let (monitor, mode) = first.unwrap_or_else(|| ("train_loss".into(), Mode::Min));
    let (implied, differing) = differing
        .into_iter()
        .partition(|k: &String| implied_by_type(&runs, k));
    Ok(Comparison {
        runs,
        differing,
        implied,
        monitor,
        mode,
    })
}

/// Whether some runs lack `key` and the `type` of its table differs between the runs.
fn implied_by_type(runs: &[RunSummary], key: &str) -> bool {
    let Some((table, _)) = key.rsplit_once('.') else {
        return false;
    };
    let ty = format!("{table}.type");
    let first = runs[0].config.get(&ty);
    runs.iter().any(|r| !r.config.contains_key(key))
        && first.is_some()
        && runs.iter().any(|r| r.config.get(&ty) != first)
}

/// Every leaf of `v` by key path; arrays of plain values are one leaf.
fn flatten(v: &toml::Value, at: &str, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                flatten(v, &path, out);
            }
        }
        toml::Value::Array(a) if a.iter().any(|x| x.is_table() || x.is_array()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(x, &format!("{at}[{i}]"), out);
            }
        }
        toml::Value::String(s) => {
            out.insert(at.to_string(), s.clone());
        }
        v => {
            out.insert(at.to_string(), v.to_string());
        }
    }
}

fn short_name(d: &Path) -> String {
    let parts: Vec<String> = d
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

impl Comparison {
    /// The monitored metric per epoch of run `i`.
    fn curve(&self, i: usize, metric: &str) -> Vec<f64> {
        self.runs[i]
            .epochs
            .iter()
            .map(|r| r.get(metric).copied().unwrap_or(f64::NAN))
            .collect()
    }

    /// The table: a row per run, the differing keys then the metrics.
    pub fn table(&self) -> String {
        let m = &self.monitor;
        let mut header = vec!["run".to_string()];
        header.extend(self.differing.iter().cloned());
        header.extend(["epochs".into(), format!("best {m}"), format!("last {m}")]);
        let loss = m != "train_loss";
        if loss {
            header.push("last train_loss".into());
        }
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        let rows: Vec<Vec<String>> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut row = vec![r.name.clone()];
                row.extend(
                    self.differing
                        .iter()
                        .map(|k| r.config.get(k).cloned().unwrap_or_else(|| "-".into())),
                );
                let curve = self.curve(i, m);
                let best = best_of(&curve, self.mode)
                    .map_or("-".into(), |(e, v)| format!("{v:.4} (epoch {e})"));
                let last = |k: &str| r.epochs.last().and_then(|e| e.get(k).copied());
                row.extend([r.epochs.len().to_string(), best, f(last(m))]);
                if loss {
                    row.push(f(last("train_loss")));
                }
                row
            })
            .collect();
        let mut out = aligned(&header, &rows);
        if !self.implied.is_empty() {
            out += &format!(
                "also differ with the classes swapped: {}\n",
                self.implied.join(", ")
            );
        }
        out
    }

    /// Overlay plots in `out`: one PNG per per-epoch number of the runs, a line per run;
    /// returns the files written.
    pub fn draw(&self, out: &Path) -> Result<Vec<PathBuf>, RunError> {
        std::fs::create_dir_all(out)
            .map_err(|e| RunError::RunDir(format!("{}: {e}", out.display())))?;
        let skip = ["epoch", "step", "seconds", "samples_per_sec", "busy_cores"];
        let numbers: BTreeSet<&String> = self
            .runs
            .iter()
            .flat_map(|r| r.epochs.iter().flat_map(|e| e.keys()))
            .filter(|k| !skip.contains(&k.as_str()))
            .collect();
        let mut written = Vec::new();
        for metric in numbers {
            let series: Vec<Series> = (0..self.runs.len())
                .map(|i| Series {
                    name: self.runs[i].name.clone(),
                    points: self.runs[i]
                        .epochs
                        .iter()
                        .filter_map(|e| Some((*e.get("epoch")?, *e.get(metric)?)))
                        .collect(),
                    band: Vec::new(),
                })
                .collect();
            let path = out.join(format!("{metric}.png"));
            plots::line_chart(&path, metric, "epoch", metric, &series)
                .map_err(|e| RunError::RunDir(e.to_string()))?;
            written.push(path);
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_flatten_to_key_paths() {
        let t: toml::Table = toml::from_str(
            "[optimizer]\ntype = \"SGD\"\nlr = 0.1\n[model]\ninput = [1, 28, 28]\n\
             layers = [{ type = \"Linear\", out_features = 10 }]\n",
        )
        .unwrap();
        let mut out = BTreeMap::new();
        flatten(&toml::Value::Table(t), "", &mut out);
        assert_eq!(out["optimizer.type"], "SGD");
        assert_eq!(out["optimizer.lr"], "0.1");
        assert_eq!(out["model.input"], "[1, 28, 28]");
        assert_eq!(out["model.layers[0].out_features"], "10");
        assert_eq!(
            short_name(Path::new("runs/x/20261203-101500")),
            "x/20261203-101500"
        );
    }
}
