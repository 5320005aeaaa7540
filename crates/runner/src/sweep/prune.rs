//! Stopping hopeless trials early: the median rule (Optuna's `MedianPruner`, Ray Tune's
//! `MedianStoppingRule`). After each of its epochs past the first, a running trial is
//! compared with the trials that finished before it: when at least
//! [`MIN_FINISHED`] of them reached that epoch and the trial's monitored metric is
//! worse than their median there, it is stopped and recorded as pruned at that epoch
//! (`pruned.txt`); its results are its epochs up to that one, so a sweep run one trial
//! at a time prunes the same trials at the same epochs whenever it runs.

use crate::monitor::Mode;
use std::path::Path;

/// The file a pruned trial leaves in its directory: the epoch, then why.
pub const PRUNED_FILE: &str = "pruned.txt";
/// Finished trials that must have reached an epoch before a trial is judged at it.
pub const MIN_FINISHED: usize = 3;
/// Epochs a trial runs before it can be pruned.
pub const WARMUP_EPOCHS: usize = 1;

/// Why a trial stops.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The 1-based epoch it is judged at.
    pub epoch: usize,
    /// Its value there.
    pub value: f64,
    /// The finished trials' median there.
    pub median: f64,
    /// How many finished trials reached that epoch.
    pub of: usize,
}

/// The finished trials' curves and the rule.
pub(crate) struct Pruner {
    mode: Mode,
    finished: Vec<Vec<f64>>,
}

impl Pruner {
    pub(crate) fn new(mode: Mode) -> Self {
        Self {
            mode,
            finished: Vec::new(),
        }
    }

    /// A trial that ran to its end: its monitored metric per epoch.
    pub(crate) fn add_finished(&mut self, curve: Vec<f64>) {
        self.finished.push(curve);
    }

    /// The first epoch after the first `checked` of `curve` at which the trial is
    /// worse than the median, if any.
    pub(crate) fn verdict(&self, curve: &[f64], checked: usize) -> Option<Verdict> {
        (checked.max(WARMUP_EPOCHS)..curve.len()).find_map(|e| {
            let mut at: Vec<f64> = self
                .finished
                .iter()
                .filter_map(|c| c.get(e).copied())
                .filter(|v| !v.is_nan())
                .collect();
            if at.len() < MIN_FINISHED {
                return None;
            }
            at.sort_by(f64::total_cmp);
            let n = at.len();
            let median = if n % 2 == 1 {
                at[n / 2]
            } else {
                (at[n / 2 - 1] + at[n / 2]) / 2.0
            };
            let value = curve[e];
            let worse = value.is_nan()
                || match self.mode {
                    Mode::Max => value < median,
                    Mode::Min => value > median,
                };
            worse.then_some(Verdict {
                epoch: e + 1,
                value,
                median,
                of: n,
            })
        })
    }
}

/// Records the verdict in the trial's directory.
pub(crate) fn record(dir: &Path, metric: &str, v: &Verdict) -> std::io::Result<()> {
    let text = format!(
        "{}\n{metric} {} at epoch {}, worse than the median {} of {} finished trials\n",
        v.epoch, v.value, v.epoch, v.median, v.of
    );
    std::fs::create_dir_all(dir)?;
    crate::rundir::write_atomic(dir, PRUNED_FILE, text.as_bytes())
}

/// The epoch a trial was pruned at, if it was.
pub fn pruned_at(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join(PRUNED_FILE)).ok()?;
    text.lines().next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_rule() {
        let mut p = Pruner::new(Mode::Max);
        p.add_finished(vec![0.5, 0.8, 0.9]);
        p.add_finished(vec![0.4, 0.7, 0.85]);
        // two finished trials: too few to judge
        assert_eq!(p.verdict(&[0.1, 0.1, 0.1], 0), None);
        p.add_finished(vec![0.6, 0.6]);
        // never at the first epoch; at the second, below the median 0.7 of three
        let v = p.verdict(&[0.1, 0.65, 0.9], 0).unwrap();
        assert_eq!((v.epoch, v.value, v.median, v.of), (2, 0.65, 0.7, 3));
        // epochs already checked are not judged again; epoch 3 has two finished trials
        assert_eq!(p.verdict(&[0.1, 0.65, 0.1], 2), None);
        assert_eq!(p.verdict(&[0.1, 0.75], 0), None);
        let mut q = Pruner::new(Mode::Min);
        for c in [
            vec![1.0, 0.5],
            vec![1.0, 0.4],
            vec![1.0, 0.6],
            vec![1.0, 0.7],
        ] {
            q.add_finished(c);
        }
        // the median of four is the mean of the middle two: 0.55
        assert_eq!(q.verdict(&[1.0, 0.56], 0).map(|v| v.median), Some(0.55));
        assert_eq!(q.verdict(&[1.0, 0.54], 0), None);
        assert!(q.verdict(&[1.0, f64::NAN], 0).is_some(), "NaN is hopeless");
    }
}
