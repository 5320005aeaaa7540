//! Batch normalization in train mode as candle custom ops with their backward.
//!
//! Composed from candle ops (mean over two dimensions, broadcasts) a BatchNorm2d step
//! at `[64, 32, 28, 28]` takes several times PyTorch's time. Here a step reads `x` for
//! the statistics once ([`ChannelStats`], channels in parallel, sums in `f64` over
//! vectorized partial sums), writes `y = (x − μ)·γσ⁻¹ + β` in one pass over the
//! samples in parallel, and its backward is PyTorch's closed form
//! `dx = γσ⁻¹/M · (M·g − Σg − x̂·Σ(g·x̂))`, `dγ = Σ(g·x̂)`, `dβ = Σg` (sums per channel
//! over the `M = N·L` values): one pass for the sums, one for `dx`. The statistics reach
//! the normalization and its backward as an input (`[γ; β; μ; σ²]`), so they are
//! computed once a step. It is checked by gradcheck and by the PyTorch fixtures of every
//! BatchNorm case. CPU only: on other devices the layer uses the composed version.

use crate::kernel::{vectorized, with_floats, Float};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Below this many elements the passes run on the calling thread.
const PAR_MIN: usize = 1 << 15;

/// `(N, C, L)` of an input `[N, C, *]` (`L` the product of the rest, 1 for `[N, C]`):
/// the kernels take any rank, so the layer needs no reshape (each one a graph node whose
/// gradient candle would zero-fill and add).
fn dims3(l: &Layout) -> Result<(usize, usize, usize)> {
    match *l.dims() {
        [n, c, ref rest @ ..] => Ok((n, c, rest.iter().product())),
        _ => candle_core::bail!("batch_norm: expected [N, C, *], got {:?}", l.dims()),
    }
}

/// `Σ f(v)` over a row with eight running sums in `T` (they vectorize; a row is one
/// sample's plane, so each holds a few hundred terms at most), added up in `f64`.
fn row_sum<T: Float>(row: &[T], f: impl Fn(T) -> T) -> f64 {
    let mut acc = [T::default(); 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v).f()).sum();
    acc.iter().map(|a| a.f()).sum::<f64>() + tail
}

/// The `L` values of channel `ch` in each of the `N` samples.
fn rows<T>(x: &[T], (n, c, l): (usize, usize, usize), ch: usize) -> impl Iterator<Item = &[T]> {
    (0..n).map(move |i| &x[(i * c + ch) * l..(i * c + ch + 1) * l])
}

/// Runs `f` for every channel, in parallel when `x` is large; the results in order.
fn per_channel<R: Send>(c: usize, len: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    if len >= PAR_MIN {
        (0..c)
            .into_par_iter()
            .map(|ch| vectorized(|| f(ch)))
            .collect()
    } else {
        vectorized(|| (0..c).map(f).collect())
    }
}

/// Per-channel mean and biased variance of `x` `[N, C, L]` in one sweep over memory:
/// each sample's plane gives its mean and squared deviations from it while it is in
/// cache (two passes over the plane), and the planes are combined in order by Chan et
/// al.'s pairwise update, in `f64`:
/// `M₂ = M₂ₐ + M₂ᵦ + δ²·nₐnᵦ/(nₐ + nᵦ)`, `δ = μᵦ − μₐ`.
fn stats<T: Float>(x: &[T], d: (usize, usize, usize)) -> Vec<(f64, f64)> {
    let m = (d.0 * d.2) as f64;
    let l = d.2 as f64;
    per_channel(d.1, x.len(), |ch| {
        let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
        for r in rows(x, d, ch) {
            let mu = row_sum(r, |v| v) / l;
            let t = T::of(mu);
            let dev = row_sum(r, |v| {
                let e = v - t;
                e * e
            });
            // deviations from the rounded mean `t`: shift them to `mu`'s
            let shift = t.f() - mu;
            let r_m2 = (dev - l * shift * shift).max(0.0);
            let delta = mu - mean;
            let total = n + l;
            mean += delta * l / total;
            m2 += r_m2 + delta * delta * n * l / total;
            n = total;
        }
        (mean, m2 / m)
    })
}

/// `out[(i·C + ch)·L + j] = f(ch, x[…], g[…])` for every sample `i` (in parallel when
/// large), written once, in a vector with room for `spare` more elements (what the
/// caller appends: without it, appending reallocates and copies the whole output).
fn per_element<T: Float>(
    x: &[T],
    g: &[T],
    (_, c, l): (usize, usize, usize),
    spare: usize,
    f: impl Fn(usize, T, T) -> T + Sync,
) -> Vec<T> {
    let len = x.len();
    let mut out: Vec<T> = Vec::with_capacity(len + spare);
    let sample = (c * l).max(1);
    let body = |o: &mut [MaybeUninit<T>], x: &[T], g: &[T]| {
        for ch in 0..c {
            let r = ch * l..(ch + 1) * l;
            for ((o, &x), &g) in o[r.clone()].iter_mut().zip(&x[r.clone()]).zip(&g[r]) {
                o.write(f(ch, x, g));
            }
        }
    };
    let spare = &mut out.spare_capacity_mut()[..len];
    if len >= PAR_MIN {
        spare
            .par_chunks_mut(sample)
            .zip(x.par_chunks(sample).zip(g.par_chunks(sample)))
            .for_each(|(o, (x, g))| vectorized(|| body(o, x, g)));
    } else {
        vectorized(|| {
            spare
                .chunks_mut(sample)
                .zip(x.chunks(sample).zip(g.chunks(sample)))
                .for_each(|(o, (x, g))| body(o, x, g));
        });
    }
    // SAFETY: `x`, `g` and `spare` have `len = N·C·L` elements, cut into the same
    // whole samples of `C·L`; `body` writes every element of each sample's chunk.
    unsafe { out.set_len(len) };
    out
}

/// `[2, C]`: batch mean and biased variance per channel (no gradient).
pub(crate) struct ChannelStats;

impl CustomOp1 for ChannelStats {
    fn name(&self) -> &'static str {
        "wick-batch-norm-stats"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        fn pack<T: Float>(st: Vec<(f64, f64)>) -> Vec<T> {
            st.iter()
                .map(|p| T::of(p.0))
                .chain(st.iter().map(|p| T::of(p.1)))
                .collect()
        }
        let d = dims3(l)?;
        let out = with_floats!("batch_norm stats", [(s, l) => x], pack(stats(x, d)));
        Ok((out, Shape::from((2, d.1))))
    }
}

/// A channel's `(μ, a, b)` of `y = (x − μ)·a + b`.
type Coef<T> = (T, T, T);

/// The parameters `[γ; β; μ; σ²]` (`[4, C]`) of a channel.
struct Params<'a, T> {
    p: &'a [T],
    c: usize,
}

impl<T: Float> Params<'_, T> {
    fn w(&self, ch: usize) -> f64 {
        self.p[ch].f()
    }
    fn b(&self, ch: usize) -> f64 {
        self.p[self.c + ch].f()
    }
    fn mean(&self, ch: usize) -> f64 {
        self.p[2 * self.c + ch].f()
    }
    fn var(&self, ch: usize) -> f64 {
        self.p[3 * self.c + ch].f()
    }
}

/// `y = (x − μ)·γσ⁻¹ + β` given the batch statistics, then `max(y, 0)` when `relu`
/// (the `BatchNorm2d → ReLU` of most CNNs as one op: one pass and one graph node fewer);
/// args `(x [N,C,L], [γ; β; μ; σ²] [4, C])`, whose backward gives `dγ`, `dβ` (and zeros
/// for the statistics).
pub(crate) struct BatchNormTrain {
    pub(crate) eps: f64,
    pub(crate) relu: bool,
    /// The statistics are the batch's (train mode: the gradient flows through them) or
    /// the running ones (eval mode: constants).
    pub(crate) batch: bool,
}

/// A channel's `(μ, γσ⁻¹, β)` in the kernels' float type.
fn affine<T: Float>(p: &Params<'_, T>, eps: f64) -> Vec<(T, T, T)> {
    (0..p.c)
        .map(|ch| {
            let scale = p.w(ch) / (p.var(ch) + eps).sqrt();
            (T::of(p.mean(ch)), T::of(scale), T::of(p.b(ch)))
        })
        .collect()
}

/// `(x − μ)·a + b`, and `max(·, 0)` when `relu` (NaN stays NaN, as PyTorch's).
#[inline(always)]
fn norm<T: Float>(x: T, (mu, a, b): (T, T, T), relu: bool) -> T {
    let y = (x - mu) * a + b;
    #[allow(clippy::eq_op)] // `y != y`: NaN
    if relu {
        T::pick(y > T::default() || y != y, y, T::default())
    } else {
        y
    }
}

/// The gradient reaching the normalization: `g`, or `g·[y > 0]` through a fused ReLU
/// (`y` recomputed from `x` exactly as the forward computed it).
#[inline(always)]
fn through_relu<T: Float>(x: T, g: T, coef: (T, T, T), relu: bool) -> T {
    if relu {
        T::pick(norm(x, coef, false) > T::default(), g, T::default())
    } else {
        g
    }
}

/// `(Σg, Σ g·(x − μ))` per channel, `g` through the fused ReLU when `relu` (`fwd`: each
/// channel's `(μ, a, b)` of the forward).
fn channel_sums<T: Float>(
    x: &[T],
    g: &[T],
    d: (usize, usize, usize),
    fwd: &[(T, T, T)],
    relu: bool,
) -> Vec<(f64, f64)> {
    per_channel(d.1, x.len(), |ch| {
        let rows = rows(x, d, ch).zip(rows(g, d, ch));
        if relu {
            rows.map(|(x, g)| row_sums::<T, true>(x, g, fwd[ch]))
                .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
        } else {
            rows.map(|(x, g)| row_sums::<T, false>(x, g, fwd[ch]))
                .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
        }
    })
}

/// `(Σg, Σ g·(x − μ))` over one row, in eight running sums per quantity (lane `k` takes
/// elements `k, k + 8, …`), then the tail, in `f64` at the end. Through a fused ReLU on
/// f32 the eight lanes run as one AVX vector ([`relu_lanes_avx`]: the compiler turns
/// the mask's select into a branch per lane otherwise), with the same operations in the
/// same order, so the same bits.
#[inline(always)]
fn row_sums<T: Float, const RELU: bool>(x: &[T], g: &[T], f: (T, T, T)) -> (f64, f64) {
    let zero = T::default();
    let masked = |x: T, g: T| {
        if RELU {
            T::pick((x - f.0) * f.1 + f.2 > zero, g, zero)
        } else {
            g
        }
    };
    let (mut a1, mut a2) = ([zero; 8], [zero; 8]);
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if RELU && std::arch::is_x86_feature_detected!("avx") {
        if let (Some(x32), Some(g32), Some(a1), Some(a2)) = (
            T::as_f32(x),
            T::as_f32(g),
            T::as_f32_mut(&mut a1),
            T::as_f32_mut(&mut a2),
        ) {
            let f32s = (f.0.f() as f32, f.1.f() as f32, f.2.f() as f32);
            // SAFETY: the CPU has AVX (checked above).
            done = unsafe { relu_lanes_avx(x32, g32, f32s, (a1, a2)) };
        }
    }
    let (mut xc, mut gc) = (x[done..].chunks_exact(8), g[done..].chunks_exact(8));
    for (xs, gs) in (&mut xc).zip(&mut gc) {
        let (xs, gs): (&[T; 8], &[T; 8]) = match (xs.try_into(), gs.try_into()) {
            (Ok(xs), Ok(gs)) => (xs, gs),
            _ => unreachable!("chunks_exact(8) yields slices of 8"),
        };
        for k in 0..8 {
            let gv = masked(xs[k], gs[k]);
            a1[k] += gv;
            a2[k] += gv * (xs[k] - f.0);
        }
    }
    let (mut sg, mut sgd) = (0f64, 0f64);
    for (&xv, &gv) in xc.remainder().iter().zip(gc.remainder()) {
        let gv = masked(xv, gv);
        sg += gv.f();
        sgd += (gv * (xv - f.0)).f();
    }
    sg += a1.iter().map(|a| a.f()).sum::<f64>();
    sgd += a2.iter().map(|a| a.f()).sum::<f64>();
    (sg, sgd)
}

/// The whole groups of eight of [`row_sums`] through a ReLU on f32, one AVX vector per
/// group: `gv = g·[(x − μ)·a + b > 0]` (a bit mask), `a1 += gv`, `a2 += gv·(x − μ)`,
/// each lane as the portable loop computes it. Returns how many elements it took.
///
/// # Safety
/// The CPU supports AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn relu_lanes_avx(
    x: &[f32],
    g: &[f32],
    (mu, a, b): (f32, f32, f32),
    (a1, a2): (&mut [f32], &mut [f32]),
) -> usize {
    use std::arch::x86_64::*;
    let n = x.len().min(g.len()) / 8 * 8;
    assert!(a1.len() == 8 && a2.len() == 8);
    let (mu, a, b, zero) = (
        _mm256_set1_ps(mu),
        _mm256_set1_ps(a),
        _mm256_set1_ps(b),
        _mm256_setzero_ps(),
    );
    // SAFETY: `a1` and `a2` hold 8 elements (asserted).
    let (mut s1, mut s2) = unsafe { (_mm256_loadu_ps(a1.as_ptr()), _mm256_loadu_ps(a2.as_ptr())) };
    for i in (0..n).step_by(8) {
        // SAFETY: i + 8 <= n <= len of `x` and of `g`.
        let (xv, gv) = unsafe {
            (
                _mm256_loadu_ps(x.as_ptr().add(i)),
                _mm256_loadu_ps(g.as_ptr().add(i)),
            )
        };
        let d = _mm256_sub_ps(xv, mu);
        let y = _mm256_add_ps(_mm256_mul_ps(d, a), b);
        let kept = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(y, zero), gv);
        s1 = _mm256_add_ps(s1, kept);
        s2 = _mm256_add_ps(s2, _mm256_mul_ps(kept, d));
    }
    // SAFETY: as the loads above.
    unsafe {
        _mm256_storeu_ps(a1.as_mut_ptr(), s1);
        _mm256_storeu_ps(a2.as_mut_ptr(), s2);
    }
    n
}

impl BatchNormTrain {
    fn fwd<T: Float>(&self, x: &[T], p: &[T], d: (usize, usize, usize)) -> Vec<T> {
        let coef = affine(&Params { p, c: d.1 }, self.eps);
        per_element(x, x, d, 0, |ch, x, _| norm(x, coef[ch], self.relu))
    }

    /// `[dx (N·C·L), dγ (C), dβ (C), 0 (2C)]`, flat.
    fn bwd_flat<T: Float>(&self, x: &[T], p: &[T], g: &[T], d: (usize, usize, usize)) -> Vec<T> {
        let c = d.1;
        let p = Params { p, c };
        let fwd = affine(&p, self.eps);
        let relu = self.relu;
        let sums = channel_sums(x, g, d, &fwd, relu);
        let mut out = if self.batch {
            self.dx_batch(x, &p, g, d, (&fwd, &sums))
        } else {
            // running statistics are constants: dx = g·γσ⁻¹
            per_element(x, g, d, 4 * c, |ch, x, g| {
                fwd[ch].1 * through_relu(x, g, fwd[ch], relu)
            })
        };
        let inv = |ch: usize| 1.0 / (p.var(ch) + self.eps).sqrt();
        out.extend((0..c).map(|ch| T::of(sums[ch].1 * inv(ch))));
        out.extend(sums.iter().map(|s| T::of(s.0)));
        out.extend(std::iter::repeat_n(T::default(), 2 * c));
        out
    }

    /// `dx = k·(M·g − Σg − x̂·Σ(g·x̂))` with `k = γσ⁻¹/M`, `x̂ = (x − μ)σ⁻¹`: the gradient
    /// through the batch's statistics (`fwd`: each channel's forward `(μ, a, b)`; `sums`:
    /// its `(Σg, Σ g·(x − μ))`).
    fn dx_batch<T: Float>(
        &self,
        x: &[T],
        p: &Params<'_, T>,
        g: &[T],
        (n, c, l): (usize, usize, usize),
        (fwd, sums): (&[Coef<T>], &[(f64, f64)]),
    ) -> Vec<T> {
        let m = (n * l) as f64;
        let relu = self.relu;
        let coef: Vec<(T, T, T, T)> = (0..c)
            .map(|ch| {
                let inv = 1.0 / (p.var(ch) + self.eps).sqrt();
                let k = p.w(ch) * inv / m;
                let (sg, sgd) = sums[ch];
                let sgx = sgd * inv;
                let mu = T::of(p.mean(ch));
                (mu, T::of(k * m), T::of(-k * sg), T::of(-k * sgx * inv))
            })
            .collect();
        // room for the 4·C parameter gradients `bwd_flat` appends
        per_element(x, g, (n, c, l), 4 * c, |ch, x, g| {
            let (mu, a, b, e) = coef[ch];
            a * through_relu(x, g, fwd[ch], relu) + b + e * (x - mu)
        })
    }
}

impl CustomOp2 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "wick-batch-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = dims3(l1)?;
        if l2.dims() != [4, d.1] {
            candle_core::bail!(
                "batch_norm: parameters {:?}, expected [4, {}]",
                l2.dims(),
                d.1
            )
        }
        let out = with_floats!("batch_norm", [(s1, l1) => x, (s2, l2) => p], self.fwd(x, p, d));
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        p: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dp) = self.grads(x, p, grad)?;
        Ok((Some(dx), Some(dp)))
    }
}

impl BatchNormTrain {
    /// The gradients of `x` `[N, C, *]` and of the parameters `[γ; β; μ; σ²]` (zero for
    /// the statistics) for `grad` of the output.
    pub(crate) fn grads(&self, x: &Tensor, p: &Tensor, grad: &Tensor) -> Result<(Tensor, Tensor)> {
        let (n, c) = (x.dim(0)?, x.dim(1)?);
        let l = x.elem_count() / (n * c).max(1);
        let op = BatchNormGrad {
            eps: self.eps,
            relu: self.relu,
            batch: self.batch,
        };
        let flat = x.apply_op3_no_bwd(p, &grad.contiguous()?, &op)?;
        let dx = flat.narrow(0, 0, n * c * l)?.reshape(x.shape())?;
        let dp = flat.narrow(0, n * c * l, 4 * c)?.reshape((4, c))?;
        Ok((dx, dp))
    }
}

struct BatchNormGrad {
    eps: f64,
    relu: bool,
    batch: bool,
}

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
        let op = BatchNormTrain {
            eps: self.eps,
            relu: self.relu,
            batch: self.batch,
        };
        let out = with_floats!(
            "batch_norm backward",
            [(s1, l1) => x, (s2, l2) => p, (s3, l3) => g],
            op.bwd_flat(x, p, g, d)
        );
        Ok((out, Shape::from(d.0 * d.1 * d.2 + 4 * d.1)))
    }
}

/// Train-mode batch norm of `x` `[N, C, *]` with `γ`, `β` `[C]`, then a ReLU when
/// `relu`; returns the output and the `[2, C]` batch statistics (mean, biased variance;
/// without gradient).
pub(crate) fn batch_norm_train(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    eps: f64,
    relu: bool,
) -> Result<(Tensor, Tensor)> {
    let x = x.contiguous()?;
    let st = x.apply_op1_no_bwd(&ChannelStats)?;
    let c = st.dim(1)?;
    let p = Tensor::cat(&[&w.reshape((1, c))?, &b.reshape((1, c))?, &st], 0)?;
    let op = BatchNormTrain {
        eps,
        relu,
        batch: true,
    };
    Ok((x.apply_op2(&p, op)?, st))
}

/// Eval-mode batch norm of `x` `[N, C, *]` with `γ`, `β` and the running mean and
/// variance `[C]` (then a ReLU when `relu`): one pass, and the gradient of constant
/// statistics.
pub(crate) fn batch_norm_eval(
    x: &Tensor,
    [w, b, mean, var]: [&Tensor; 4],
    eps: f64,
    relu: bool,
) -> Result<Tensor> {
    let c = w.elem_count();
    let rows = [w, b, mean, var].map(|t| t.reshape((1, c)));
    let rows = rows.into_iter().collect::<Result<Vec<_>>>()?;
    let p = Tensor::cat(&rows, 0)?.to_dtype(x.dtype())?;
    let op = BatchNormTrain {
        eps,
        relu,
        batch: false,
    };
    x.contiguous()?.apply_op2(&p, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use wick_tensor::gradcheck::gradcheck;

    /// The sums through a ReLU (the AVX path on f32 where the CPU has it) equal, bit for
    /// bit, eight running sums written out by hand, NaN and masked lanes included.
    #[test]
    fn relu_row_sums_match_the_lane_by_lane_sums() {
        let f = (0.25f32, 1.5f32, -0.125f32);
        for len in [0usize, 7, 8, 37, 200] {
            let x: Vec<f32> = (0..len)
                .map(|i| {
                    if i == 5 {
                        f32::NAN
                    } else {
                        ((i * 7919) % 61) as f32 / 30.0 - 1.0
                    }
                })
                .collect();
            let g: Vec<f32> = (0..len)
                .map(|i| ((i * 104_729) % 53) as f32 / 13.0 - 2.0)
                .collect();
            let (mut a1, mut a2) = ([0f32; 8], [0f32; 8]);
            let whole = len / 8 * 8;
            let kept = |x: f32, g: f32| if (x - f.0) * f.1 + f.2 > 0.0 { g } else { 0.0 };
            for i in 0..whole {
                let gv = kept(x[i], g[i]);
                a1[i % 8] += gv;
                a2[i % 8] += gv * (x[i] - f.0);
            }
            let (mut sg, mut sgd) = (0f64, 0f64);
            for i in whole..len {
                let gv = kept(x[i], g[i]);
                sg += f64::from(gv);
                sgd += f64::from(gv * (x[i] - f.0));
            }
            sg += a1.iter().map(|&v| f64::from(v)).sum::<f64>();
            sgd += a2.iter().map(|&v| f64::from(v)).sum::<f64>();
            let got = row_sums::<f32, true>(&x, &g, f);
            assert_eq!(
                (got.0.to_bits(), got.1.to_bits()),
                (sg.to_bits(), sgd.to_bits()),
                "{len}"
            );
        }
    }

    /// `x [3, 4, 5]`, `γ`, `β` in f64, with no output within 0.01 of zero (train mode):
    /// the ReLU's kink stays out of the finite differences.
    /// The one-sweep statistics against a two-pass sum in `f64`, on values far from
    /// zero (where `E[x²] − E[x]²` would lose every digit) and planes of 1, 7 and 784.
    #[test]
    fn channel_stats_match_a_two_pass_in_f64() {
        for (n, c, l) in [(5, 3, 1), (4, 2, 7), (6, 3, 784)] {
            let x: Vec<f32> = (0..n * c * l)
                .map(|i| 1000.0 + ((i * 7919) % 1013) as f32 / 101.3 - 5.0 * (i % 3) as f32)
                .collect();
            let got = stats(&x, (n, c, l));
            for (ch, &(mean, var)) in got.iter().enumerate() {
                let v: Vec<f64> = rows(&x, (n, c, l), ch)
                    .flat_map(|r| r.iter().map(|&v| v as f64))
                    .collect();
                let mu = v.iter().sum::<f64>() / v.len() as f64;
                let want = v.iter().map(|x| (x - mu) * (x - mu)).sum::<f64>() / v.len() as f64;
                assert!(
                    (mean - mu).abs() <= 1e-6 * mu.abs(),
                    "{n},{c},{l} ch {ch}: mean {mean} vs {mu}"
                );
                assert!(
                    (var - want).abs() <= 1e-6 * want,
                    "{n},{c},{l} ch {ch}: var {var} vs {want}"
                );
            }
        }
    }

    fn inputs() -> [Tensor; 3] {
        let x: Vec<f64> = (0..3 * 4 * 5)
            .map(|i| ((i * 37) % 23) as f64 / 7.0 - 1.5)
            .collect();
        let x = Tensor::from_vec(x, (3, 4, 5), &Device::Cpu).unwrap();
        let w = Tensor::new(&[0.5f64, -1.2, 2.0, 0.9], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0.05f64, 0.11, -0.2, 0.07], &Device::Cpu).unwrap();
        [x, w, b]
    }

    #[test]
    fn gradcheck_batch_norm_train() {
        let [x, w, b] = inputs();
        for relu in [false, true] {
            gradcheck(
                |v| Ok(batch_norm_train(&v[0], &v[1], &v[2], 1e-5, relu)?.0),
                &[x.clone(), w.clone(), b.clone()],
            )
            .unwrap();
        }
    }

    #[test]
    fn gradcheck_batch_norm_eval() {
        let [x, w, b] = inputs();
        let mean = Tensor::new(&[0.013f64, -0.2, 0.1, 0.31], &Device::Cpu).unwrap();
        let var = Tensor::new(&[0.9f64, 1.3, 0.7, 2.0], &Device::Cpu).unwrap();
        for relu in [false, true] {
            gradcheck(
                |v| batch_norm_eval(&v[0], [&v[1], &v[2], &mean, &var], 1e-5, relu),
                &[x.clone(), w.clone(), b.clone()],
            )
            .unwrap();
        }
        // the values are PyTorch's eval formula
        let y = batch_norm_eval(&x, [&w, &b, &mean, &var], 1e-5, false).unwrap();
        let scale = (&w / (&var + 1e-5).unwrap().sqrt().unwrap()).unwrap();
        let want = x
            .broadcast_sub(&mean.reshape((1, 4, 1)).unwrap())
            .unwrap()
            .broadcast_mul(&scale.reshape((1, 4, 1)).unwrap())
            .unwrap()
            .broadcast_add(&b.reshape((1, 4, 1)).unwrap())
            .unwrap();
        let diff = (y - want).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f64>().unwrap() < 1e-12);
    }

    /// The fused BatchNorm → ReLU gives the values and gradients of the two ops, in f32.
    #[test]
    fn fused_relu_equals_batch_norm_then_relu() {
        let n = 4 * 8 * 49;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 211) as f32 / 50.0 - 2.0)
            .collect();
        let x = candle_core::Var::from_vec(x, (4, 8, 49), &Device::Cpu).unwrap();
        let w = candle_core::Var::from_vec(
            vec![0.5f32, -1.0, 2.0, 0.7, 1.0, 0.1, -0.3, 1.5],
            8,
            &Device::Cpu,
        )
        .unwrap();
        let b = candle_core::Var::from_vec(
            vec![0.1f32, 0.0, -0.5, 0.3, 0.2, -0.1, 0.4, 0.0],
            8,
            &Device::Cpu,
        )
        .unwrap();
        let up: Vec<f32> = (0..n).map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0).collect();
        let up = Tensor::from_vec(up, (4, 8, 49), &Device::Cpu).unwrap();
        let run = |fused: bool| {
            let (xt, wt, bt) = (x.as_tensor(), w.as_tensor(), b.as_tensor());
            let y = if fused {
                batch_norm_train(xt, wt, bt, 1e-5, true).unwrap().0
            } else {
                crate::relu_op::relu(&batch_norm_train(xt, wt, bt, 1e-5, false).unwrap().0).unwrap()
            };
            let g = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
            let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            [
                v(&y),
                v(g.get(xt).unwrap()),
                v(g.get(wt).unwrap()),
                v(g.get(bt).unwrap()),
            ]
        };
        let (a, b) = (run(true), run(false));
        for (p, q) in a.iter().zip(&b) {
            for (u, v) in p.iter().zip(q) {
                assert!((u - v).abs() <= 1e-5 * (1.0 + v.abs()), "{u} vs {v}");
            }
        }
    }
}
