use crate::layer::{py_bool, py_float};
use crate::norm::{self, channel_affine, normalize, ones_zeros, RunningStats};
use crate::{BuildCtx, Error, Layer, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use wick_tensor::{Param, Parameter};

config! {
    /// Arguments of `torch.nn.InstanceNorm2d(num_features, eps=1e-05, momentum=0.1,
    /// affine=False, track_running_stats=False, *, bias=True)`.
    ///
    /// `num_features` may be left out: it is inferred from the input's channels.
    InstanceNorm2dConfig {
        /// `C`; inferred when absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        num_features: Option<usize> = None,
        /// Added to the variance (default 1e-5).
        eps: f64 = 1e-5,
        /// Weight of the new batch in the running statistics (default 0.1); `"None"`
        /// leaves them unchanged, as PyTorch passes 0 then.
        #[serde(with = "norm::momentum", default = "norm::default_momentum")]
        momentum: Option<f64> = Some(0.1),
        /// Learn a per-channel scale and shift (default false).
        affine: bool = false,
        /// With `affine`, learn the shift too (default true; keyword-only in PyTorch).
        bias: bool = true,
        /// Keep running statistics and use them in eval mode (default false).
        track_running_stats: bool = false,
    }
}

impl InstanceNorm2dConfig {
    /// Checks the per-sample input `[C, H, W]`, fills `num_features`.
    pub fn infer(&mut self, input: &[usize]) -> Result<Shape> {
        if input.len() != 3 {
            return Err(Error::shape(format!(
                "InstanceNorm2d expected 4D input (got {}D input: {})",
                input.len() + 1,
                crate::shape::show_batched(input)
            )));
        }
        norm::check_eps_momentum(self.eps, self.momentum)?;
        norm::infer_channels("num_features", &mut self.num_features, input[0], input)?;
        Ok(input.to_vec())
    }

    /// Creates the layer (weight ones, bias zeros; running mean zeros, variance ones).
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<InstanceNorm2d> {
        let c = self
            .num_features
            .ok_or_else(|| Error::field("num_features", "num_features is not known"))?;
        norm::check_eps_momentum(self.eps, self.momentum)?;
        crate::shape::check_param_count("num_features", &[c])?;
        let (weight, bias) = if self.affine {
            let (w, b) = ones_zeros(&[c], ctx.dtype, ctx.device)?;
            let b = Parameter::from_var(b);
            (Some(Parameter::from_var(w)), self.bias.then_some(b))
        } else {
            (None, None)
        };
        Ok(InstanceNorm2d {
            cfg: self.clone(),
            num_features: c,
            weight,
            bias,
            stats: if self.track_running_stats {
                Some(RunningStats::new(c, ctx.dtype, ctx.device)?)
            } else {
                None
            },
        })
    }
}

/// `torch.nn.InstanceNorm2d`: each sample's each channel normalized over its `H×W`
/// values (biased variance), then the optional affine map.
///
/// With `track_running_stats`, train mode updates `running_mean`/`running_var` with the
/// batch mean of the per-instance statistics (unbiased variance), and eval mode
/// normalizes with them. `num_batches_tracked` is kept but, as in PyTorch, never
/// incremented.
///
/// # Shapes
/// input and output `[N, C, H, W]` or unbatched `[C, H, W]`.
pub struct InstanceNorm2d {
    cfg: InstanceNorm2dConfig,
    num_features: usize,
    weight: Option<Parameter>,
    bias: Option<Parameter>,
    stats: Option<RunningStats>,
}

impl Layer for InstanceNorm2d {
    fn type_name(&self) -> &'static str {
        "InstanceNorm2d"
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if x.rank() == 3 {
            return Ok(self.forward(&x.unsqueeze(0)?, train)?.squeeze(0)?);
        }
        let dims = x.dims().to_vec();
        if dims.len() != 4 || dims[1] != self.num_features {
            return Err(Error::shape(format!(
                "InstanceNorm2d: expected an input [N, {}, H, W], got {dims:?}",
                self.num_features
            )));
        }
        let (n, c, l) = (dims[0], dims[1], dims[2] * dims[3]);
        let x3 = x.reshape((n, c, l))?;
        let y = if train || self.stats.is_none() {
            if l <= 1 && train {
                return Err(Error::shape(format!(
                    "Expected more than 1 spatial element when training, got input size {dims:?}"
                )));
            }
            let (xhat, mean, var) = normalize(&x3, &[2], self.cfg.eps)?;
            if let (true, Some(stats)) = (train, &self.stats) {
                let m = self.cfg.momentum.unwrap_or(0.0);
                let unbiased = var.affine(l as f64 / (l.max(2) - 1) as f64, 0.0)?;
                stats.update(m, &mean.mean(0)?, &unbiased.mean(0)?)?;
            }
            xhat
        } else {
            let stats = self
                .stats
                .as_ref()
                .ok_or_else(|| Error::shape("no running statistics"))?;
            let (rm, rv) = stats.shaped(3)?;
            let inv = rv.affine(1.0, self.cfg.eps)?.sqrt()?.recip()?;
            x3.broadcast_sub(&rm)?.broadcast_mul(&inv)?
        };
        let y = channel_affine(
            &y,
            self.weight.as_ref().map(Parameter::tensor).as_ref(),
            self.bias.as_ref().map(Parameter::tensor).as_ref(),
        )?;
        Ok(y.reshape(dims)?)
    }

    fn parameters(&self) -> Vec<Param> {
        let mut p = Vec::new();
        if let Some(w) = &self.weight {
            p.push(Param::of("weight", w));
        }
        if let Some(b) = &self.bias {
            p.push(Param::of("bias", b));
        }
        p
    }

    fn buffers(&self) -> Vec<(String, Tensor)> {
        self.stats
            .as_ref()
            .map(RunningStats::buffers)
            .unwrap_or_default()
    }

    fn load_buffer(&self, name: &str, value: &Tensor) -> Result<()> {
        match &self.stats {
            Some(s) => s.load(name, value),
            None => Err(Error::shape(format!(
                "unexpected key in state_dict: {name:?}"
            ))),
        }
    }

    fn describe(&self) -> String {
        format!(
            "InstanceNorm2d({}, eps={}, momentum={}, affine={}, bias={}, track_running_stats={})",
            self.num_features,
            py_float(self.cfg.eps),
            self.cfg.momentum.map_or("None".into(), py_float),
            py_bool(self.cfg.affine),
            py_bool(self.bias.is_some()),
            py_bool(self.cfg.track_running_stats)
        )
    }
}
