//! Batch normalization in train mode as one candle custom op with its backward.
//!
//! Composed from candle ops (mean over two dimensions, broadcasts) a BatchNorm2d step
//! at `[64, 32, 28, 28]` takes several times PyTorch's time; this kernel makes one pass
//! for the statistics and one for the output, and its backward is PyTorch's closed form
//! `dx = γ·σ⁻¹/M · (M·g − Σg − x̂·Σ(g·x̂))`, `dγ = Σ(g·x̂)`, `dβ = Σg` (sums per
//! channel over the `M = N·L` values). Statistics are accumulated in `f64`. It is
//! checked by gradcheck and by the PyTorch fixtures of every BatchNorm case. CPU only:
//! on other devices the layer uses the composed version.

use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};

trait Float: Copy {
    fn f(self) -> f64;
    fn of(v: f64) -> Self;
}
impl Float for f32 {
    fn f(self) -> f64 {
        f64::from(self)
    }
    fn of(v: f64) -> Self {
        v as f32
    }
}
impl Float for f64 {
    fn f(self) -> f64 {
        self
    }
    fn of(v: f64) -> Self {
        v
    }
}

fn slice<'a, T>(v: &'a [T], l: &Layout) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("batch_norm: inputs must be contiguous"),
    }
}

fn dims3(l: &Layout) -> Result<(usize, usize, usize)> {
    match *l.dims() {
        [n, c, m] => Ok((n, c, m)),
        _ => candle_core::bail!("batch_norm: expected [N, C, L], got {:?}", l.dims()),
    }
}

/// Per-channel mean and biased variance of `x` `[N, C, L]`, in `f64`.
fn stats<T: Float>(x: &[T], (n, c, l): (usize, usize, usize)) -> Vec<(f64, f64)> {
    let m = (n * l) as f64;
    (0..c)
        .map(|ch| {
            let rows = (0..n).map(|i| &x[(i * c + ch) * l..(i * c + ch + 1) * l]);
            let mean = rows.clone().flatten().map(|v| v.f()).sum::<f64>() / m;
            let var = rows.flatten().map(|v| (v.f() - mean).powi(2)).sum::<f64>() / m;
            (mean, var)
        })
        .collect()
}

/// `[2, C]`: batch mean and biased variance per channel (no gradient).
pub(crate) struct ChannelStats;

impl CustomOp1 for ChannelStats {
    fn name(&self) -> &'static str {
        "wick-batch-norm-stats"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let d = dims3(l)?;
        let pack = |st: Vec<(f64, f64)>| -> Vec<f64> {
            st.iter()
                .map(|p| p.0)
                .chain(st.iter().map(|p| p.1))
                .collect()
        };
        let out = match s {
            CpuStorage::F32(v) => CpuStorage::F32(
                pack(stats(slice(v, l)?, d))
                    .iter()
                    .map(|&v| v as f32)
                    .collect(),
            ),
            CpuStorage::F64(v) => CpuStorage::F64(pack(stats(slice(v, l)?, d))),
            _ => candle_core::bail!("batch_norm: only f32 and f64"),
        };
        Ok((out, Shape::from((2, d.1))))
    }
}

/// `y = (x − mean)/√(var + eps)·γ + β` with batch statistics; args `(x [N,C,L], γ [C], β [C])`.
pub(crate) struct BatchNormTrain {
    pub(crate) eps: f64,
}

impl BatchNormTrain {
    fn fwd<T: Float>(&self, x: &[T], w: &[T], b: &[T], d: (usize, usize, usize)) -> Vec<T> {
        let (n, c, l) = d;
        let st = stats(x, d);
        let mut y = vec![T::of(0.0); x.len()];
        for i in 0..n {
            for (ch, &(mean, var)) in st.iter().enumerate() {
                let inv = 1.0 / (var + self.eps).sqrt();
                let (g, bb) = (w[ch].f(), b[ch].f());
                let o = (i * c + ch) * l;
                for (yv, xv) in y[o..o + l].iter_mut().zip(&x[o..o + l]) {
                    *yv = T::of((xv.f() - mean) * inv * g + bb);
                }
            }
        }
        y
    }

    /// `[dx (N·C·L), dγ (C), dβ (C)]`, flat.
    fn bwd_flat<T: Float>(&self, x: &[T], w: &[T], g: &[T], d: (usize, usize, usize)) -> Vec<T> {
        let (n, c, l) = d;
        let m = (n * l) as f64;
        let st = stats(x, d);
        let mut out = vec![T::of(0.0); x.len() + 2 * c];
        for (ch, &(mean, var)) in st.iter().enumerate() {
            let inv = 1.0 / (var + self.eps).sqrt();
            let (mut sg, mut sgx) = (0f64, 0f64);
            for i in 0..n {
                let o = (i * c + ch) * l;
                for (xv, gv) in x[o..o + l].iter().zip(&g[o..o + l]) {
                    sg += gv.f();
                    sgx += gv.f() * (xv.f() - mean) * inv;
                }
            }
            let k = w[ch].f() * inv / m;
            for i in 0..n {
                let o = (i * c + ch) * l;
                for j in o..o + l {
                    let xhat = (x[j].f() - mean) * inv;
                    out[j] = T::of(k * (m * g[j].f() - sg - xhat * sgx));
                }
            }
            out[x.len() + ch] = T::of(sgx);
            out[x.len() + c + ch] = T::of(sg);
        }
        out
    }
}

impl CustomOp3 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "wick-batch-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = dims3(l1)?;
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(b)) => {
                CpuStorage::F32(self.fwd(slice(x, l1)?, slice(w, l2)?, slice(b, l3)?, d))
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(b)) => {
                CpuStorage::F64(self.fwd(slice(x, l1)?, slice(w, l2)?, slice(b, l3)?, d))
            }
            _ => candle_core::bail!("batch_norm: only f32 and f64, all the same"),
        };
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, c, l) = x.dims3()?;
        let flat = x.apply_op3_no_bwd(w, &grad.contiguous()?, &BatchNormGrad(self.eps))?;
        let dx = flat.narrow(0, 0, n * c * l)?.reshape((n, c, l))?;
        let dw = flat.narrow(0, n * c * l, c)?;
        let db = flat.narrow(0, n * c * l + c, c)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

struct BatchNormGrad(f64);

impl CustomOp3 for BatchNormGrad {
    fn name(&self) -> &'static str {
        "wick-batch-norm-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = dims3(l1)?;
        let op = BatchNormTrain { eps: self.0 };
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(g)) => {
                CpuStorage::F32(op.bwd_flat(slice(x, l1)?, slice(w, l2)?, slice(g, l3)?, d))
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(g)) => {
                CpuStorage::F64(op.bwd_flat(slice(x, l1)?, slice(w, l2)?, slice(g, l3)?, d))
            }
            _ => candle_core::bail!("batch_norm backward: only f32 and f64, all the same"),
        };
        Ok((out, Shape::from(d.0 * d.1 * d.2 + 2 * d.1)))
    }
}

/// Train-mode batch norm of `x` `[N, C, L]` with `γ`, `β` `[C]`; returns the output and
/// the `[2, C]` batch statistics (mean, biased variance; without gradient).
pub(crate) fn batch_norm_train(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor)> {
    let x = x.contiguous()?;
    let st = x.apply_op1_no_bwd(&ChannelStats)?;
    let y = x.apply_op3(&w.contiguous()?, &b.contiguous()?, BatchNormTrain { eps })?;
    Ok((y, st))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use wick_tensor::gradcheck::gradcheck;

    #[test]
    fn gradcheck_batch_norm_train() {
        let x: Vec<f64> = (0..3 * 4 * 5)
            .map(|i| ((i * 37) % 23) as f64 / 7.0 - 1.5)
            .collect();
        let x = Tensor::from_vec(x, (3, 4, 5), &Device::Cpu).unwrap();
        let w = Tensor::new(&[0.5f64, -1.2, 2.0, 0.9], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0.1f64, 0.2, -0.3, 0.0], &Device::Cpu).unwrap();
        gradcheck(
            |v| Ok(batch_norm_train(&v[0], &v[1], &v[2], 1e-5)?.0),
            &[x, w, b],
        )
        .unwrap();
    }
}
