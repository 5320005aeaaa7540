//! `relu` with PyTorch's gradient, as a candle custom op (candle's backward passes the
//! gradient where `x == 0`; PyTorch's `threshold_backward` only where `x > 0`), and
//! `relu(a + b)` as one op, the end of a residual block.

use crate::kernel::{map, with_floats, zip_map, Float, ReluMask};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "wick-relu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_floats!("relu", [(s, l) => v], map(v, Float::relu));
        Ok((out, l.shape().clone()))
    }

    /// `grad · [x > 0]` in one pass (`[y > 0]` is the same mask: `y = x` where `x > 0`,
    /// and NaN compares false either way).
    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op2_no_bwd(res, &ReluMask)?))
    }
}

/// `relu(x) = max(x, 0)` with PyTorch's gradient: `1` where `x > 0`, else `0`.
///
/// On the CPU in `f32`/`f64` one custom op; elsewhere `relu_generic`.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    if wick_tensor::device_path::cpu_kernel(x) {
        return x.contiguous()?.apply_op1(Relu);
    }
    relu_generic(x)
}

/// `relu(a + b)` in one pass; its backward is the ReLU's mask of the gradient, given to
/// both operands.
struct AddRelu;

impl CustomOp2 for AddRelu {
    fn name(&self) -> &'static str {
        "wick-add-relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            candle_core::bail!("add_relu: operands {:?} and {:?}", l1.dims(), l2.dims())
        }
        let out = with_floats!("add_relu", [(s1, l1) => a, (s2, l2) => b], {
            zip_map(a, b, |a, b| (a + b).relu())
        });
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = grad.contiguous()?.apply_op2_no_bwd(res, &ReluMask)?;
        Ok((a.track_op().then(|| g.clone()), b.track_op().then_some(g)))
    }
}

/// `relu(a + b)` (`F.relu(a + b)`, the end of a ResNet block) with PyTorch's gradient:
/// on the CPU in `f32`/`f64` one op (one pass forward, one mask backward, one graph node
/// instead of two); elsewhere, or for operands of different shapes (broadcasting), the
/// two ops.
pub fn add_relu(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if wick_tensor::device_path::cpu_kernel(a) && a.dims() == b.dims() && a.dtype() == b.dtype() {
        return a.contiguous()?.apply_op2(&b.contiguous()?, AddRelu);
    }
    relu(&a.broadcast_add(b)?)
}

/// [`relu`] composed from candle ops for any device: `where(x > 0, x, 0)` (whose
/// gradient is `grad` where `x > 0`, else 0), NaN kept as NaN (without gradient).
pub(crate) fn relu_generic(x: &Tensor) -> Result<Tensor> {
    let xd = x.detach();
    let y = xd.gt(0.0)?.where_cond(x, &xd.zeros_like()?)?;
    xd.ne(&xd)?.where_cond(&xd, &y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use wick_tensor::gradcheck::gradcheck;

    #[test]
    fn relu_gradient_is_zero_at_zero() {
        let x = Tensor::new(&[-1f32, 0., 2.], &Device::Cpu).unwrap();
        let v = candle_core::Var::from_tensor(&x).unwrap();
        let y = relu(v.as_tensor()).unwrap();
        assert_eq!(y.to_vec1::<f32>().unwrap(), vec![0., 0., 2.]);
        let g = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(
            g.get(v.as_tensor()).unwrap().to_vec1::<f32>().unwrap(),
            vec![0., 0., 1.]
        );
        let x = Tensor::new(&[-1.5f64, 0.3, 2.0, -0.2], &Device::Cpu).unwrap();
        gradcheck(|v| relu(&v[0]), std::slice::from_ref(&x)).unwrap();
        gradcheck(|v| relu_generic(&v[0]), &[x]).unwrap();
    }

    #[test]
    fn add_relu_is_relu_of_the_sum_with_its_gradient() {
        let a = Tensor::new(&[-1.5f64, 0.3, 2.0, -0.2, 0.5, -3.0], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0.4f64, -0.9, 0.25, 0.7, 0.1, 1.0], &Device::Cpu).unwrap();
        let fused = add_relu(&a, &b).unwrap().to_vec1::<f64>().unwrap();
        let plain = relu(&(&a + &b).unwrap()).unwrap().to_vec1::<f64>().unwrap();
        assert_eq!(fused, plain);
        gradcheck(|v| add_relu(&v[0], &v[1]), &[a.clone(), b.clone()]).unwrap();
        // relu'(0) = 0: a sum of exactly zero passes no gradient to either operand
        let (va, vb) = (
            candle_core::Var::new(&[1f32, -2.0], &Device::Cpu).unwrap(),
            candle_core::Var::new(&[-1f32, 3.0], &Device::Cpu).unwrap(),
        );
        let g = add_relu(va.as_tensor(), vb.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&va, &vb] {
            assert_eq!(
                g.get(v.as_tensor()).unwrap().to_vec1::<f32>().unwrap(),
                [0.0, 1.0]
            );
        }
        // a broadcast operand takes the unfused path
        let row = Tensor::new(&[[0.5f64, -0.5, 0.0, 1.0, -1.0, 0.2]], &Device::Cpu).unwrap();
        let m = Tensor::ones((2, 6), candle_core::DType::F64, &Device::Cpu).unwrap();
        assert_eq!(add_relu(&m, &row).unwrap().dims(), [2, 6]);
    }

    #[test]
    fn generic_relu_equals_the_kernel() {
        let vals = [
            -1f64,
            0.,
            -0.,
            2.,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-30,
        ];
        for dtype in [candle_core::DType::F32, candle_core::DType::F64] {
            let x = Tensor::new(&vals, &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let run = |f: fn(&Tensor) -> Result<Tensor>| {
                let v = candle_core::Var::from_tensor(&x).unwrap();
                let y = f(v.as_tensor()).unwrap();
                let g = y.sum_all().unwrap().backward().unwrap();
                let g = g
                    .get(v.as_tensor())
                    .unwrap()
                    .to_dtype(candle_core::DType::F64)
                    .unwrap();
                let y: Vec<f64> = y
                    .to_dtype(candle_core::DType::F64)
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                (format!("{y:?}"), g.to_vec1::<f64>().unwrap())
            };
            let (yk, gk) = run(relu);
            let (yg, gg) = run(relu_generic);
            assert_eq!(yk, yg, "{dtype:?}");
            assert_eq!(gk, gg, "{dtype:?}");
        }
    }
}
