//! The names an experiment file can use, built-in and a user's own.
//!
//! ```ignore
//! let mut registry = Registry::with_builtins();
//! registry.layer::<MyLayerConfig>("MyLayer");
//! let exp = registry.load_experiment(path, &[])?;      // `{ type = "MyLayer" }` resolves
//! registry.enter(|| wick_runner::run(&exp, &opts))?;   // and so does its config.toml
//! ```
//!
//! wick's own classes are registered by the same calls (`wick_nn::register_builtins`),
//! so a user's layer is checked, inferred, summarized, checkpointed and resumed exactly
//! as a built-in is. A name registered twice is kept as an error that
//! [`Registry::check`] reports; `wick::cli::main_with` refuses to start with one.

use crate::metric::{MetricCatalog, MetricSpec, RegisterMetric};
use crate::{load_experiment_with, Experiment, ExperimentError, Override};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;
use wick_data::datasets::{DatasetCatalog, DatasetSpec, RegisterDataset};
use wick_data::sampler::{RegisterSampler, SamplerCatalog, SamplerSpec};
use wick_data::transforms::{RegisterTransform, TransformCatalog, TransformSpec};
use wick_losses::{LossCatalog, LossSpec, RegisterLoss};
use wick_nn::{LayerCatalog, LayerSpec, OpCatalog, OpSpec, RegisterLayer, RegisterOp};
use wick_optim::{
    OptimizerCatalog, OptimizerSpec, RegisterOptimizer, RegisterScheduler, SchedulerCatalog,
    SchedulerSpec,
};
use wick_tensor::catalog::{DuplicateName, Kind};

/// Every catalog a file can name, with what was registered into it.
#[derive(Debug, Clone)]
pub struct Registry {
    layers: Arc<LayerCatalog>,
    ops: Arc<OpCatalog>,
    losses: Arc<LossCatalog>,
    optimizers: Arc<OptimizerCatalog>,
    schedulers: Arc<SchedulerCatalog>,
    datasets: Arc<DatasetCatalog>,
    transforms: Arc<TransformCatalog>,
    samplers: Arc<SamplerCatalog>,
    metrics: Arc<MetricCatalog>,
    duplicates: Vec<DuplicateName>,
}

/// Names registered twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct RegistryError(pub Vec<DuplicateName>);

/// `registry.$method::<C>(name)` for each catalog: registers config type `C` as a class
/// of `$field`, recording a duplicate name as an error for [`Registry::check`].
macro_rules! register_methods {
    ($( $method:ident: $field:ident, $spec:ident, $what:literal; )+) => {
        impl Registry {
            $(
                #[doc = concat!("Registers the ", $what, " class `name` with config type `C` (see [`", stringify!($spec), "`]); a name already registered is recorded as an error ([`Registry::check`]).")]
                pub fn $method<C: $spec + DeserializeOwned>(&mut self, name: &'static str) -> &mut Self {
                    if let Err(e) = Arc::make_mut(&mut self.$field).$method::<C>(name) {
                        self.duplicates.push(e);
                    }
                    self
                }
            )+
        }
    };
}

register_methods! {
    layer: layers, LayerSpec, "layer";
    op: ops, OpSpec, "graph op";
    loss: losses, LossSpec, "loss";
    optimizer: optimizers, OptimizerSpec, "optimizer";
    scheduler: schedulers, SchedulerSpec, "LR scheduler";
    dataset: datasets, DatasetSpec, "dataset";
    transform: transforms, TransformSpec, "transform";
    sampler: samplers, SamplerSpec, "sampler";
    metric: metrics, MetricSpec, "metric";
}

impl Registry {
    /// wick's built-in classes (the `torch.nn` layers, …).
    pub fn with_builtins() -> Self {
        Self {
            layers: <dyn LayerSpec>::builtins(),
            ops: <dyn OpSpec>::builtins(),
            losses: <dyn LossSpec>::builtins(),
            optimizers: <dyn OptimizerSpec>::builtins(),
            schedulers: <dyn SchedulerSpec>::builtins(),
            datasets: <dyn DatasetSpec>::builtins(),
            transforms: <dyn TransformSpec>::builtins(),
            samplers: <dyn SamplerSpec>::builtins(),
            metrics: <dyn MetricSpec>::builtins(),
            duplicates: Vec::new(),
        }
    }

    /// The loss catalog.
    pub fn losses(&self) -> &LossCatalog {
        &self.losses
    }

    /// The layer catalog.
    pub fn layers(&self) -> &LayerCatalog {
        &self.layers
    }

    /// Every name registered twice, as one error.
    pub fn check(&self) -> Result<(), RegistryError> {
        if self.duplicates.is_empty() {
            Ok(())
        } else {
            Err(RegistryError(self.duplicates.clone()))
        }
    }

    /// Runs `f` with these catalogs in force on the current thread: experiment files
    /// and run directories read inside it resolve names here.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let data = || {
            self.datasets.enter(|| {
                self.transforms
                    .enter(|| self.samplers.enter(|| self.metrics.enter(f)))
            })
        };
        let model = || {
            self.ops.enter(|| {
                self.losses
                    .enter(|| self.optimizers.enter(|| self.schedulers.enter(data)))
            })
        };
        self.layers.enter(model)
    }

    /// Reads, overrides (`--set`), parses and validates an experiment file against
    /// this registry.
    pub fn load_experiment(
        &self,
        path: &Path,
        overrides: &[Override],
    ) -> Result<Experiment, ExperimentError> {
        self.enter(|| load_experiment_with(path, overrides))
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::with_builtins()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wick_nn::{LinearConfig, ReLUConfig};

    #[test]
    fn a_name_registered_twice_is_an_error() {
        let mut r = Registry::with_builtins();
        assert!(r.check().is_ok());
        r.layer::<LinearConfig>("Dense")
            .layer::<ReLUConfig>("Linear");
        let e = r.check().unwrap_err();
        assert_eq!(e.to_string(), "the layer `Linear` is registered twice");
        assert!(r.layers().contains("Dense"));
        // the built-ins themselves are untouched
        assert!(!Registry::with_builtins().layers().contains("Dense"));
    }

    #[test]
    fn names_resolve_only_where_the_registry_is_in_force() {
        let mut r = Registry::with_builtins();
        r.layer::<LinearConfig>("Dense");
        let src = "{\"type\": \"Dense\", \"out_features\": 3}";
        assert!(serde_json::from_str::<wick_nn::LayerConfig>(src).is_err());
        let c: wick_nn::LayerConfig = r.enter(|| serde_json::from_str(src)).unwrap();
        assert_eq!(c.type_name(), "Dense");
    }
}
