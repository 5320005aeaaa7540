//! Parameter initialization, as `torch.nn.init`.
//!
//! Values are drawn on the CPU from a [`SeedRng`] and then moved to the device, so a
//! seed gives the same initial weights on every device.

use crate::{Result, SeedRng};
use candle_core::{DType, Device, Shape, Tensor};

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
}
