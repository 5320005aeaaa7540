//! Parameter initialization, as `torch.nn.init`.
//!
//! Values are drawn on the CPU from a [`SeedRng`] and then moved to the device, so a
//! seed gives the same initial weights on every device.

use crate::{Result, SeedRng};
use candle_core::{DType, Device, Shape, Tensor};
use serde::{Deserialize, Serialize};

/// `fan_in` and `fan_out` of a weight of the given shape, as
/// `torch.nn.init._calculate_fan_in_and_fan_out`: for `[out, in, k…]`,
/// `fan_in = in·∏k`, `fan_out = out·∏k`.
pub fn fan_in_fan_out(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [out, inp, rest @ ..] => {
            let field: usize = rest.iter().product();
            (inp * field, out * field)
        }
    }
}

/// `torch.nn.init.calculate_gain` for `leaky_relu` with negative slope `a`:
/// `sqrt(2 / (1 + a²))`.
pub fn leaky_relu_gain(a: f64) -> f64 {
    (2.0 / (1.0 + a * a)).sqrt()
}

/// `torch.nn.init.uniform_(t, low, high)`: values drawn from `U(low, high)`.
pub fn uniform(
    shape: impl Into<Shape>,
    low: f64,
    high: f64,
    dtype: DType,
    device: &Device,
    rng: &mut SeedRng,
) -> Result<Tensor> {
    let shape = shape.into();
    let data: Vec<f64> = (0..shape.elem_count())
        .map(|_| rng.uniform(low, high))
        .collect();
    Ok(Tensor::from_vec(data, shape, &Device::Cpu)?
        .to_dtype(dtype)?
        .to_device(device)?)
}

/// `torch.nn.init.kaiming_uniform_(w, a, mode="fan_in", nonlinearity="leaky_relu")`:
/// `U(-b, b)` with `b = gain(a) · sqrt(3 / fan_in)`. With PyTorch's layer default
/// `a = sqrt(5)` this is `b = 1 / sqrt(fan_in)`.
pub fn kaiming_uniform(
    shape: impl Into<Shape>,
    a: f64,
    dtype: DType,
    device: &Device,
    rng: &mut SeedRng,
) -> Result<Tensor> {
    let shape = shape.into();
    let (fan_in, _) = fan_in_fan_out(shape.dims());
    let bound = leaky_relu_gain(a) * (3.0 / fan_in.max(1) as f64).sqrt();
    uniform(shape, -bound, bound, dtype, device, rng)
}

/// The default init of PyTorch's `Linear` and `ConvNd` (`reset_parameters`):
/// weight `kaiming_uniform_(a=sqrt(5))`, i.e. `U(±1/sqrt(fan_in))`, and bias
/// `U(±1/sqrt(fan_in))`.
pub fn torch_default_weight_bias(
    weight_shape: &[usize],
    bias: bool,
    dtype: DType,
    device: &Device,
    rng: &mut SeedRng,
) -> Result<(Tensor, Option<Tensor>)> {
    let w = kaiming_uniform(weight_shape, 5f64.sqrt(), dtype, device, rng)?;
    let b = if bias {
        let (fan_in, _) = fan_in_fan_out(weight_shape);
        let bound = if fan_in > 0 {
            1.0 / (fan_in as f64).sqrt()
        } else {
            0.0
        };
        Some(uniform(weight_shape[0], -bound, bound, dtype, device, rng)?)
    } else {
        None
    };
    Ok((w, b))
}

/// `torch.nn.init.normal_(t, mean, std)`: values drawn from `N(mean, std²)`.
pub fn normal(
    shape: impl Into<Shape>,
    mean: f64,
    std: f64,
    dtype: DType,
    device: &Device,
    rng: &mut SeedRng,
) -> Result<Tensor> {
    let shape = shape.into();
    let data: Vec<f64> = (0..shape.elem_count())
        .map(|_| mean + std * rng.normal())
        .collect();
    from_f64(data, shape, dtype, device)
}

fn from_f64(data: Vec<f64>, shape: Shape, dtype: DType, device: &Device) -> Result<Tensor> {
    Ok(Tensor::from_vec(data, shape, &Device::Cpu)?
        .to_dtype(dtype)?
        .to_device(device)?)
}

/// A `torch.nn.init` nonlinearity name, for [`calculate_gain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nonlinearity {
    /// `"linear"`: gain 1.
    Linear,
    /// `"conv1d"`: gain 1.
    Conv1d,
    /// `"conv2d"`: gain 1.
    Conv2d,
    /// `"conv3d"`: gain 1.
    Conv3d,
    /// `"conv_transpose1d"`: gain 1.
    ConvTranspose1d,
    /// `"conv_transpose2d"`: gain 1.
    ConvTranspose2d,
    /// `"conv_transpose3d"`: gain 1.
    ConvTranspose3d,
    /// `"sigmoid"`: gain 1.
    Sigmoid,
    /// `"tanh"`: gain 5/3.
    Tanh,
    /// `"relu"`: gain √2.
    Relu,
    /// `"leaky_relu"` (kaiming's default): gain √(2 / (1 + slope²)).
    #[default]
    LeakyRelu,
    /// `"selu"`: gain 3/4.
    Selu,
}

/// `torch.nn.init.calculate_gain(nonlinearity, param)`. `param` is the negative slope
/// of `leaky_relu` (default 0.01) and is ignored otherwise.
pub fn calculate_gain(nonlinearity: Nonlinearity, param: Option<f64>) -> f64 {
    use Nonlinearity::*;
    match nonlinearity {
        Linear | Conv1d | Conv2d | Conv3d | ConvTranspose1d | ConvTranspose2d | ConvTranspose3d
        | Sigmoid => 1.0,
        Tanh => 5.0 / 3.0,
        Relu => 2f64.sqrt(),
        LeakyRelu => leaky_relu_gain(param.unwrap_or(0.01)),
        Selu => 0.75,
    }
}

/// Which fan kaiming init scales by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    /// `"fan_in"` (default): preserves the forward pass's variance.
    #[default]
    FanIn,
    /// `"fan_out"`: preserves the backward pass's variance.
    FanOut,
}

fn zero() -> f64 {
    0.0
}
fn one() -> f64 {
    1.0
}
fn minus_two() -> f64 {
    -2.0
}
fn two() -> f64 {
    2.0
}

/// A `torch.nn.init` scheme, as written in an experiment file:
/// `{ type = "kaiming_normal", mode = "fan_out", nonlinearity = "relu" }`. The type is
/// the function's name without its trailing underscore; the other keys are its
/// arguments, with PyTorch's defaults.
///
/// Values are drawn from wick's own random generator, so they follow the same
/// distribution as PyTorch's but are not the same numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum InitScheme {
    /// `uniform_(a=0, b=1)`: `U(a, b)`.
    Uniform {
        /// Lower bound (default 0).
        #[serde(default = "zero")]
        a: f64,
        /// Upper bound (default 1).
        #[serde(default = "one")]
        b: f64,
    },
    /// `normal_(mean=0, std=1)`: `N(mean, std²)`.
    Normal {
        /// Mean (default 0).
        #[serde(default = "zero")]
        mean: f64,
        /// Standard deviation (default 1).
        #[serde(default = "one")]
        std: f64,
    },
    /// `trunc_normal_(mean=0, std=1, a=-2, b=2)`: `N(mean, std²)` restricted to `[a, b]`.
    TruncNormal {
        /// Mean (default 0).
        #[serde(default = "zero")]
        mean: f64,
        /// Standard deviation (default 1).
        #[serde(default = "one")]
        std: f64,
        /// Lower cut-off (default -2).
        #[serde(default = "minus_two")]
        a: f64,
        /// Upper cut-off (default 2).
        #[serde(default = "two")]
        b: f64,
    },
    /// `constant_(val)`.
    Constant {
        /// The value.
        val: f64,
    },
    /// `zeros_`.
    Zeros,
    /// `ones_`.
    Ones,
    /// `xavier_uniform_(gain=1)`: `U(±gain·√(6 / (fan_in + fan_out)))`.
    XavierUniform {
        /// Scale (default 1).
        #[serde(default = "one")]
        gain: f64,
    },
    /// `xavier_normal_(gain=1)`: `N(0, (gain·√(2 / (fan_in + fan_out)))²)`.
    XavierNormal {
        /// Scale (default 1).
        #[serde(default = "one")]
        gain: f64,
    },
    /// `kaiming_uniform_(a=0, mode="fan_in", nonlinearity="leaky_relu")`:
    /// `U(±gain·√(3 / fan))`.
    KaimingUniform {
        /// Negative slope of the rectifier after this layer (for `leaky_relu`; default 0).
        #[serde(default = "zero")]
        a: f64,
        /// `"fan_in"` (default) or `"fan_out"`.
        #[serde(default)]
        mode: FanMode,
        /// Nonlinearity for the gain (default `"leaky_relu"`).
        #[serde(default)]
        nonlinearity: Nonlinearity,
    },
    /// `kaiming_normal_(a=0, mode="fan_in", nonlinearity="leaky_relu")`:
    /// `N(0, (gain / √fan)²)`.
    KaimingNormal {
        /// Negative slope of the rectifier after this layer (for `leaky_relu`; default 0).
        #[serde(default = "zero")]
        a: f64,
        /// `"fan_in"` (default) or `"fan_out"`.
        #[serde(default)]
        mode: FanMode,
        /// Nonlinearity for the gain (default `"leaky_relu"`).
        #[serde(default)]
        nonlinearity: Nonlinearity,
    },
    /// `orthogonal_(gain=1)`: a (semi-)orthogonal matrix from the QR decomposition of a
    /// normal one, the tensor seen as `[shape[0], numel / shape[0]]`.
    Orthogonal {
        /// Scale (default 1).
        #[serde(default = "one")]
        gain: f64,
    },
}

fn init_err(msg: impl Into<String>) -> crate::Error {
    crate::Error::Init(msg.into())
}

impl InitScheme {
    /// The function's PyTorch name (`"kaiming_normal_"`).
    pub fn torch_name(&self) -> &'static str {
        match self {
            Self::Uniform { .. } => "uniform_",
            Self::Normal { .. } => "normal_",
            Self::TruncNormal { .. } => "trunc_normal_",
            Self::Constant { .. } => "constant_",
            Self::Zeros => "zeros_",
            Self::Ones => "ones_",
            Self::XavierUniform { .. } => "xavier_uniform_",
            Self::XavierNormal { .. } => "xavier_normal_",
            Self::KaimingUniform { .. } => "kaiming_uniform_",
            Self::KaimingNormal { .. } => "kaiming_normal_",
            Self::Orthogonal { .. } => "orthogonal_",
        }
    }

    /// Checks the arguments against the shape of the tensor to fill, with PyTorch's
    /// messages (fans need at least 2 dimensions, orthogonal too, `std ≥ 0`, `a < b`).
    pub fn validate(&self, shape: &[usize]) -> Result<()> {
        let name = self.torch_name();
        let needs_fans = matches!(
            self,
            Self::XavierUniform { .. }
                | Self::XavierNormal { .. }
                | Self::KaimingUniform { .. }
                | Self::KaimingNormal { .. }
        );
        if needs_fans && shape.len() < 2 {
            return Err(init_err(format!(
                "{name}: Fan in and fan out can not be computed for tensor with fewer than 2 \
                 dimensions (shape {shape:?})"
            )));
        }
        match *self {
            Self::Orthogonal { .. } if shape.len() < 2 => Err(init_err(format!(
                "{name}: Only tensors with 2 or more dimensions are supported (shape {shape:?})"
            ))),
            Self::Normal { std, .. } | Self::TruncNormal { std, .. }
                if std.is_nan() || std < 0.0 =>
            {
                Err(init_err(format!(
                    "{name}: std must be non-negative, got {std}"
                )))
            }
            Self::Uniform { a, b } if a.is_nan() || b.is_nan() || a > b => Err(init_err(format!(
                "{name}: expected a <= b, got a = {a}, b = {b}"
            ))),
            Self::TruncNormal { a, b, .. } if a.is_nan() || b.is_nan() || a >= b => Err(init_err(
                format!("{name}: expected a < b, got a = {a}, b = {b}"),
            )),
            _ => Ok(()),
        }
    }

    /// A tensor of `shape` filled by this scheme, drawn on the CPU from `rng`.
    ///
    /// # Errors
    /// The arguments or the shape are invalid for the scheme ([`InitScheme::validate`]).
    pub fn sample(
        &self,
        shape: &[usize],
        dtype: DType,
        device: &Device,
        rng: &mut SeedRng,
    ) -> Result<Tensor> {
        self.validate(shape)?;
        let sh = Shape::from(shape.to_vec());
        let fan = |mode: FanMode| {
            let (fi, fo) = fan_in_fan_out(shape);
            match mode {
                FanMode::FanIn => fi,
                FanMode::FanOut => fo,
            }
        };
        match *self {
            Self::Uniform { a, b } => uniform(sh, a, b, dtype, device, rng),
            Self::Normal { mean, std } => normal(sh, mean, std, dtype, device, rng),
            Self::TruncNormal { mean, std, a, b } => {
                trunc_normal(sh, mean, std, a, b, dtype, device, rng)
            }
            Self::Constant { val } => Ok(Tensor::full(val, sh, device)?.to_dtype(dtype)?),
            Self::Zeros => Ok(Tensor::zeros(sh, dtype, device)?),
            Self::Ones => Ok(Tensor::ones(sh, dtype, device)?),
            Self::XavierUniform { gain } | Self::XavierNormal { gain } => {
                let (fi, fo) = fan_in_fan_out(shape);
                let std = gain * (2.0 / (fi + fo).max(1) as f64).sqrt();
                if matches!(self, Self::XavierUniform { .. }) {
                    let bound = 3f64.sqrt() * std;
                    uniform(sh, -bound, bound, dtype, device, rng)
                } else {
                    normal(sh, 0.0, std, dtype, device, rng)
                }
            }
            Self::KaimingUniform {
                a,
                mode,
                nonlinearity,
            }
            | Self::KaimingNormal {
                a,
                mode,
                nonlinearity,
            } => {
                let f = fan(mode);
                if f == 0 {
                    // PyTorch warns and leaves the (empty) tensor alone.
                    return Ok(Tensor::zeros(sh, dtype, device)?);
                }
                let std = calculate_gain(nonlinearity, Some(a)) / (f as f64).sqrt();
                if matches!(self, Self::KaimingUniform { .. }) {
                    let bound = 3f64.sqrt() * std;
                    uniform(sh, -bound, bound, dtype, device, rng)
                } else {
                    normal(sh, 0.0, std, dtype, device, rng)
                }
            }
            Self::Orthogonal { gain } => orthogonal(shape, gain, dtype, device, rng),
        }
    }
}

/// `torch.nn.init.trunc_normal_(t, mean, std, a, b)`: `N(mean, std²)` conditioned on
/// `[a, b]` (drawn by inverting the normal CDF of a uniform sample in `[Φ(α), Φ(β)]`).
#[allow(clippy::too_many_arguments)]
pub fn trunc_normal(
    shape: impl Into<Shape>,
    mean: f64,
    std: f64,
    a: f64,
    b: f64,
    dtype: DType,
    device: &Device,
    rng: &mut SeedRng,
) -> Result<Tensor> {
    let shape = shape.into();
    let cdf = |x: f64| 0.5 * (1.0 + candle_core::cpu::erf::erf_f64(x / 2f64.sqrt()));
    let (lo, hi) = if std > 0.0 {
        (cdf((a - mean) / std), cdf((b - mean) / std))
    } else {
        (0.5, 0.5)
    };
    let data: Vec<f64> = (0..shape.elem_count())
        .map(|_| {
            let u = rng.uniform(lo, hi);
            // Φ⁻¹(u) = √2 · erfinv(2u − 1)
            let z = 2f64.sqrt() * candle_core::cpu::erf::erf_inv(2.0 * u - 1.0);
            (mean + std * z).clamp(a, b)
        })
        .collect();
    from_f64(data, shape, dtype, device)
}

/// `torch.nn.init.orthogonal_(t, gain)`: the tensor seen as a `rows × cols` matrix
/// (`rows = shape[0]`) filled with the `Q` of the QR decomposition of a standard normal
/// matrix (transposed first when `rows < cols`), signs fixed so that `R`'s diagonal is
/// positive, times `gain`.
pub fn orthogonal(
    shape: &[usize],
    gain: f64,
    dtype: DType,
    device: &Device,
    rng: &mut SeedRng,
) -> Result<Tensor> {
    let rows = *shape.first().ok_or_else(|| {
        init_err("orthogonal_: Only tensors with 2 or more dimensions are supported")
    })?;
    let numel: usize = shape.iter().product();
    let cols = numel.checked_div(rows).unwrap_or(0);
    // a is m × n with m ≥ n, column-major: columns are the vectors to orthonormalize
    let (m, n) = (rows.max(cols), rows.min(cols));
    let mut a: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..m).map(|_| rng.normal()).collect())
        .collect();
    // modified Gram–Schmidt: Q with R's diagonal positive (the norms)
    for j in 0..n {
        for k in 0..j {
            let (done, rest) = a.split_at_mut(j);
            let d: f64 = done[k].iter().zip(&rest[0]).map(|(x, y)| x * y).sum();
            for (y, x) in rest[0].iter_mut().zip(&done[k]) {
                *y -= d * x;
            }
        }
        let norm = a[j].iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            a[j].iter_mut().for_each(|v| *v /= norm);
        }
    }
    // Q is m × n (column j = a[j]); the result is rows × cols: Q if rows ≥ cols, else Qᵀ
    let mut data = vec![0f64; numel];
    for r in 0..rows {
        for c in 0..cols {
            data[r * cols + c] = gain * if rows >= cols { a[c][r] } else { a[r][c] };
        }
    }
    from_f64(data, Shape::from(shape.to_vec()), dtype, device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_follow_pytorch() {
        assert_eq!(fan_in_fan_out(&[512, 784]), (784, 512));
        assert_eq!(fan_in_fan_out(&[32, 3, 5, 5]), (75, 800));
    }

    #[test]
    fn default_init_bound_is_one_over_sqrt_fan_in() {
        let mut rng = SeedRng::new(0);
        let (w, b) =
            torch_default_weight_bias(&[256, 400], true, DType::F32, &Device::Cpu, &mut rng)
                .unwrap();
        let w: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        let bound = 1.0 / 20.0;
        assert!(w.iter().all(|v| v.abs() <= bound));
        // U(-b, b) has mean 0 and variance b²/3.
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = w.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 1e-3, "mean {mean}");
        assert!(
            (var / (bound * bound / 3.0) as f64 - 1.0).abs() < 0.02,
            "var {var}"
        );
        // the extremes come close to the bound
        let max = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(max > bound * 0.999);
        let b: Vec<f32> = b.unwrap().to_vec1().unwrap();
        assert_eq!(b.len(), 256);
        assert!(b.iter().all(|v| v.abs() <= bound));
    }

    #[test]
    fn same_seed_same_weights() {
        let a =
            kaiming_uniform(&[4, 3], 1.0, DType::F32, &Device::Cpu, &mut SeedRng::new(3)).unwrap();
        let b =
            kaiming_uniform(&[4, 3], 1.0, DType::F32, &Device::Cpu, &mut SeedRng::new(3)).unwrap();
        let d = (a - b).unwrap().abs().unwrap().sum_all().unwrap();
        assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
    }

    fn stats(t: &Tensor) -> (f64, f64, f64, f64) {
        let v: Vec<f64> = t
            .to_dtype(DType::F64)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        (mean, std, lo, hi)
    }

    fn sample(s: &InitScheme, shape: &[usize]) -> Tensor {
        s.sample(shape, DType::F32, &Device::Cpu, &mut SeedRng::new(1))
            .unwrap()
    }

    fn close(got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs(),
            "got {got}, want {want} (±{rel})"
        );
    }

    #[test]
    fn gains_follow_calculate_gain() {
        assert_eq!(calculate_gain(Nonlinearity::Linear, None), 1.0);
        assert_eq!(calculate_gain(Nonlinearity::Tanh, None), 5.0 / 3.0);
        assert_eq!(calculate_gain(Nonlinearity::Relu, None), 2f64.sqrt());
        close(
            calculate_gain(Nonlinearity::LeakyRelu, None),
            (2.0 / 1.0001f64).sqrt(),
            1e-12,
        );
        close(
            calculate_gain(Nonlinearity::LeakyRelu, Some(5f64.sqrt())),
            (1.0f64 / 3.0).sqrt(),
            1e-12,
        );
        assert_eq!(calculate_gain(Nonlinearity::Selu, None), 0.75);
    }

    #[test]
    fn distributions_have_pytorchs_moments() {
        // weight [out=256, in=100, 2, 2]: fan_in = 400, fan_out = 1024
        let shape = [256, 100, 2, 2];
        let (fi, fo) = (400.0f64, 1024.0f64);
        // kaiming_normal(mode=fan_out, relu): std = sqrt(2 / fan_out)
        let k = InitScheme::KaimingNormal {
            a: 0.0,
            mode: FanMode::FanOut,
            nonlinearity: Nonlinearity::Relu,
        };
        let (m, sd, _, _) = stats(&sample(&k, &shape));
        assert!(m.abs() < 3e-3, "{m}");
        close(sd, (2.0 / fo).sqrt(), 0.01);
        // kaiming_uniform(a=0, leaky_relu, fan_in): bound = sqrt(2)·sqrt(3/fan_in)
        let k = InitScheme::KaimingUniform {
            a: 0.0,
            mode: FanMode::FanIn,
            nonlinearity: Nonlinearity::LeakyRelu,
        };
        let bound = 2f64.sqrt() * (3.0 / fi).sqrt();
        let (m, sd, lo, hi) = stats(&sample(&k, &shape));
        assert!(m.abs() < 3e-3 && lo >= -bound && hi <= bound && hi > 0.99 * bound);
        close(sd, bound / 3f64.sqrt(), 0.01);
        // xavier
        let std = 2.0 * (2.0 / (fi + fo)).sqrt();
        let (_, sd, _, _) = stats(&sample(&InitScheme::XavierNormal { gain: 2.0 }, &shape));
        close(sd, std, 0.01);
        let (_, sd, lo, hi) = stats(&sample(&InitScheme::XavierUniform { gain: 2.0 }, &shape));
        close(sd, std, 0.01);
        assert!(lo >= -std * 3f64.sqrt() && hi <= std * 3f64.sqrt());
        // normal / uniform / constant / zeros / ones
        let (m, sd, _, _) = stats(&sample(
            &InitScheme::Normal {
                mean: 0.5,
                std: 0.02,
            },
            &shape,
        ));
        close(m, 0.5, 0.01);
        close(sd, 0.02, 0.01);
        let (m, _, lo, hi) = stats(&sample(&InitScheme::Uniform { a: -0.1, b: 0.3 }, &shape));
        close(m, 0.1, 0.02);
        assert!(lo >= -0.1 && hi < 0.3);
        assert_eq!(
            stats(&sample(&InitScheme::Constant { val: 0.25 }, &[3, 2])).2,
            0.25
        );
        assert_eq!(stats(&sample(&InitScheme::Zeros, &[3])).3, 0.0);
        assert_eq!(stats(&sample(&InitScheme::Ones, &[3])).2, 1.0);
        // trunc_normal(std=1, a=-2, b=2): variance of the truncated normal ≈ 0.7737
        let t = InitScheme::TruncNormal {
            mean: 0.0,
            std: 1.0,
            a: -2.0,
            b: 2.0,
        };
        let (m, sd, lo, hi) = stats(&sample(&t, &shape));
        assert!(m.abs() < 0.01 && lo >= -2.0 && hi <= 2.0 && hi > 1.99);
        close(sd, 0.7737f64.sqrt(), 0.01);
    }

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal() {
        for shape in [[6usize, 4], [4, 6], [5, 5]] {
            let t = sample(&InitScheme::Orthogonal { gain: 1.5 }, &shape)
                .to_dtype(DType::F64)
                .unwrap();
            let g = if shape[0] >= shape[1] {
                t.t().unwrap().matmul(&t).unwrap()
            } else {
                t.matmul(&t.t().unwrap()).unwrap()
            };
            let g: Vec<Vec<f64>> = g.to_vec2().unwrap();
            for (i, row) in g.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    let want = if i == j { 2.25 } else { 0.0 };
                    assert!((v - want).abs() < 1e-5, "{shape:?} {i},{j}: {v}");
                }
            }
        }
    }

    #[test]
    fn invalid_arguments_are_errors() {
        let k = InitScheme::KaimingNormal {
            a: 0.0,
            mode: FanMode::FanIn,
            nonlinearity: Nonlinearity::Relu,
        };
        let e = k
            .sample(&[10], DType::F32, &Device::Cpu, &mut SeedRng::new(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("fewer than 2 dimensions"), "{e}");
        let e = InitScheme::Normal {
            mean: 0.0,
            std: -1.0,
        }
        .validate(&[3])
        .unwrap_err()
        .to_string();
        assert!(e.contains("std"), "{e}");
    }
}
