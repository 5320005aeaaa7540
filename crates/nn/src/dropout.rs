use crate::layer::py_float;
use crate::{BuildCtx, Error, Layer, Result, Shape};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use wick_tensor::SeedRng;

config! {
    /// Arguments of `torch.nn.Dropout(p=0.5, inplace=False)` and
    /// `torch.nn.Dropout2d(p=0.5, inplace=False)`.
    DropoutConfig {
        /// Probability of an element (a channel, for Dropout2d) to be zeroed (default 0.5).
        p: f64 = 0.5,
        /// Accepted and ignored (wick never modifies a layer's input).
        inplace: bool = false,
    }
}

variant_config! {
    /// Arguments of `torch.nn.Dropout2d(p=0.5, inplace=False)` (see [`DropoutConfig`]).
    Dropout2dConfig(DropoutConfig)
}

/// Arguments of `torchvision.ops.StochasticDepth(p, mode)`: in train mode a whole
/// sample (`mode = "row"`) or the whole batch (`"batch"`) is zeroed with probability `p`
/// and kept ones are scaled by `1/(1 − p)`; the identity in eval mode. It sits on a
/// residual branch (EfficientNet's MBConv): `x + stochastic_depth(block(x))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StochasticDepthConfig {
    /// Probability of zeroing (required, as torchvision's).
    pub p: f64,
    /// `"row"` (per sample) or `"batch"` (required, as torchvision's).
    pub mode: String,
}

impl StochasticDepthConfig {
    fn granularity(&self) -> Result<Mask> {
        DropoutConfig {
            p: self.p,
            inplace: false,
        }
        .check()?;
        match self.mode.as_str() {
            "row" => Ok(Mask::Row),
            "batch" => Ok(Mask::Batch),
            m => Err(Error::field(
                "mode",
                format!("mode has to be either 'batch' or 'row', but got {m}"),
            )),
        }
    }

    /// Checks `p` and `mode`; the output shape is the input shape.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        self.granularity()?;
        Ok(input.to_vec())
    }

    /// The layer, its random stream seeded from the build's init stream.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<Dropout> {
        Ok(Dropout {
            p: self.p,
            inplace: false,
            mask: self.granularity()?,
            seed: ctx.rng.next_u64(),
            calls: AtomicU64::new(0),
        })
    }
}

/// What one random draw of a [`Dropout`] covers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mask {
    /// An element (`Dropout`).
    Element,
    /// A channel of a sample (`Dropout2d`).
    Channel,
    /// A sample (`StochasticDepth(mode="row")`).
    Row,
    /// The batch (`StochasticDepth(mode="batch")`).
    Batch,
}

impl DropoutConfig {
    fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.p) {
            return Err(Error::field(
                "p",
                format!(
                    "dropout probability has to be between 0 and 1, but got {}",
                    self.p
                ),
            ));
        }
        Ok(())
    }

    /// Checks `p`; the output shape is the input shape. `channelwise` is Dropout2d,
    /// whose per-sample input is `[C, H, W]` (or `[C, L]`).
    pub fn infer(&self, channelwise: bool, input: &[usize]) -> Result<Shape> {
        self.check()?;
        if channelwise && !matches!(input.len(), 2 | 3) {
            return Err(Error::shape(format!(
                "Dropout2d expects a 3D or 4D input (got {}D input: {})",
                input.len() + 1,
                crate::shape::show_batched(input)
            )));
        }
        Ok(input.to_vec())
    }

    /// The layer. Its random stream's seed is drawn from the build's init stream, so the
    /// experiment's seed fixes every mask.
    pub fn init(&self, channelwise: bool, ctx: &mut BuildCtx) -> Result<Dropout> {
        self.check()?;
        Ok(Dropout {
            p: self.p,
            inplace: self.inplace,
            mask: if channelwise {
                Mask::Channel
            } else {
                Mask::Element
            },
            seed: ctx.rng.next_u64(),
            calls: AtomicU64::new(0),
        })
    }
}

/// `torch.nn.Dropout` / `Dropout2d` / `torchvision.ops.StochasticDepth`: in train mode
/// each element (Dropout), each channel of each sample (Dropout2d), each sample or the
/// whole batch (StochasticDepth) is zeroed with probability `p` and the rest are scaled
/// by `1/(1 − p)` (inverted dropout); in eval mode the layer is the identity.
///
/// The `k`-th mask a layer draws comes from `SeedRng::stream(seed, "dropout", [k])`,
/// `seed` drawn at build time from the init stream: the same experiment seed gives the
/// same masks, and a checkpoint restores `k` ([`Layer::rng_counters`]). The mask is a
/// constant, so the gradient is `g · mask`, as PyTorch's.
///
/// On a GPU the mask is still drawn on the host and uploaded, one host-to-device copy
/// per call and nothing read back: drawing it with the device's generator would give
/// other masks than the CPU's, and the same seed must give the same run on every
/// device.
///
/// # Shapes
/// Dropout: any. Dropout2d: `[N, C, H, W]` (mask `[N, C, 1, 1]`) or `[N, C, L]` (mask
/// `[N, C, 1]`).
pub struct Dropout {
    p: f64,
    inplace: bool,
    mask: Mask,
    seed: u64,
    calls: AtomicU64,
}

impl Dropout {
    /// A Dropout (`channelwise = false`) or Dropout2d layer with its own stream seed.
    pub fn new(p: f64, channelwise: bool, seed: u64) -> Result<Self> {
        DropoutConfig { p, inplace: false }.check()?;
        Ok(Self {
            p,
            inplace: false,
            mask: if channelwise {
                Mask::Channel
            } else {
                Mask::Element
            },
            seed,
            calls: AtomicU64::new(0),
        })
    }

    /// The shape of the mask for an input of shape `dims` (broadcast over the rest).
    fn mask_shape(&self, dims: &[usize]) -> Result<Vec<usize>> {
        let ones = |lead: &[usize]| {
            let mut v = lead.to_vec();
            v.resize(dims.len(), 1);
            v
        };
        Ok(match (self.mask, dims) {
            (Mask::Element, _) => dims.to_vec(),
            (Mask::Channel, [n, c, _, _] | [n, c, _]) => ones(&[*n, *c]),
            (Mask::Channel, d) => {
                return Err(Error::shape(format!(
                    "Dropout2d expects a 3D or 4D input, got {d:?}"
                )))
            }
            (Mask::Row, [n, ..]) => ones(&[*n]),
            (Mask::Row | Mask::Batch, _) => ones(&[]),
        })
    }

    /// The mask for call `k`: `1/(1 − p)` kept, `0` dropped, of shape `shape`.
    pub fn mask(&self, k: u64, shape: &[usize]) -> Vec<f32> {
        let mut rng = SeedRng::stream(self.seed, "dropout", &[k]);
        let n: usize = shape.iter().product();
        if self.p >= 1.0 {
            return vec![0.0; n];
        }
        let keep = (1.0 / (1.0 - self.p)) as f32;
        (0..n)
            .map(|_| {
                if rng.uniform(0.0, 1.0) < self.p {
                    0.0
                } else {
                    keep
                }
            })
            .collect()
    }
}

impl Layer for Dropout {
    fn type_name(&self) -> &'static str {
        match self.mask {
            Mask::Element => "Dropout",
            Mask::Channel => "Dropout2d",
            Mask::Row | Mask::Batch => "StochasticDepth",
        }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train || self.p == 0.0 {
            return Ok(x.clone());
        }
        let shape = self.mask_shape(x.dims())?;
        let k = self.calls.fetch_add(1, Ordering::Relaxed);
        if wick_tensor::device_path::cpu_kernel(x) {
            let per = x.elem_count() / shape.iter().product::<usize>().max(1);
            let op = crate::dropout_op::MaskMul::new(self.mask(k, &shape), per);
            return Ok(x.contiguous()?.apply_op1(op)?);
        }
        let mask = Tensor::from_vec(self.mask(k, &shape), shape, &Device::Cpu)?
            .to_dtype(x.dtype())?
            .to_device(x.device())?;
        Ok(x.broadcast_mul(&mask)?)
    }

    fn rng_counters(&self) -> Vec<(String, u64)> {
        vec![("masks_drawn".into(), self.calls.load(Ordering::Relaxed))]
    }

    fn set_rng_counter(&self, name: &str, value: u64) -> Result<()> {
        if name != "masks_drawn" {
            return Err(Error::shape(format!("no random stream named {name:?}")));
        }
        self.calls.store(value, Ordering::Relaxed);
        Ok(())
    }

    fn describe(&self) -> String {
        match self.mask {
            Mask::Row | Mask::Batch => format!(
                "StochasticDepth(p={}, mode={})",
                py_float(self.p),
                if self.mask == Mask::Row {
                    "row"
                } else {
                    "batch"
                }
            ),
            _ => format!(
                "{}(p={}, inplace={})",
                self.type_name(),
                py_float(self.p),
                crate::layer::py_bool(self.inplace)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Var};

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn rate_and_scaling_are_pytorchs() {
        let d = Dropout::new(0.3, false, 7).unwrap();
        let x = Var::from_tensor(&Tensor::ones((100, 1000), DType::F32, &Device::Cpu).unwrap())
            .unwrap();
        let y = d.forward(x.as_tensor(), true).unwrap();
        let v = values(&y);
        let kept = v.iter().filter(|&&a| a != 0.0).count() as f64 / v.len() as f64;
        // 100 000 Bernoulli(0.7): σ ≈ 0.00145
        assert!((kept - 0.7).abs() < 0.006, "kept {kept}");
        let scale = 1.0 / 0.7f32;
        assert!(v.iter().all(|&a| a == 0.0 || (a - scale).abs() < 1e-6));
        // mean preserved
        let mean = v.iter().map(|&a| a as f64).sum::<f64>() / v.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
        // gradient is the mask
        let g = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(values(g.get(x.as_tensor()).unwrap()), v);
        // eval: identity; next call: another mask; same seed & counter: same mask
        assert_eq!(
            values(&d.forward(x.as_tensor(), false).unwrap()),
            vec![1.0; 100_000]
        );
        let y2 = values(&d.forward(x.as_tensor(), true).unwrap());
        assert_ne!(y2, v);
        let again = Dropout::new(0.3, false, 7).unwrap();
        again.set_rng_counter("masks_drawn", 1).unwrap();
        assert_eq!(values(&again.forward(x.as_tensor(), true).unwrap()), y2);
        assert_eq!(d.rng_counters(), vec![("masks_drawn".to_string(), 2)]);
    }

    #[test]
    fn dropout2d_zeroes_whole_channels() {
        let d = Dropout::new(0.5, true, 3).unwrap();
        let x = Tensor::ones((50, 40, 3, 2), DType::F32, &Device::Cpu).unwrap();
        let y = d.forward(&x, true).unwrap();
        let y = y.reshape((2000, 6)).unwrap().to_vec2::<f32>().unwrap();
        let mut dropped = 0;
        for ch in &y {
            assert!(ch.iter().all(|&a| a == ch[0]), "{ch:?}");
            assert!(ch[0] == 0.0 || ch[0] == 2.0);
            dropped += usize::from(ch[0] == 0.0);
        }
        // 2000 Bernoulli(0.5): σ ≈ 22
        assert!((dropped as i64 - 1000).abs() < 110, "{dropped}");
    }

    #[test]
    fn p_one_and_bad_p() {
        let d = Dropout::new(1.0, false, 0).unwrap();
        let x = Tensor::ones(8, DType::F32, &Device::Cpu).unwrap();
        assert_eq!(values(&d.forward(&x, true).unwrap()), vec![0.0; 8]);
        let e = DropoutConfig {
            p: 1.5,
            inplace: false,
        }
        .infer(false, &[3])
        .unwrap_err()
        .to_string();
        assert!(e.contains("between 0 and 1, but got 1.5"), "{e}");
    }

    #[test]
    fn stochastic_depth_drops_whole_samples_or_the_batch() {
        let mut rng = SeedRng::new(0);
        let mut ctx = BuildCtx {
            device: &Device::Cpu,
            dtype: DType::F32,
            rng: &mut rng,
        };
        let cfg = |mode: &str| StochasticDepthConfig {
            p: 0.25,
            mode: mode.into(),
        };
        let row = cfg("row").init(&mut ctx).unwrap();
        assert_eq!(row.describe(), "StochasticDepth(p=0.25, mode=row)");
        let x = Tensor::ones((400, 3, 2, 2), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(values(&row.forward(&x, false).unwrap()), values(&x));
        let y = row.forward(&x, true).unwrap();
        let y = y.reshape((400, 12)).unwrap().to_vec2::<f32>().unwrap();
        let mut dropped = 0;
        for sample in &y {
            assert!(sample.iter().all(|&a| a == sample[0]), "{sample:?}");
            assert!(sample[0] == 0.0 || (sample[0] - 1.0 / 0.75).abs() < 1e-6);
            dropped += usize::from(sample[0] == 0.0);
        }
        // 400 Bernoulli(0.25): σ ≈ 8.7
        assert!((dropped as i64 - 100).abs() < 44, "{dropped}");
        let batch = cfg("batch").init(&mut ctx).unwrap();
        let v = values(&batch.forward(&x, true).unwrap());
        assert!(v.iter().all(|&a| a == v[0]));
        let e = cfg("column").infer(&[3]).unwrap_err().to_string();
        assert!(e.contains("either 'batch' or 'row', but got column"), "{e}");
    }
}
