//! The scheduler catalog: what `[scheduler] type = "StepLR"` names.
//!
//! A scheduler class is a config type implementing [`SchedulerSpec`] registered under
//! its `torch.optim.lr_scheduler` class name in a [`SchedulerCatalog`]; wick's own are
//! registered by [`register_builtins`] as a user's crate registers its own.

use super::*;
use crate::{Optimizer, Result};
use std::any::Any;
use std::fmt::Debug;
use wick_tensor::catalog::{Catalog, Tagged};

/// The arguments of a scheduler class (`lr_scheduler.StepLR(optimizer, step_size, …)`
/// without `optimizer`): what a config type implements to be named in an experiment
/// file. It is also `serde`'s, `Clone` and `Debug`.
pub trait SchedulerSpec:
    wick_tensor::dyn_clone::DynClone + wick_tensor::erased_serde::Serialize + Any + Debug + Send + Sync
{
    /// Builds the scheduler over `opt`, setting its initial learning rates.
    ///
    /// # Errors
    /// Invalid arguments, with PyTorch's messages.
    fn build(&self, opt: &mut dyn Optimizer) -> Result<Box<dyn Scheduler>>;
    /// Checks the arguments without an optimizer; nothing by default.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the argument.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// The `interval` given in the file, if any.
    fn interval_override(&self) -> Option<Interval> {
        None
    }
    /// When `step()` is called: the file's `interval`, else the class's own (per batch
    /// for OneCycleLR and CyclicLR, per epoch otherwise).
    fn interval(&self) -> Interval {
        self.interval_override().unwrap_or(Interval::Epoch)
    }
    /// The metric `step()` takes (ReduceLROnPlateau's `monitor`); `None` by default.
    fn monitor(&self) -> Option<&str> {
        None
    }
}

/// An LR scheduler by its PyTorch class name: `[scheduler] type = "StepLR"`.
pub type SchedulerConfig = Tagged<dyn SchedulerSpec>;

/// The scheduler classes an experiment file can name.
pub type SchedulerCatalog = Catalog<dyn SchedulerSpec>;

/// The interval of a container: its first child's.
fn first_interval(children: &[SchedulerConfig]) -> Interval {
    children.first().map_or(Interval::Epoch, |s| s.interval())
}

/// Implements [`SchedulerSpec`] for the built-in configs (`build`, `validate`, the
/// `interval` field over the class's own default, and `$monitor` where given), and the
/// catalog's plumbing (`wick_tensor::open_catalog!`) with them as its built-ins.
macro_rules! builtin_schedulers {
    ($( $name:ident($cfg:ident) { interval: |$c:ident| $interval:expr $(, monitor: |$m:ident| $monitor:expr)? } )+) => {
        $(
            impl SchedulerSpec for $cfg {
                fn build(&self, opt: &mut dyn Optimizer) -> Result<Box<dyn Scheduler>> {
                    Ok(Box::new($cfg::build(self, opt)?))
                }
                fn validate(&self) -> Result<()> {
                    $cfg::validate(self).map(|_| ())
                }
                fn interval_override(&self) -> Option<Interval> {
                    self.interval
                }
                fn interval(&self) -> Interval {
                    let $c = self;
                    let _ = &$c;
                    self.interval.unwrap_or_else(|| $interval)
                }
                $( fn monitor(&self) -> Option<&str> {
                    let $m = self;
                    $monitor
                } )?
            }
        )+

        wick_tensor::open_catalog! {
            spec = SchedulerSpec, what = "scheduler", register = RegisterScheduler::scheduler,
            constructor = scheduler, builtins = register_builtins { $( $name($cfg), )+ }
        }
    };
}

builtin_schedulers! {
    StepLR(StepLRConfig) { interval: |c| Interval::Epoch }
    MultiStepLR(MultiStepLRConfig) { interval: |c| Interval::Epoch }
    ExponentialLR(ExponentialLRConfig) { interval: |c| Interval::Epoch }
    CosineAnnealingLR(CosineAnnealingLRConfig) { interval: |c| Interval::Epoch }
    CosineAnnealingWarmRestarts(CosineAnnealingWarmRestartsConfig) { interval: |c| Interval::Epoch }
    LinearLR(LinearLRConfig) { interval: |c| Interval::Epoch }
    ConstantLR(ConstantLRConfig) { interval: |c| Interval::Epoch }
    PolynomialLR(PolynomialLRConfig) { interval: |c| Interval::Epoch }
    OneCycleLR(OneCycleLRConfig) { interval: |c| Interval::Step }
    CyclicLR(CyclicLRConfig) { interval: |c| Interval::Step }
    ReduceLROnPlateau(ReduceLROnPlateauConfig) {
        interval: |c| Interval::Epoch,
        monitor: |c| Some(&c.monitor)
    }
    SequentialLR(SequentialLRConfig) { interval: |c| first_interval(&c.schedulers) }
    ChainedScheduler(ChainedSchedulerConfig) { interval: |c| first_interval(&c.schedulers) }
}
