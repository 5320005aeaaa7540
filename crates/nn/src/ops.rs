//! Ops whose candle version has a wrong or missing gradient, as candle custom ops with
//! their own backward.
//!
//! - [`relu`]: candle's backward passes the gradient where `x == 0` (it tests `x ≥ 0`);
//!   PyTorch's `threshold_backward` passes it only where `x > 0`.
//! - [`max_pool2d`]: candle's backward scales the gradient by `1/(kh·kw)` and has no
//!   backward for stride ≠ kernel; wick's routes the whole gradient to the first
//!   maximum of each window (row-major), as PyTorch's CPU kernel does, and supports
//!   stride, padding, dilation and ceil mode.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

fn contiguous<'a, T>(v: &'a [T], layout: &Layout, op: &'static str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

/// Applies `$body` to the storage as a typed slice for the float dtypes wick trains in.
macro_rules! float_dispatch {
    ($s:expr, $layout:expr, $op:expr, |$v:ident| $body:expr) => {
        match $s {
            CpuStorage::F32(v) => {
                let $v = contiguous(v, $layout, $op)?;
                CpuStorage::F32($body)
            }
            CpuStorage::F64(v) => {
                let $v = contiguous(v, $layout, $op)?;
                CpuStorage::F64($body)
            }
            _ => candle_core::bail!("{}: only f32 and f64 are supported", $op),
        }
    };
}

struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "wick-relu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = float_dispatch!(s, l, "relu", |v| v
            .iter()
            .map(|&x| if x > 0.0 || x.is_nan() { x } else { 0.0 })
            .collect());
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let mask = arg.gt(0.0)?.to_dtype(grad.dtype())?;
        Ok(Some(grad.mul(&mask)?))
    }
}

/// `relu(x) = max(x, 0)` with PyTorch's gradient: `1` where `x > 0`, else `0`.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        // Non-CPU devices: candle's forward, and a mask that gives PyTorch's gradient.
        let mask = x.gt(0.0)?.to_dtype(x.dtype())?;
        return x.mul(&mask);
    }
    x.contiguous()?.apply_op1(Relu)
}

/// Geometry of a 2-D max pooling, with PyTorch's argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    /// `(kH, kW)`.
    pub kernel: (usize, usize),
    /// `(sH, sW)`.
    pub stride: (usize, usize),
    /// Implicit `-inf` padding on each side, `(pH, pW)`.
    pub padding: (usize, usize),
    /// Spacing between window elements, `(dH, dW)`.
    pub dilation: (usize, usize),
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
}

impl Pool2d {
    /// Output length of one dimension, as `pooling_output_shape` in ATen:
    /// `⌊(in + 2p − d·(k−1) − 1 (+ s−1 if ceil)) / s⌋ + 1`, minus one if ceil mode would
    /// start the last window inside the right padding. `None` if it is less than 1.
    pub fn out_len(
        input: usize,
        k: usize,
        s: usize,
        p: usize,
        d: usize,
        ceil: bool,
    ) -> Option<usize> {
        // i128: no user-given size can overflow it
        let (input, k, s, p, d) = (input as i128, k as i128, s as i128, p as i128, d as i128);
        let span = input + 2 * p - d * (k - 1) - 1;
        let numer = span + if ceil { s - 1 } else { 0 };
        if numer < 0 || s <= 0 {
            return None;
        }
        let mut out = numer / s + 1;
        if ceil && (out - 1) * s >= input + p {
            out -= 1;
        }
        let out = usize::try_from(out).ok()?;
        (out >= 1).then_some(out)
    }

    /// `(H_out, W_out)` for an input of `(H, W)`.
    pub fn output_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        Some((
            Self::out_len(
                h,
                self.kernel.0,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
                self.ceil_mode,
            )?,
            Self::out_len(
                w,
                self.kernel.1,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
                self.ceil_mode,
            )?,
        ))
    }

    /// For every output element, the flat index (within its `H·W` plane) of the first
    /// maximum of its window, row-major, NaN winning as in PyTorch.
    fn argmax<T: Copy + PartialOrd>(
        &self,
        x: &[T],
        h: usize,
        w: usize,
        oh: usize,
        ow: usize,
    ) -> Vec<usize> {
        let planes = x.len() / (h * w);
        let mut idx = Vec::with_capacity(planes * oh * ow);
        for p in 0..planes {
            let plane = &x[p * h * w..(p + 1) * h * w];
            for oy in 0..oh {
                let y0 = oy as i64 * self.stride.0 as i64 - self.padding.0 as i64;
                for ox in 0..ow {
                    let x0 = ox as i64 * self.stride.1 as i64 - self.padding.1 as i64;
                    let mut best: Option<T> = None;
                    let mut best_i = 0;
                    for ky in 0..self.kernel.0 {
                        let y = y0 + (ky * self.dilation.0) as i64;
                        if y < 0 || y >= h as i64 {
                            continue;
                        }
                        for kx in 0..self.kernel.1 {
                            let xx = x0 + (kx * self.dilation.1) as i64;
                            if xx < 0 || xx >= w as i64 {
                                continue;
                            }
                            let i = y as usize * w + xx as usize;
                            let v = plane[i];
                            #[allow(clippy::eq_op)]
                            let is_nan = v != v;
                            if best.is_none_or(|b| v > b) || is_nan {
                                best = Some(v);
                                best_i = i;
                            }
                        }
                    }
                    idx.push(best_i);
                }
            }
        }
        idx
    }
}

fn dims4(l: &Layout, op: &'static str) -> Result<(usize, usize, usize, usize)> {
    match *l.dims() {
        [n, c, h, w] => Ok((n, c, h, w)),
        _ => candle_core::bail!("{op}: expected a [N, C, H, W] input, got {:?}", l.dims()),
    }
}

struct MaxPool2dFwd(Pool2d);

impl CustomOp1 for MaxPool2dFwd {
    fn name(&self) -> &'static str {
        "wick-max-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = dims4(l, "max_pool2d")?;
        let Some((oh, ow)) = self.0.output_hw(h, w) else {
            candle_core::bail!("max_pool2d: input {h}x{w} is too small for {:?}", self.0)
        };
        let out = float_dispatch!(s, l, "max_pool2d", |v| {
            let idx = self.0.argmax(v, h, w, oh, ow);
            idx.iter()
                .enumerate()
                .map(|(o, &i)| v[(o / (oh * ow)) * h * w + i])
                .collect()
        });
        Ok((out, Shape::from((n, c, oh, ow))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(
            &grad.contiguous()?,
            &MaxPool2dBwd(self.0),
        )?))
    }
}

struct MaxPool2dBwd(Pool2d);

impl CustomOp2 for MaxPool2dBwd {
    fn name(&self) -> &'static str {
        "wick-max-pool2d-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, _, h, w) = dims4(l1, "max_pool2d backward")?;
        let (_, _, oh, ow) = dims4(l2, "max_pool2d backward")?;
        let out = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(g)) => {
                CpuStorage::F32(self.grad_input(x, l1, g, l2, (h, w, oh, ow))?)
            }
            (CpuStorage::F64(x), CpuStorage::F64(g)) => {
                CpuStorage::F64(self.grad_input(x, l1, g, l2, (h, w, oh, ow))?)
            }
            _ => candle_core::bail!("max_pool2d backward: unsupported dtypes"),
        };
        Ok((out, l1.shape().clone()))
    }
}

impl MaxPool2dBwd {
    /// Routes each output gradient to its window's argmax (summing where windows overlap).
    fn grad_input<T: Copy + Default + PartialOrd + std::ops::AddAssign>(
        &self,
        x: &[T],
        lx: &Layout,
        g: &[T],
        lg: &Layout,
        (h, w, oh, ow): (usize, usize, usize, usize),
    ) -> Result<Vec<T>> {
        let (x, g) = (
            contiguous(x, lx, "max_pool2d")?,
            contiguous(g, lg, "max_pool2d")?,
        );
        let mut out = vec![T::default(); x.len()];
        for (o, (&i, &gv)) in self.0.argmax(x, h, w, oh, ow).iter().zip(g).enumerate() {
            out[(o / (oh * ow)) * h * w + i] += gv;
        }
        Ok(out)
    }
}

/// `torch.nn.functional.max_pool2d` on `[N, C, H, W]`, with PyTorch's gradient.
///
/// The kernel is a CPU one; on another device the input goes to the CPU and back
/// (differentiably), until a device kernel exists.
pub fn max_pool2d(x: &Tensor, p: Pool2d) -> Result<Tensor> {
    if !x.device().is_cpu() {
        let dev = x.device().clone();
        return max_pool2d(&x.to_device(&candle_core::Device::Cpu)?, p)?.to_device(&dev);
    }
    x.contiguous()?.apply_op1(MaxPool2dFwd(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use wick_tensor::gradcheck::gradcheck;

    fn pool(k: usize, s: usize, p: usize, d: usize, ceil: bool) -> Pool2d {
        Pool2d {
            kernel: (k, k),
            stride: (s, s),
            padding: (p, p),
            dilation: (d, d),
            ceil_mode: ceil,
        }
    }

    #[test]
    fn gradient_is_not_scaled_like_candles() {
        let x = Tensor::new(&[[[[1f32, 2.], [3., 4.]]]], &Device::Cpu).unwrap();
        let v = candle_core::Var::from_tensor(&x).unwrap();
        let y = max_pool2d(v.as_tensor(), pool(2, 2, 0, 1, false)).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        let g: Vec<f32> = g
            .get(v.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(g, vec![0., 0., 0., 1.]);
    }

    #[test]
    fn output_sizes_match_aten() {
        assert_eq!(Pool2d::out_len(28, 2, 2, 0, 1, false), Some(14));
        assert_eq!(Pool2d::out_len(5, 2, 2, 0, 1, false), Some(2));
        assert_eq!(Pool2d::out_len(5, 2, 2, 0, 1, true), Some(3));
        assert_eq!(Pool2d::out_len(6, 3, 2, 1, 1, false), Some(3));
        // ceil mode never starts a window in the right padding
        assert_eq!(Pool2d::out_len(4, 2, 2, 1, 1, true), Some(3));
        assert_eq!(Pool2d::out_len(1, 3, 1, 0, 1, false), None);
    }

    #[test]
    fn gradcheck_all_geometries() {
        // distinct values so that finite differences do not cross a tie
        let vals: Vec<f64> = (0..2 * 2 * 7 * 6)
            .map(|i| ((i * 53) % 97) as f64 / 10.0)
            .collect();
        let x = Tensor::from_vec(vals, (2, 2, 7, 6), &Device::Cpu).unwrap();
        for p in [
            pool(2, 2, 0, 1, false),
            pool(3, 2, 1, 1, false),
            pool(2, 1, 0, 2, false),
            pool(3, 2, 0, 1, true),
            pool(2, 3, 1, 1, true),
        ] {
            gradcheck(|v| max_pool2d(&v[0], p), std::slice::from_ref(&x)).unwrap();
        }
    }

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
        gradcheck(|v| relu(&v[0]), &[x]).unwrap();
    }
}
