//! What a sweep found: `sweep.csv` (one row per trial), the printed table (one row per
//! configuration, mean ± standard deviation over its seeds, sorted by the monitored
//! metric), and the plots: the metric per epoch with a line per configuration (the
//! mean, in a band of ± one standard deviation over seeds), and, when one number is
//! swept, the metric against it (the course's loss-against-learning-rate picture).
//!
//! Everything here is read back from the trials' run directories, so the results of a
//! resumed sweep are those of an uninterrupted one.

use super::driver::TrialState;
use super::plan::{Plan, Trial};
use crate::monitor::Mode;
use crate::plots::{self, Series};
use crate::rundir;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One trial's outcome.
#[derive(Debug, Clone)]
pub struct TrialResult {
    /// The trial.
    pub trial: Trial,
    /// `finished`, `pruned`, `diverged`, `failed`, `stopped` or `pending`.
    pub status: String,
    /// The monitored metric per finished epoch.
    pub curve: Vec<f64>,
    /// Every number of the last epoch row.
    pub last: BTreeMap<String, f64>,
}

impl TrialResult {
    /// The best epoch (1-based) and its value of the monitored metric.
    pub fn best(&self, mode: Mode) -> Option<(usize, f64)> {
        best_of(&self.curve, mode)
    }
}

/// The best epoch (1-based) of a metric's values per epoch and that value; NaN epochs
/// are never best, and of equal values the first is.
pub fn best_of(curve: &[f64], mode: Mode) -> Option<(usize, f64)> {
    let mut m = crate::monitor::Monitor::new("", Some(mode), 0.0);
    for (i, &v) in curve.iter().enumerate() {
        m.update(v, i + 1);
    }
    m.best.map(|(v, e)| (e, v))
}

/// Reads every trial's outcome from the sweep directory `dir`.
pub fn collect(dir: &Path, plan: &Plan) -> Vec<TrialResult> {
    plan.trials
        .iter()
        .map(|t| {
            let tdir = dir.join(&t.name);
            let mut rows = rundir::epoch_rows(&tdir).unwrap_or_default();
            let state = TrialState::of(&tdir);
            if let TrialState::Pruned(e) = state {
                // the epochs up to the verdict, however far the trial ran past it
                rows.truncate(e);
            }
            let curve = rows
                .iter()
                .map(|r| r.get(&plan.monitor).copied().unwrap_or(f64::NAN))
                .collect();
            let status = match state {
                TrialState::Finished => "finished".to_string(),
                TrialState::Pruned(_) => "pruned".into(),
                TrialState::Failed(why) if why.starts_with("diverged") => "diverged".into(),
                TrialState::Failed(_) => "failed".into(),
                TrialState::Resumable => "stopped".into(),
                TrialState::Pending => "pending".into(),
            };
            TrialResult {
                trial: t.clone(),
                status,
                curve,
                last: rows.last().cloned().unwrap_or_default(),
            }
        })
        .collect()
}

/// `sweep.csv`: trial, the swept keys' values, seed, status, epochs, best epoch, best
/// and last value of the monitored metric, the last epoch's losses. No timings, so
/// the same sweep gives the same file.
pub fn csv(plan: &Plan, results: &[TrialResult]) -> String {
    let m = &plan.monitor;
    let losses: Vec<&str> = ["train_loss", "test_loss"]
        .into_iter()
        .filter(|l| l != m)
        .collect();
    let mut out = format!(
        "trial,{},seed,status,epochs,best_epoch,best_{m},last_{m}",
        plan.keys.join(",")
    );
    for l in &losses {
        out += &format!(",last_{l}");
    }
    out.push('\n');
    for r in results {
        let values = key_values(plan, &r.trial);
        let (be, bv) = r
            .best(plan.mode)
            .map_or((String::new(), String::new()), |(e, v)| {
                (e.to_string(), num(v))
            });
        let _ = write!(
            out,
            "{},{},{},{},{},{be},{bv},{}",
            quote(&r.trial.name),
            values
                .iter()
                .map(|v| quote(v))
                .collect::<Vec<_>>()
                .join(","),
            r.trial.seed,
            r.status,
            r.curve.len(),
            r.curve.last().map_or(String::new(), |v| num(*v)),
        );
        for l in &losses {
            out += &format!(",{}", r.last.get(*l).map_or(String::new(), |v| num(*v)));
        }
        out.push('\n');
    }
    out
}

/// The values of the plan's keys in a trial's overrides.
fn key_values(plan: &Plan, t: &Trial) -> Vec<String> {
    plan.keys
        .iter()
        .map(|k| {
            t.overrides
                .iter()
                .find_map(|o| o.strip_prefix(&format!("{k}=")).map(str::to_string))
                .unwrap_or_default()
        })
        .collect()
}

fn num(v: f64) -> String {
    format!("{v}")
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One configuration's trials, summarized over seeds.
struct Group<'a> {
    values: Vec<String>,
    trials: Vec<&'a TrialResult>,
    /// Mean and standard deviation of the best value (finished trials).
    best: Option<(f64, f64)>,
    /// Mean and standard deviation of the last value.
    last: Option<(f64, f64)>,
    /// The best epoch of the mean curve.
    best_epoch: Option<usize>,
}

fn groups<'a>(plan: &Plan, results: &'a [TrialResult]) -> Vec<Group<'a>> {
    let mut by: BTreeMap<usize, Vec<&TrialResult>> = BTreeMap::new();
    for r in results {
        by.entry(r.trial.config).or_default().push(r);
    }
    let mut out: Vec<Group<'a>> = by
        .into_values()
        .map(|trials| {
            let done: Vec<&&TrialResult> = trials.iter().filter(|r| !r.curve.is_empty()).collect();
            let best: Vec<f64> = done
                .iter()
                .filter_map(|r| r.best(plan.mode))
                .map(|b| b.1)
                .collect();
            let last: Vec<f64> = done
                .iter()
                .filter_map(|r| r.curve.last().copied())
                .collect();
            let best_epoch = best_of(&mean_curve(&trials).0, plan.mode).map(|b| b.0);
            Group {
                values: key_values(plan, &trials[0].trial),
                trials,
                best: mean_std(&best),
                last: mean_std(&last),
                best_epoch,
            }
        })
        .collect();
    let key = |g: &Group| g.best.map_or(f64::NAN, |b| b.0);
    out.sort_by(|a, b| {
        let (x, y) = (key(a), key(b));
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if plan.mode == Mode::Max => y.total_cmp(&x),
            _ => x.total_cmp(&y),
        }
    });
    out
}

/// Mean and standard deviation (n − 1 in the denominator, 0 for one value).
fn mean_std(v: &[f64]) -> Option<(f64, f64)> {
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Some((mean, var.sqrt()))
}

/// Per epoch, the mean and standard deviation over the trials that reached it.
fn mean_curve(trials: &[&TrialResult]) -> (Vec<f64>, Vec<f64>) {
    let epochs = trials.iter().map(|r| r.curve.len()).max().unwrap_or(0);
    (0..epochs)
        .map(|e| {
            let at: Vec<f64> = trials
                .iter()
                .filter_map(|r| r.curve.get(e).copied())
                .collect();
            mean_std(&at).unwrap_or((f64::NAN, f64::NAN))
        })
        .unzip()
}

/// The table: one row per configuration, best first.
pub fn table(plan: &Plan, results: &[TrialResult]) -> String {
    let m = &plan.monitor;
    let mut header: Vec<String> = plan.keys.clone();
    header.extend([
        "trials".into(),
        format!("best {m}"),
        format!("last {m}"),
        "best epoch".into(),
    ]);
    let pm = |x: Option<(f64, f64)>| x.map_or("-".to_string(), |(a, s)| format!("{a:.4} ± {s:.4}"));
    let rows: Vec<Vec<String>> = groups(plan, results)
        .into_iter()
        .map(|g| {
            let finished = g.trials.iter().filter(|r| r.status == "finished").count();
            let mut row = g.values.clone();
            let mut note = format!("{finished}/{}", g.trials.len());
            for s in ["pruned", "diverged", "failed"] {
                let n = g.trials.iter().filter(|r| r.status == s).count();
                if n > 0 {
                    let _ = write!(note, " ({n} {s})");
                }
            }
            row.extend([
                note,
                pm(g.best),
                pm(g.last),
                g.best_epoch.map_or("-".into(), |e| e.to_string()),
            ]);
            row
        })
        .collect();
    aligned(&header, &rows)
}

/// Rows under a header, each column as wide as its widest cell, two spaces apart.
pub(crate) fn aligned(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(header) + "\n";
    for r in rows {
        out += &line(r);
        out.push('\n');
    }
    out
}

/// Draws `plots/<metric>.png` and, when a single number is swept,
/// `plots/<metric>_vs_<key>.png`; returns the files written.
pub fn draw(dir: &Path, plan: &Plan, results: &[TrialResult]) -> Vec<std::path::PathBuf> {
    let pdir = dir.join("plots");
    if let Err(e) = std::fs::create_dir_all(&pdir) {
        tracing::warn!("{}: {e}", pdir.display());
        return Vec::new();
    }
    let m = &plan.monitor;
    let gs = groups(plan, results);
    let series: Vec<Series> = gs
        .iter()
        .map(|g| {
            let (mean, std) = mean_curve(&g.trials);
            let x = |i: usize| (i + 1) as f64;
            Series {
                name: label(plan, &g.values),
                points: mean.iter().enumerate().map(|(i, &v)| (x(i), v)).collect(),
                band: mean
                    .iter()
                    .zip(&std)
                    .enumerate()
                    .filter(|_| plan.seeds > 1)
                    .map(|(i, (&v, &s))| (x(i), v - s, v + s))
                    .collect(),
            }
        })
        .collect();
    let mut written = Vec::new();
    let path = pdir.join(format!("{m}.png"));
    match plots::line_chart(&path, &format!("{m} per epoch"), "epoch", m, &series) {
        Ok(()) => written.push(path),
        Err(e) => tracing::warn!("{e}"),
    }
    if let Some(path) = against_key(&pdir, plan, &gs) {
        written.push(path);
    }
    written
}

/// `key=value, key=value` of a configuration.
fn label(plan: &Plan, values: &[String]) -> String {
    let parts: Vec<String> = plan
        .keys
        .iter()
        .zip(values)
        .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k)))
        .collect();
    parts.join(", ")
}

/// The best value against the one swept number (log10 of it when its values span two
/// decades or more, as learning rates do).
fn against_key(pdir: &Path, plan: &Plan, gs: &[Group<'_>]) -> Option<std::path::PathBuf> {
    let [key] = plan.keys.as_slice() else {
        return None;
    };
    let mut pts: Vec<(f64, f64, f64)> = gs
        .iter()
        .map(|g| {
            let x: f64 = g.values[0].parse().ok()?;
            let (mean, std) = g.best?;
            Some((x, mean, std))
        })
        .collect::<Option<_>>()?;
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (lo, hi) = (pts.first()?.0, pts.last()?.0);
    let log = lo > 0.0 && hi / lo >= 100.0;
    let fx = |x: f64| if log { x.log10() } else { x };
    let m = &plan.monitor;
    let s = Series {
        name: format!("best {m}"),
        points: pts.iter().map(|p| (fx(p.0), p.1)).collect(),
        band: if plan.seeds > 1 {
            pts.iter()
                .map(|p| (fx(p.0), p.1 - p.2, p.1 + p.2))
                .collect()
        } else {
            Vec::new()
        },
    };
    let short = key.rsplit('.').next().unwrap_or(key);
    let path = pdir.join(format!("{m}_vs_{short}.png"));
    let x_label = if log {
        format!("log10({key})")
    } else {
        key.clone()
    };
    match plots::line_chart(&path, &format!("best {m} against {key}"), &x_label, m, &[s]) {
        Ok(()) => Some(path),
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(config: usize, seed: u64, curve: &[f64]) -> TrialResult {
        TrialResult {
            trial: Trial {
                name: format!("{config}-{seed}"),
                config,
                overrides: vec![format!("optimizer.lr={}", [0.1, 0.01][config])],
                seed,
            },
            status: "finished".into(),
            curve: curve.to_vec(),
            last: BTreeMap::new(),
        }
    }

    fn plan() -> Plan {
        Plan {
            experiment: "x.toml".into(),
            keys: vec!["optimizer.lr".into()],
            monitor: "test_acc".into(),
            mode: Mode::Max,
            seeds: 2,
            prune: false,
            trials: Vec::new(),
        }
    }

    #[test]
    fn the_table_is_sorted_by_the_mean_best_value() {
        let rs = [
            result(0, 0, &[0.5, 0.6]),
            result(0, 1, &[0.5, 0.8]),
            result(1, 0, &[0.9, 0.7]),
            result(1, 1, &[0.8, 0.9]),
        ];
        let t = table(&plan(), &rs);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with("optimizer.lr  trials  best test_acc"),
            "{t}"
        );
        assert!(
            lines[1].starts_with("0.01          2/2     0.9000 ± 0.0000"),
            "{t}"
        );
        // lr 0.1: best 0.6 and 0.8 → 0.7 ± 0.1414; mean curve 0.5, 0.7 → best epoch 2
        assert!(lines[2].contains("0.7000 ± 0.1414"), "{t}");
        assert!(lines[2].ends_with('2'), "{t}");
        let csv = csv(&plan(), &rs);
        assert_eq!(csv.lines().nth(1), Some("0-0,0.1,0,finished,2,2,0.6,0.6,,"));
    }

    #[test]
    fn nan_epochs_are_never_best() {
        let r = result(0, 0, &[f64::NAN, 0.3, 0.2]);
        assert_eq!(r.best(Mode::Max), Some((2, 0.3)));
        assert_eq!(r.best(Mode::Min), Some((3, 0.2)));
        assert_eq!(mean_std(&[1.0, 3.0]), Some((2.0, 2f64.sqrt())));
    }
}
