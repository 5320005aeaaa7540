use crate::batchnorm_op::{batch_norm_eval, batch_norm_train};
use crate::epilogue::{BatchNormEpilogue, FusedNorm};
use crate::layer::{py_bool, py_float};
use crate::norm::{self, channel_affine, normalize, ones_zeros, RunningStats};
use crate::ops::{self, ConvGeom};
use crate::sync_batchnorm::{global_stats, ProcessSum};
use crate::{BuildCtx, Epilogue, Error, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use wick_tensor::device_path::cpu_kernel;
use wick_tensor::{Param, Parameter};

config! {
    /// Arguments of `torch.nn.BatchNorm1d`/`BatchNorm2d(num_features, eps=1e-05,
    /// momentum=0.1, affine=True, track_running_stats=True, *, bias=True)`.
    ///
    /// `num_features` may be left out: it is inferred from the input's channels.
    /// `momentum = "None"` is PyTorch's `momentum=None` (cumulative moving average).
    BatchNormConfig {
        /// `C`, the channels (dimension 1 of the batched input); inferred when absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        num_features: Option<usize> = None,
        /// Added to the variance for stability (default 1e-5).
        eps: f64 = 1e-5,
        /// Weight of the new batch in the running statistics (default 0.1), or `"None"`.
        #[serde(with = "norm::momentum", default = "norm::default_momentum")]
        momentum: Option<f64> = Some(0.1),
        /// Learn a per-channel scale and shift (default true).
        affine: bool = true,
        /// With `affine`, learn the shift too (default true; keyword-only in PyTorch).
        bias: bool = true,
        /// Keep running statistics and use them in eval mode (default true).
        track_running_stats: bool = true,
        /// `torch.nn.init` schemes for `weight`/`bias` (default: PyTorch's init).
        #[serde(skip_serializing_if = "Option::is_none")]
        init: Option<crate::ParamInit> = None,
    }
}

variant_config! {
    /// Arguments of `torch.nn.BatchNorm1d` (see [`BatchNormConfig`]).
    BatchNorm1dConfig(BatchNormConfig)
}

variant_config! {
    /// Arguments of `torch.nn.BatchNorm2d` (see [`BatchNormConfig`]).
    BatchNorm2dConfig(BatchNormConfig)
}

impl BatchNormConfig {
    /// `BatchNorm(num_features)` with PyTorch's defaults.
    pub fn new(num_features: usize) -> Self {
        Self {
            num_features: Some(num_features),
            ..Self::default()
        }
    }

    /// Checks the per-sample input shape for `BatchNorm{dims}d` (`[C]` or `[C, L]` for
    /// 1d, `[C, H, W]` for 2d), fills `num_features` and returns the input shape.
    pub fn infer(&mut self, dims: usize, input: &[usize]) -> Result<Shape> {
        let ok = match dims {
            1 => matches!(input.len(), 1 | 2),
            _ => input.len() == 3,
        };
        if !ok {
            let want = if dims == 1 { "2D or 3D" } else { "4D" };
            return Err(Error::shape(format!(
                "BatchNorm{dims}d expected {want} input (got {}D input: {})",
                input.len() + 1,
                crate::shape::show_batched(input)
            )));
        }
        norm::check_eps_momentum(self.eps, self.momentum)?;
        norm::infer_channels("num_features", &mut self.num_features, input[0], input)?;
        Ok(input.to_vec())
    }

    /// Creates `BatchNorm{dims}d`: weight ones, bias zeros, running mean zeros, running
    /// variance ones, as PyTorch's `reset_parameters`.
    pub fn init(&self, dims: usize, ctx: &mut BuildCtx) -> Result<BatchNorm> {
        let c = self
            .num_features
            .ok_or_else(|| Error::field("num_features", "num_features is not known"))?;
        norm::check_eps_momentum(self.eps, self.momentum)?;
        crate::shape::check_param_count("num_features", &[c])?;
        let (w, b) = if self.affine {
            let (w, b) = ones_zeros(&[c], ctx.dtype, ctx.device)?;
            let init = self.init.clone().unwrap_or_default();
            init.validate(&[c], self.bias.then_some(&[c][..]))?;
            let w = Parameter::new(&init.apply("weight", w.as_tensor().clone(), ctx)?)?;
            let b = Parameter::new(&init.apply("bias", b.as_tensor().clone(), ctx)?)?;
            (Some(w), self.bias.then_some(b))
        } else {
            if self.init.is_some() {
                return Err(Error::field(
                    "init",
                    "init is given but affine = false (no parameters)",
                ));
            }
            (None, None)
        };
        let stats = if self.track_running_stats {
            Some(RunningStats::new(c, ctx.dtype, ctx.device)?)
        } else {
            None
        };
        Ok(BatchNorm(Arc::new(Core {
            name: if dims == 1 {
                "BatchNorm1d"
            } else {
                "BatchNorm2d"
            },
            cfg: self.clone(),
            num_features: c,
            weight: w,
            bias: b,
            stats,
            frozen: AtomicBool::new(false),
            sync: RwLock::new(None),
        })))
    }
}

/// `torch.nn.BatchNorm1d`/`BatchNorm2d`:
/// `y = (x − E[x]) / √(Var[x] + eps) · γ + β`, per channel.
///
/// In train mode (or without running statistics) `E` and `Var` are the batch's mean and
/// biased variance over every dimension but 1, and the running statistics are updated
/// as `running = (1 − momentum)·running + momentum·batch` with the *unbiased* batch
/// variance (`momentum = None`: `1/num_batches_tracked`); in eval mode the running
/// statistics are used. Composed from candle ops, so every gradient is autograd's
/// (checked against PyTorch).
///
/// # Shapes
/// input and output `[N, C]` or `[N, C, L]` (1d), `[N, C, H, W]` (2d).
///
/// # Errors
/// Training on one value per channel ("Expected more than 1 value per channel when
/// training").
///
/// A `BatchNorm2d` right after a `Conv2d` without bias (and a `ReLU`, a `MaxPool2d`
/// after it) runs in the convolution's op in train mode on the CPU
/// ([`BatchNormEpilogue`]).
pub struct BatchNorm(Arc<Core>);

/// A [`BatchNorm`]'s configuration and state, shared with its [`BatchNormEpilogue`].
struct Core {
    name: &'static str,
    cfg: BatchNormConfig,
    num_features: usize,
    weight: Option<Parameter>,
    bias: Option<Parameter>,
    stats: Option<RunningStats>,
    /// `frozen_batchnorm`: running statistics used and kept in train mode too.
    frozen: AtomicBool,
    /// SyncBatchNorm: the sum over the processes of a data-parallel run.
    sync: RwLock<Option<Arc<dyn ProcessSum>>>,
}

/// The error of PyTorch's `_verify_batch_size`: batch statistics of one value.
fn one_value_check(count: usize, dims: &[usize]) -> Result<()> {
    if count <= 1 {
        return Err(Error::shape(format!(
            "Expected more than 1 value per channel when training, got input size {dims:?}"
        )));
    }
    Ok(())
}

impl Core {
    /// `γ` and `β`, or ones and zeros without `affine` (and without `bias`).
    fn affine_params(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let (c, dt, dev) = (self.num_features, x.dtype(), x.device());
        let w = match &self.weight {
            Some(w) => w.tensor(),
            None => Tensor::ones(c, dt, dev)?,
        };
        let b = match &self.bias {
            Some(b) => b.tensor(),
            None => Tensor::zeros(c, dt, dev)?,
        };
        Ok((w, b))
    }

    /// Updates the running statistics from the batch's (train mode) and reshapes.
    fn finish(
        &self,
        y: Tensor,
        dims: Vec<usize>,
        train: bool,
        mean: Tensor,
        var: Tensor,
        count: usize,
    ) -> Result<Tensor> {
        self.record(train, &mean, &var, count)?;
        Ok(if y.dims() == dims {
            y
        } else {
            y.reshape(dims)?
        })
    }

    /// In train mode, the running statistics updated from a batch's mean and biased
    /// variance over `count` values per channel.
    fn record(&self, train: bool, mean: &Tensor, var: &Tensor, count: usize) -> Result<()> {
        if let (true, Some(stats)) = (train, &self.stats) {
            let tracked = stats.bump()?;
            let m = self.cfg.momentum.unwrap_or(1.0 / tracked as f64);
            let unbiased = var.affine(count as f64 / (count - 1) as f64, 0.0)?;
            stats.update(m, mean, &unbiased)?;
        }
        Ok(())
    }

    /// Train mode as the layer runs it: `train`, unless frozen with running statistics.
    fn training(&self, train: bool) -> bool {
        train && !(self.frozen.load(Ordering::Relaxed) && self.stats.is_some())
    }

    /// SyncBatchNorm's sum over the processes, when set.
    fn synced(&self) -> Option<Arc<dyn ProcessSum>> {
        self.sync.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Train mode with the statistics of every process's batch (SyncBatchNorm),
    /// composed from candle ops: autograd gives PyTorch's SyncBatchNorm backward.
    fn apply_synced(
        &self,
        x3: &Tensor,
        dims: Vec<usize>,
        sum: &dyn ProcessSum,
        relu: bool,
    ) -> Result<Tensor> {
        let (mean, var, count) = global_stats(x3, sum)?;
        let c = self.num_features;
        let inv = var
            .affine(1.0, self.cfg.eps)?
            .sqrt()?
            .recip()?
            .reshape((1, c, 1))?;
        let xhat = x3
            .broadcast_sub(&mean.reshape((1, c, 1))?)?
            .broadcast_mul(&inv)?;
        let y = channel_affine(
            &xhat,
            self.weight.as_ref().map(Parameter::tensor).as_ref(),
            self.bias.as_ref().map(Parameter::tensor).as_ref(),
        )?;
        let y = if relu { crate::relu_op::relu(&y)? } else { y };
        self.finish(y, dims, true, mean.detach(), var.detach(), count)
    }

    /// `forward`, and a ReLU after it when `relu` (one fused kernel in train mode on
    /// the CPU).
    fn apply_norm(&self, x: &Tensor, train: bool, relu: bool) -> Result<Tensor> {
        let train = self.training(train);
        let dims = x.dims().to_vec();
        if dims.len() < 2 || dims[1] != self.num_features {
            return Err(Error::shape(format!(
                "{}: expected an input [N, {}, *], got {dims:?}",
                self.name, self.num_features
            )));
        }
        let (n, c) = (dims[0], dims[1]);
        let l: usize = dims[2..].iter().product();
        let x3 = x.reshape((n, c, l))?;
        if train || self.stats.is_none() {
            let count = n * l;
            one_value_check(count, &dims)?;
            if let (true, Some(sum)) = (train, self.synced()) {
                return self.apply_synced(&x3, dims, sum.as_ref(), relu);
            }
            let (y, mean, var) = if wick_tensor::device_path::cpu_kernel(x) {
                // one fused kernel with PyTorch's closed-form backward
                let (w, b) = self.affine_params(x)?;
                let (y, st) = batch_norm_train(x, &w, &b, self.cfg.eps, relu)?;
                return self.finish(y, dims, train, st.get(0)?, st.get(1)?, count);
            } else {
                let (xhat, mean, var) = normalize(&x3, &[0, 2], self.cfg.eps)?;
                let y = channel_affine(
                    &xhat,
                    self.weight.as_ref().map(Parameter::tensor).as_ref(),
                    self.bias.as_ref().map(Parameter::tensor).as_ref(),
                )?;
                (y, mean, var)
            };
            let y = if relu { crate::relu_op::relu(&y)? } else { y };
            return self.finish(y, dims, train, mean, var, count);
        }
        // eval mode: the running statistics
        let stats = self
            .stats
            .as_ref()
            .ok_or_else(|| Error::shape("no running statistics"))?;
        if wick_tensor::device_path::cpu_kernel(x) {
            // one pass: (x − running_mean)·γ/√(running_var + eps) + β
            let (w, b) = self.affine_params(x)?;
            let (rm, rv) = (stats.mean.get(), stats.var.get());
            return Ok(batch_norm_eval(x, [&w, &b, &rm, &rv], self.cfg.eps, relu)?);
        }
        let (rm, rv) = stats.shaped(3)?;
        // y = x·scale + shift, scale = γ/√(var + eps), shift = β − mean·scale (as
        // PyTorch's eval kernel), two passes over x instead of four
        let mut scale = rv.affine(1.0, self.cfg.eps)?.sqrt()?.recip()?;
        if let Some(w) = &self.weight {
            scale = scale.broadcast_mul(&w.tensor().reshape((1, c, 1))?)?;
        }
        let mut shift = rm.broadcast_mul(&scale)?.neg()?;
        if let Some(b) = &self.bias {
            shift = shift.broadcast_add(&b.tensor().reshape((1, c, 1))?)?;
        }
        let y = x3.broadcast_mul(&scale)?.broadcast_add(&shift)?;
        let y = if relu { crate::relu_op::relu(&y)? } else { y };
        Ok(y.reshape(dims)?)
    }
}

impl Layer for BatchNorm {
    fn type_name(&self) -> &'static str {
        self.0.name
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.0.apply_norm(x, train, false)
    }

    /// [`Epilogue::BatchNorm`], for `BatchNorm2d` (a convolution before it may run it).
    fn epilogue(&self) -> Option<Epilogue> {
        (self.0.name == "BatchNorm2d")
            .then(|| Epilogue::BatchNorm(BatchNormEpilogue::new(self.0.clone())))
    }

    fn freeze_batchnorm(&self, on: bool) {
        self.0.frozen.store(on, Ordering::Relaxed);
    }

    fn sync_batchnorm(&self, sum: Option<Arc<dyn ProcessSum>>) {
        if let Ok(mut s) = self.0.sync.write() {
            *s = sum;
        }
    }

    /// A `ReLU` (on the CPU, `BatchNorm → ReLU` is one kernel).
    fn fuses(&self, next: &[Epilogue]) -> usize {
        usize::from(next.first() == Some(&Epilogue::Relu))
    }

    fn forward_fused(&self, x: &Tensor, train: bool, epilogue: &[Epilogue]) -> Result<Tensor> {
        match Epilogue::leading_relu(epilogue) {
            (true, rest) if wick_tensor::device_path::cpu_kernel(x) => {
                Epilogue::apply_all(self.0.apply_norm(x, train, true)?, rest, train)
            }
            _ => Epilogue::apply_all(self.forward(x, train)?, epilogue, train),
        }
    }

    fn parameters(&self) -> Vec<Param> {
        let mut p = Vec::new();
        if let Some(w) = &self.0.weight {
            p.push(Param::of("weight", w));
        }
        if let Some(b) = &self.0.bias {
            p.push(Param::of("bias", b));
        }
        p
    }

    fn buffers(&self) -> Vec<(String, Tensor)> {
        self.0
            .stats
            .as_ref()
            .map(RunningStats::buffers)
            .unwrap_or_default()
    }

    fn load_buffer(&self, name: &str, value: &Tensor) -> Result<()> {
        match &self.0.stats {
            Some(s) => s.load(name, value),
            None => Err(Error::shape(format!(
                "unexpected key in state_dict: {name:?}"
            ))),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{}({}, eps={}, momentum={}, affine={}, bias={}, track_running_stats={})",
            self.0.name,
            self.0.num_features,
            py_float(self.0.cfg.eps),
            self.0.cfg.momentum.map_or("None".into(), py_float),
            py_bool(self.0.cfg.affine),
            py_bool(self.0.bias.is_some()),
            py_bool(self.0.cfg.track_running_stats)
        )
    }
}

/// The state a [`BatchNorm`] shares with its [`BatchNormEpilogue`].
impl FusedNorm for Core {
    fn apply(&self, x: &Tensor, train: bool, relu: bool) -> Result<Tensor> {
        self.apply_norm(x, train, relu)
    }

    /// In train mode on the CPU (f32, f64) the convolution, the normalization, a `ReLU`
    /// and a `MaxPool2d` after it are one op, [`crate::ops::conv2d_batch_norm`];
    /// elsewhere, in eval mode and with SyncBatchNorm, the ops run one after the other.
    fn after_conv2d(
        &self,
        x: &Tensor,
        weight: &Tensor,
        geom: ConvGeom,
        train: bool,
        then: &[Epilogue],
    ) -> Result<Tensor> {
        let train = self.training(train);
        let batch = train || self.stats.is_none();
        let fused = batch && cpu_kernel(x) && !(train && self.synced().is_some());
        let (relu, rest) = Epilogue::leading_relu(then);
        let out = match (x.dims(), weight.dims()) {
            (&[n, _, h, w], &[c, _, kh, kw]) if fused && c == self.num_features => {
                geom.conv_hw(h, w, kh, kw).map(|(oh, ow)| [n, c, oh, ow])
            }
            _ => None,
        };
        let Some(dims) = out else {
            // another device or mode, or sizes the convolution will report
            let y = self.apply_norm(&ops::conv2d(x, weight, None, geom)?, train, relu)?;
            return Epilogue::apply_all(y, rest, train);
        };
        let (pool, rest) = match rest {
            [Epilogue::MaxPool(p), rest @ ..] => (Some(*p), rest),
            _ => (None, rest),
        };
        let count = dims[0] * dims[2] * dims[3];
        one_value_check(count, &dims)?;
        let (aw, ab) = self.affine_params(x)?;
        let eps = self.cfg.eps;
        let (y, st) = ops::conv2d_batch_norm(x, weight, [&aw, &ab], geom, eps, (relu, pool))?;
        self.record(train, &st.get(0)?, &st.get(1)?, count)?;
        Epilogue::apply_all(y, rest, train)
    }

    fn name(&self) -> String {
        format!("{}({})", self.name, self.num_features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LayerConfig;

    #[test]
    fn momentum_none_is_spelled_none() {
        let c: LayerConfig =
            serde_json::from_str(r#"{"type": "BatchNorm2d", "momentum": "None"}"#).unwrap();
        assert_eq!(
            c.downcast_ref::<BatchNorm2dConfig>().unwrap().momentum,
            None
        );
        let back = serde_json::to_string(&c).unwrap();
        assert!(back.contains(r#""momentum":"None""#), "{back}");
        let c: LayerConfig = serde_json::from_str(r#"{"type": "BatchNorm1d"}"#).unwrap();
        assert_eq!(
            c,
            LayerConfig::from(BatchNorm1dConfig(BatchNormConfig::default()))
        );
        let e = serde_json::from_str::<LayerConfig>(r#"{"type": "BatchNorm1d", "momentum": "x"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected a number or \"None\""), "{e}");
        let mut bad = BatchNormConfig {
            momentum: Some(1.5),
            ..BatchNormConfig::default()
        };
        let e = bad.infer(2, &[3, 4, 4]).unwrap_err().to_string();
        assert!(e.contains("Invalid momentum: 1.5"), "{e}");
        let mut bn2 = BatchNormConfig::new(4);
        let e = bn2.infer(2, &[3, 4, 4]).unwrap_err().to_string();
        assert!(
            e.contains("num_features = 4") && e.contains("[-1, 3, 4, 4]"),
            "{e}"
        );
        let e = BatchNormConfig::default()
            .infer(2, &[3])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("BatchNorm2d expected 4D input (got 2D input"),
            "{e}"
        );
    }
}
