//! Padding of the last two dimensions with `F.pad`'s modes, as a custom op whose
//! backward sums the gradient of every output element into the input element it was
//! copied from.

use crate::index_cache::indices;
use crate::kernel::with_floats;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How `F.pad` (and a convolution's `padding_mode`) fills the border.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    /// Zeros (`"zeros"`, the convolution default; `F.pad`'s `"constant"` with 0).
    #[default]
    Zeros,
    /// Mirror without repeating the edge: `[a b c]` → `c b | a b c | b a` (`"reflect"`).
    Reflect,
    /// Repeat the edge: `a a | a b c | c c` (`"replicate"`).
    Replicate,
    /// Wrap around: `b c | a b c | a b` (`"circular"`).
    Circular,
}

impl PadMode {
    /// PyTorch's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zeros => "zeros",
            Self::Reflect => "reflect",
            Self::Replicate => "replicate",
            Self::Circular => "circular",
        }
    }

    /// For every index of the padded dimension, the input index it copies, or `None`
    /// for a zero. Errors like PyTorch when the padding is too large for the mode.
    pub fn source_indices(
        self,
        n: usize,
        before: usize,
        after: usize,
    ) -> Result<Vec<Option<usize>>> {
        let too_big = |what: &str| {
            candle_core::bail!(
                "{} padding ({before}, {after}) is too large for a dimension of size {n} ({what})",
                self.as_str()
            )
        };
        match self {
            Self::Reflect if before >= n || after >= n => too_big("it must be < the size")?,
            Self::Circular if before > n || after > n => too_big("it must be ≤ the size")?,
            Self::Replicate if n == 0 && before + after > 0 => too_big("the size is 0")?,
            _ => {}
        }
        let n_i = n as i64;
        Ok((0..before + n + after)
            .map(|o| {
                let i = o as i64 - before as i64;
                if (0..n_i).contains(&i) {
                    return Some(i as usize);
                }
                match self {
                    Self::Zeros => None,
                    Self::Reflect => Some(if i < 0 { -i } else { 2 * (n_i - 1) - i } as usize),
                    Self::Replicate => Some(i.clamp(0, n_i - 1) as usize),
                    Self::Circular => Some(i.rem_euclid(n_i) as usize),
                }
            })
            .collect())
    }
}

/// A padding of `[N, C, H, W]` by per-dimension source maps.
#[derive(Debug, Clone)]
struct PadOp {
    h: usize,
    w: usize,
    rows: Arc<Vec<Option<usize>>>,
    cols: Arc<Vec<Option<usize>>>,
}

impl PadOp {
    fn fwd<T: Copy + Default>(&self, x: &[T]) -> Vec<T> {
        let (oh, ow) = (self.rows.len(), self.cols.len());
        let planes = x.len() / (self.h * self.w).max(1);
        let mut out = vec![T::default(); planes * oh * ow];
        for p in 0..planes {
            let src = &x[p * self.h * self.w..];
            let dst = &mut out[p * oh * ow..(p + 1) * oh * ow];
            for (oy, r) in self.rows.iter().enumerate() {
                let Some(r) = r else { continue };
                for (ox, c) in self.cols.iter().enumerate() {
                    if let Some(c) = c {
                        dst[oy * ow + ox] = src[r * self.w + c];
                    }
                }
            }
        }
        out
    }

    fn bwd<T: Copy + Default + std::ops::AddAssign>(&self, g: &[T]) -> Vec<T> {
        let (oh, ow) = (self.rows.len(), self.cols.len());
        let planes = g.len() / (oh * ow).max(1);
        let mut out = vec![T::default(); planes * self.h * self.w];
        for p in 0..planes {
            let src = &g[p * oh * ow..(p + 1) * oh * ow];
            let dst = &mut out[p * self.h * self.w..(p + 1) * self.h * self.w];
            for (oy, r) in self.rows.iter().enumerate() {
                let Some(r) = r else { continue };
                for (ox, c) in self.cols.iter().enumerate() {
                    if let Some(c) = c {
                        dst[r * self.w + c] += src[oy * ow + ox];
                    }
                }
            }
        }
        out
    }
}

impl CustomOp1 for PadOp {
    fn name(&self) -> &'static str {
        "wick-pad2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let &[n, c, h, w] = l.dims() else {
            candle_core::bail!("pad2d: expected [N, C, H, W], got {:?}", l.dims())
        };
        if (h, w) != (self.h, self.w) {
            candle_core::bail!("pad2d: built for {}x{}, got {h}x{w}", self.h, self.w)
        }
        let out = with_floats!("pad2d", [(s, l) => v], self.fwd(v));
        Ok((out, Shape::from((n, c, self.rows.len(), self.cols.len()))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(
            &grad.contiguous()?,
            &PadBwd(self.clone()),
        )?))
    }
}

/// The gradient of a [`PadOp`], applied to `(input, grad of output)`.
struct PadBwd(PadOp);

impl CustomOp2 for PadBwd {
    fn name(&self) -> &'static str {
        "wick-pad2d-backward"
    }

    fn cpu_fwd(
        &self,
        _s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let out = with_floats!("pad2d backward", [(s2, l2) => g], self.0.bwd(g));
        Ok((out, l1.shape().clone()))
    }
}

/// `F.pad(x, (left, right, top, bottom), mode)` on the last two dimensions of
/// `[N, C, H, W]`, with the gradient summed back into the copied elements.
///
/// # Errors
/// As PyTorch: reflect padding must be smaller than the dimension, circular padding
/// at most its size.
pub fn pad2d(x: &Tensor, h: (usize, usize), w: (usize, usize), mode: PadMode) -> Result<Tensor> {
    let &[_, _, xh, xw] = x.dims() else {
        candle_core::bail!("pad2d: expected [N, C, H, W], got {:?}", x.dims())
    };
    if h == (0, 0) && w == (0, 0) {
        return Ok(x.clone());
    }
    let op = PadOp {
        h: xh,
        w: xw,
        rows: Arc::new(mode.source_indices(xh, h.0, h.1)?),
        cols: Arc::new(mode.source_indices(xw, w.0, w.1)?),
    };
    if !wick_tensor::device_path::cpu_kernel(x) {
        return pad_generic(x, &op);
    }
    x.contiguous()?.apply_op1(op)
}

/// [`PadOp`] composed from candle ops for any device: an extra zero row and column
/// (where the mode needs zeros) and two `index_select`s by the source maps, whose
/// backward (`index_add`) sums the gradient into the copied elements.
fn pad_generic(x: &Tensor, op: &PadOp) -> Result<Tensor> {
    let x = select_along(x, 2, &op.rows, op.h)?;
    select_along(&x, 3, &op.cols, op.w)
}

/// `x` indexed along `dim` (of size `n`) by `map`, `None` reading a zero.
fn select_along(x: &Tensor, dim: usize, map: &[Option<usize>], n: usize) -> Result<Tensor> {
    let zeros = map.iter().any(Option::is_none);
    let x = if zeros {
        x.pad_with_zeros(dim, 0, 1)?
    } else {
        x.clone()
    };
    let idx: Vec<u32> = map.iter().map(|i| i.unwrap_or(n) as u32).collect();
    x.index_select(&indices(x.device(), &idx)?, dim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use wick_tensor::gradcheck::gradcheck;

    #[test]
    fn source_indices_match_torch() {
        let f = |m: PadMode, n, b, a| m.source_indices(n, b, a).unwrap();
        let s = |v: &[usize]| v.iter().map(|&i| Some(i)).collect::<Vec<_>>();
        assert_eq!(f(PadMode::Reflect, 3, 2, 2), s(&[2, 1, 0, 1, 2, 1, 0]));
        assert_eq!(f(PadMode::Replicate, 3, 2, 1), s(&[0, 0, 0, 1, 2, 2]));
        assert_eq!(f(PadMode::Circular, 3, 3, 2), s(&[0, 1, 2, 0, 1, 2, 0, 1]));
        assert_eq!(f(PadMode::Zeros, 2, 1, 0), vec![None, Some(0), Some(1)]);
        assert!(PadMode::Reflect.source_indices(3, 3, 0).is_err());
        assert!(PadMode::Circular.source_indices(3, 0, 4).is_err());
    }

    #[test]
    fn gradcheck_every_mode() {
        let v: Vec<f64> = (0..2 * 3 * 4 * 5)
            .map(|i| ((i * 7) % 11) as f64 / 3.0)
            .collect();
        let x = Tensor::from_vec(v, (2, 3, 4, 5), &Device::Cpu).unwrap();
        for mode in [
            PadMode::Zeros,
            PadMode::Reflect,
            PadMode::Replicate,
            PadMode::Circular,
        ] {
            gradcheck(
                |t| pad2d(&t[0], (2, 1), (3, 0), mode),
                std::slice::from_ref(&x),
            )
            .unwrap();
        }
    }

    /// `pad2d` through the generic path.
    fn pad_generic2d(x: &Tensor, h: (usize, usize), w: (usize, usize), mode: PadMode) -> Tensor {
        let (xh, xw) = (x.dims()[2], x.dims()[3]);
        let op = PadOp {
            h: xh,
            w: xw,
            rows: Arc::new(mode.source_indices(xh, h.0, h.1).unwrap()),
            cols: Arc::new(mode.source_indices(xw, w.0, w.1).unwrap()),
        };
        pad_generic(x, &op).unwrap()
    }

    #[test]
    fn generic_path_equals_the_kernel_in_values_and_gradients() {
        let v: Vec<f64> = (0..2 * 3 * 4 * 5)
            .map(|i| ((i * 7) % 11) as f64 / 3.0)
            .collect();
        let x = Tensor::from_vec(v, (2, 3, 4, 5), &Device::Cpu).unwrap();
        let weight = |y: &Tensor| {
            let n = y.elem_count();
            let w: Vec<f64> = (0..n).map(|i| ((i * 13) % 7) as f64 - 3.0).collect();
            Tensor::from_vec(w, y.shape(), &Device::Cpu).unwrap()
        };
        for mode in [
            PadMode::Zeros,
            PadMode::Reflect,
            PadMode::Replicate,
            PadMode::Circular,
        ] {
            for (h, w) in [((2, 1), (3, 0)), ((0, 3), (1, 4)), ((3, 3), (4, 4))] {
                let run = |generic: bool| {
                    let var = candle_core::Var::from_tensor(&x).unwrap();
                    let y = if generic {
                        pad_generic2d(var.as_tensor(), h, w, mode)
                    } else {
                        pad2d(var.as_tensor(), h, w, mode).unwrap()
                    };
                    let g = (&y * weight(&y))
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .backward()
                        .unwrap();
                    let g = g.get(var.as_tensor()).unwrap().clone();
                    (y, g)
                };
                let (yk, gk) = run(false);
                let (yg, gg) = run(true);
                assert_eq!(yk.dims(), yg.dims(), "{mode:?}");
                let err = wick_tensor::testing::rel_error(&yg, &yk);
                assert!(err < 1e-15, "{mode:?} {h:?} {w:?} value {err}");
                let err = wick_tensor::testing::rel_error(&gg, &gk);
                assert!(err < 1e-15, "{mode:?} {h:?} {w:?} grad {err}");
            }
        }
    }
}
