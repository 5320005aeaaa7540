use super::*;
use crate::{Optimizer, Result};

wick_tensor::tagged_config! {
    /// An LR scheduler by its PyTorch class name: `[scheduler] type = "StepLR"`.
    pub enum SchedulerConfig {
        /// `torch.optim.lr_scheduler.StepLR`
        StepLR(StepLRConfig),
        /// `torch.optim.lr_scheduler.MultiStepLR`
        MultiStepLR(MultiStepLRConfig),
        /// `torch.optim.lr_scheduler.ExponentialLR`
        ExponentialLR(ExponentialLRConfig),
        /// `torch.optim.lr_scheduler.CosineAnnealingLR`
        CosineAnnealingLR(CosineAnnealingLRConfig),
        /// `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`
        CosineAnnealingWarmRestarts(CosineAnnealingWarmRestartsConfig),
        /// `torch.optim.lr_scheduler.LinearLR`
        LinearLR(LinearLRConfig),
        /// `torch.optim.lr_scheduler.ConstantLR`
        ConstantLR(ConstantLRConfig),
        /// `torch.optim.lr_scheduler.PolynomialLR`
        PolynomialLR(PolynomialLRConfig),
        /// `torch.optim.lr_scheduler.OneCycleLR`
        OneCycleLR(OneCycleLRConfig),
        /// `torch.optim.lr_scheduler.CyclicLR`
        CyclicLR(CyclicLRConfig),
        /// `torch.optim.lr_scheduler.ReduceLROnPlateau`
        ReduceLROnPlateau(ReduceLROnPlateauConfig),
        /// `torch.optim.lr_scheduler.SequentialLR`
        SequentialLR(SequentialLRConfig),
        /// `torch.optim.lr_scheduler.ChainedScheduler`
        ChainedScheduler(ChainedSchedulerConfig),
    }
}

macro_rules! each {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            Self::StepLR($c) => $e,
            Self::MultiStepLR($c) => $e,
            Self::ExponentialLR($c) => $e,
            Self::CosineAnnealingLR($c) => $e,
            Self::CosineAnnealingWarmRestarts($c) => $e,
            Self::LinearLR($c) => $e,
            Self::ConstantLR($c) => $e,
            Self::PolynomialLR($c) => $e,
            Self::OneCycleLR($c) => $e,
            Self::CyclicLR($c) => $e,
            Self::ReduceLROnPlateau($c) => $e,
            Self::SequentialLR($c) => $e,
            Self::ChainedScheduler($c) => $e,
        }
    };
}

impl SchedulerConfig {
    /// Validates the arguments and starts the scheduler on `opt` (which, as in
    /// PyTorch, already sets the lrs of epoch 0).
    pub fn build(&self, opt: &mut dyn Optimizer) -> Result<Box<dyn Scheduler>> {
        Ok(each!(self, c => Box::new(c.build(opt)?)))
    }

    /// Validates the arguments that do not depend on the optimizer.
    pub fn validate(&self) -> Result<()> {
        each!(self, c => c.validate().map(|_| ()))
    }

    /// The `interval` given in the file, if any.
    pub fn interval_override(&self) -> Option<Interval> {
        each!(self, c => c.interval)
    }

    /// When the scheduler steps: the `interval` given, else PyTorch usage (per batch
    /// for OneCycleLR and CyclicLR, per epoch for the others; a composite follows its
    /// first scheduler).
    pub fn interval(&self) -> Interval {
        if let Some(i) = self.interval_override() {
            return i;
        }
        match self {
            Self::OneCycleLR(_) | Self::CyclicLR(_) => Interval::Step,
            Self::SequentialLR(c) => c
                .schedulers
                .first()
                .map_or(Interval::Epoch, |s| s.interval()),
            Self::ChainedScheduler(c) => c
                .schedulers
                .first()
                .map_or(Interval::Epoch, |s| s.interval()),
            _ => Interval::Epoch,
        }
    }

    /// The metric ReduceLROnPlateau watches (`monitor`), `None` for the others.
    pub fn monitor(&self) -> Option<&str> {
        match self {
            Self::ReduceLROnPlateau(c) => Some(&c.monitor),
            _ => None,
        }
    }
}
