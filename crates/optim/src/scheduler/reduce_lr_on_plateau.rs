use super::{Interval, PerGroup, Scheduler, State};
use crate::{Error, Optimizer, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Whether the watched metric should go down or up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PlateauMode {
    /// Lower is better (a loss).
    #[default]
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How `threshold` measures a significant improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMode {
    /// Relative: better than `best·(1 ∓ threshold)`.
    #[default]
    Rel,
    /// Absolute: better than `best ∓ threshold`.
    Abs,
}

/// Arguments of `torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='min',
/// factor=0.1, patience=10, threshold=1e-4, threshold_mode='rel', cooldown=0, min_lr=0,
/// eps=1e-8)`, plus `monitor`, the metric it watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReduceLROnPlateauConfig {
    /// The metric passed to `step` (wick's addition; default `"test_loss"`; the runner
    /// knows `test_loss`, `test_acc`, `train_loss`, `train_acc`).
    pub monitor: String,
    /// `"min"` (default) or `"max"`.
    pub mode: PlateauMode,
    /// `lr ← lr·factor` on a plateau (default 0.1; < 1).
    pub factor: f64,
    /// Epochs without improvement tolerated (default 10).
    pub patience: i64,
    /// Smallest significant improvement (default 1e-4).
    pub threshold: f64,
    /// `"rel"` (default) or `"abs"`.
    pub threshold_mode: ThresholdMode,
    /// Epochs to wait after a reduction (default 0).
    pub cooldown: i64,
    /// Lower bound of each group's lr, one or one per group (default 0).
    pub min_lr: PerGroup,
    /// Reductions smaller than this are skipped (default 1e-8).
    pub eps: f64,
    /// `"epoch"` (default) or `"step"` (wick's addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
}

impl Default for ReduceLROnPlateauConfig {
    fn default() -> Self {
        Self {
            monitor: "test_loss".into(),
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: PerGroup::One(0.0),
            eps: 1e-8,
            interval: None,
        }
    }
}

/// `ReduceLROnPlateau`: when the metric has not improved for more than `patience`
/// epochs, `lr ← max(lr·factor, min_lr)` (skipped if the change is below `eps`), then
/// waits `cooldown` epochs.
pub struct ReduceLROnPlateau {
    cfg: ReduceLROnPlateauConfig,
    min_lrs: Vec<f64>,
    best: f64,
    num_bad_epochs: i64,
    cooldown_counter: i64,
    last_epoch: i64,
    last_lr: Vec<f64>,
}

impl ReduceLROnPlateauConfig {
    /// Checks the arguments with PyTorch's messages.
    pub fn validate(&self) -> Result<()> {
        check!(self.factor < 1.0, "factor", "Factor should be < 1.0.");
        check!(
            !self.monitor.is_empty(),
            "monitor",
            "monitor must name a metric, such as \"test_loss\""
        );
        Ok(())
    }

    /// Validates and attaches to `opt` (the lrs are not changed until a plateau).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<ReduceLROnPlateau> {
        self.validate()?;
        let n = opt.num_groups();
        let min_lrs = match &self.min_lr {
            PerGroup::Many(v) if v.len() != n => {
                return Err(Error::config(
                    "min_lr",
                    format!("expected {n} min_lrs, got {}", v.len()),
                ))
            }
            m => m.per_group("min_lr", n)?,
        };
        Ok(ReduceLROnPlateau {
            cfg: self.clone(),
            min_lrs,
            best: self.mode_worse(),
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
            last_lr: opt.lrs(),
        })
    }

    fn mode_worse(&self) -> f64 {
        match self.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        }
    }
}

impl ReduceLROnPlateau {
    fn is_better(&self, a: f64, best: f64) -> bool {
        let th = self.cfg.threshold;
        match (self.cfg.mode, self.cfg.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - th),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - th,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (th + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + th,
        }
    }

    /// The best metric value so far.
    pub fn best(&self) -> f64 {
        self.best
    }
}

impl Scheduler for ReduceLROnPlateau {
    fn type_name(&self) -> &'static str {
        "ReduceLROnPlateau"
    }
    fn step(&mut self, opt: &mut dyn Optimizer, metric: Option<f64>) -> Result<()> {
        let current = metric.ok_or_else(|| {
            Error::config(
                "monitor",
                format!(
                    "ReduceLROnPlateau.step needs the value of `{}`",
                    self.cfg.monitor
                ),
            )
        })?;
        self.last_epoch += 1;
        if self.is_better(current, self.best) {
            self.best = current;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.cfg.patience {
            for g in 0..opt.num_groups() {
                let old = opt.lr(g);
                let new = (old * self.cfg.factor).max(self.min_lrs[g]);
                if old - new > self.cfg.eps {
                    opt.set_lr(g, new);
                }
            }
            self.cooldown_counter = self.cfg.cooldown;
            self.num_bad_epochs = 0;
        }
        self.last_lr = opt.lrs();
        Ok(())
    }
    fn last_lr(&self) -> &[f64] {
        &self.last_lr
    }
    fn interval(&self) -> Interval {
        self.cfg.interval.unwrap_or(Interval::Epoch)
    }
    fn monitor(&self) -> Option<&str> {
        Some(&self.cfg.monitor)
    }
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut s = State::default();
        s.put("best", vec![self.best]);
        s.put("num_bad_epochs", vec![self.num_bad_epochs as f64]);
        s.put("cooldown_counter", vec![self.cooldown_counter as f64]);
        s.put("last_epoch", vec![self.last_epoch as f64]);
        s.put("last_lr", self.last_lr.clone());
        s.to_tensors()
    }
    fn load_state_dict(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        let s = State::from_tensors(state)?;
        let best = s.get1("best")?;
        let bad = s.get1("num_bad_epochs")? as i64;
        let cd = s.get1("cooldown_counter")? as i64;
        let le = s.get1("last_epoch")? as i64;
        let ll = s.get_n("last_lr", self.last_lr.len())?;
        (
            self.best,
            self.num_bad_epochs,
            self.cooldown_counter,
            self.last_epoch,
            self.last_lr,
        ) = (best, bad, cd, le, ll);
        Ok(())
    }
    fn jump_to(&mut self, _opt: &mut dyn Optimizer, _epoch: i64) -> Result<()> {
        Err(not_composable())
    }
    fn initial_step(&mut self, _opt: &mut dyn Optimizer) -> Result<()> {
        Err(not_composable())
    }
    fn rewind(&mut self) {}
}

fn not_composable() -> Error {
    Error::config(
        "schedulers",
        "ReduceLROnPlateau cannot be part of SequentialLR or ChainedScheduler: its step needs a metric",
    )
}
