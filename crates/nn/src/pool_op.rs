//! 2-D pooling (max, average, adaptive) as candle custom ops with PyTorch's backward.
//!
//! candle's max_pool2d backward scales the gradient by `1/(kh·kw)`, its avg_pool2d
//! backward leaks into the rows that floor mode drops, and neither has a backward when
//! stride ≠ kernel. Every pooling here is described by its windows, one list of input
//! indices per output index and per dimension, so one op serves them all:
//!
//! - max: the gradient goes to the first maximum of each window (row-major, NaN
//!   winning), as PyTorch's CPU kernel;
//! - average: `out = Σ window / divisor`, with PyTorch's divisor (`divisor_override`,
//!   or the window size counting the padding inside `[−p, n + p)` when
//!   `count_include_pad`, or only the input elements), and the gradient spread back
//!   with the same divisor.

use crate::index_cache::indices;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::{Arc, OnceLock};

/// Geometry of a 2-D max or average pooling, with PyTorch's argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    /// `(kH, kW)`.
    pub kernel: (usize, usize),
    /// `(sH, sW)`.
    pub stride: (usize, usize),
    /// Implicit padding on each side, `(pH, pW)` (`-inf` for max, zeros for average).
    pub padding: (usize, usize),
    /// Spacing between window elements, `(dH, dW)` (1 for average pooling).
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

    fn axes(&self, h: usize, w: usize) -> Option<(Windows, Windows)> {
        let (oh, ow) = self.output_hw(h, w)?;
        Some((
            Windows::regular(
                h,
                oh,
                self.kernel.0,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
            ),
            Windows::regular(
                w,
                ow,
                self.kernel.1,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
            ),
        ))
    }
}

/// The pooling windows along one dimension: for each output index, the input indices
/// it covers (in order) and its size counting padding (for `count_include_pad`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Windows {
    input: usize,
    idx: Vec<Vec<usize>>,
    with_pad: Vec<usize>,
    /// `[start, end)` of every window when all are runs of consecutive indices (no
    /// dilation): the fast max-pooling path.
    spans: Option<Vec<(usize, usize)>>,
    /// `(k, s)` when window `o` is exactly `[o·s, o·s + k)` for every `o` (no padding
    /// reached, no dilation): the fastest path.
    uniform: Option<(usize, usize)>,
}

/// `(k, s)` if window `o` is `[o·s, o·s + k)` for every `o`.
fn uniform(spans: Option<&[(usize, usize)]>) -> Option<(usize, usize)> {
    let spans = spans?;
    let &(a0, b0) = spans.first()?;
    let k = b0 - a0;
    let s = spans.get(1).map_or(1, |&(a1, _)| a1 - a0);
    let ok = a0 == 0
        && k > 0
        && spans
            .iter()
            .enumerate()
            .all(|(o, &(a, b))| a == o * s && b - a == k);
    ok.then_some((k, s))
}

/// `[start, end)` of each window, if every window is a run of consecutive indices.
fn spans(idx: &[Vec<usize>]) -> Option<Vec<(usize, usize)>> {
    idx.iter()
        .map(|w| match (w.first(), w.last()) {
            (Some(&a), Some(&b)) if b - a + 1 == w.len() => Some((a, b + 1)),
            _ => None,
        })
        .collect()
}

impl Windows {
    /// Windows starting at `o·s − p`, `k` elements `d` apart; the padded size is
    /// `min(start + k, n + p) − start` as in ATen's avg_pool2d (dilation 1 there).
    fn regular(n: usize, out: usize, k: usize, s: usize, p: usize, d: usize) -> Self {
        let mut idx = Vec::with_capacity(out);
        let mut with_pad = Vec::with_capacity(out);
        for o in 0..out {
            let start = (o * s) as i64 - p as i64;
            idx.push(
                (0..k)
                    .map(|j| start + (j * d) as i64)
                    .filter(|&i| i >= 0 && i < n as i64)
                    .map(|i| i as usize)
                    .collect(),
            );
            let end = (start + k as i64).min((n + p) as i64);
            with_pad.push((end - start).max(0) as usize);
        }
        Self::new(n, idx, with_pad)
    }

    fn new(input: usize, idx: Vec<Vec<usize>>, with_pad: Vec<usize>) -> Self {
        let spans = spans(&idx);
        Self {
            input,
            uniform: uniform(spans.as_deref()),
            spans,
            idx,
            with_pad,
        }
    }

    /// Adaptive windows: `[⌊o·n/out⌋, ⌈(o+1)·n/out⌉)`.
    fn adaptive(n: usize, out: usize) -> Self {
        let idx: Vec<Vec<usize>> = (0..out)
            .map(|o| ((o * n) / out..((o + 1) * n).div_ceil(out)).collect())
            .collect();
        let with_pad = idx.iter().map(Vec::len).collect();
        Self::new(n, idx, with_pad)
    }

    fn out(&self) -> usize {
        self.idx.len()
    }
}

/// Max, or average with PyTorch's divisor rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Max,
    Avg {
        count_include_pad: bool,
        divisor_override: Option<usize>,
    },
}

/// A pooling of `[N, C, H, W]` over the given windows.
#[derive(Debug, Clone)]
pub(crate) struct PoolOp {
    rows: Arc<Windows>,
    cols: Arc<Windows>,
    kind: Kind,
    /// Max pooling: the index (within its plane) of each output's maximum, kept by
    /// the forward pass for the backward pass.
    argmax: Arc<OnceLock<Vec<u32>>>,
}

trait Float:
    Copy
    + Default
    + PartialOrd
    + Send
    + Sync
    + std::ops::AddAssign
    + std::ops::Div<Output = Self>
    + 'static
{
    fn from_usize(n: usize) -> Self;
    /// `if take { a } else { b }` without a branch (bit masks): the max-pooling
    /// kernels' comparisons are unpredictable.
    fn pick(take: bool, a: Self, b: Self) -> Self;

    /// `v[p] = max(x[2p], x[2p + 1])` and `i[p] = base + 2p + (0 or 1)`, the second of
    /// a pair taken when it is greater or NaN (ATen's first maximum, last NaN).
    fn max_pairs(x: &[Self], v: &mut [Self], i: &mut [u32], base: u32) {
        max_pairs_scalar(x, v, i, base, 0);
    }

    /// `out = max(v0, v1)` elementwise with its index from `i0`/`i1`, `v1` taken when it
    /// is greater or NaN.
    fn max_rows(v: (&[Self], &[Self]), i: (&[u32], &[u32]), out: &mut [Self], arg: &mut [u32]) {
        max_rows_scalar(v, i, out, arg, 0);
    }
}

/// [`Float::max_pairs`] from pair `from` on.
fn max_pairs_scalar<T: Float>(x: &[T], v: &mut [T], i: &mut [u32], base: u32, from: usize) {
    let pairs = x.chunks_exact(2).zip(v.iter_mut()).zip(i.iter_mut());
    for (q, ((p, v), i)) in pairs.enumerate().skip(from) {
        #[allow(clippy::eq_op)]
        let take = (p[1] > p[0]) | (p[1] != p[1]);
        *v = T::pick(take, p[1], p[0]);
        *i = base + 2 * q as u32 + u32::from(take);
    }
}

/// [`Float::max_rows`] from element `from` on.
fn max_rows_scalar<T: Float>(
    (v0, v1): (&[T], &[T]),
    (i0, i1): (&[u32], &[u32]),
    out: &mut [T],
    arg: &mut [u32],
    from: usize,
) {
    let rows = out
        .iter_mut()
        .zip(arg.iter_mut())
        .zip(v0.iter().zip(v1))
        .zip(i0.iter().zip(i1));
    for (((o, a), (&a0, &a1)), (&j0, &j1)) in rows.skip(from) {
        #[allow(clippy::eq_op)]
        let take = (a1 > a0) | (a1 != a1);
        *o = T::pick(take, a1, a0);
        *a = pick_u32(take, j1, j0);
    }
}
impl Float for f32 {
    fn from_usize(n: usize) -> Self {
        n as f32
    }
    fn pick(take: bool, a: Self, b: Self) -> Self {
        let m = 0u32.wrapping_sub(u32::from(take));
        f32::from_bits(b.to_bits() ^ ((a.to_bits() ^ b.to_bits()) & m))
    }

    #[cfg(target_arch = "x86_64")]
    fn max_pairs(x: &[Self], v: &mut [Self], i: &mut [u32], base: u32) {
        let done = sse2::max_pairs(x, v, i, base);
        max_pairs_scalar(x, v, i, base, done);
    }

    #[cfg(target_arch = "x86_64")]
    fn max_rows(v: (&[Self], &[Self]), i: (&[u32], &[u32]), out: &mut [Self], arg: &mut [u32]) {
        let done = sse2::max_rows(v, i, out, arg);
        max_rows_scalar(v, i, out, arg, done);
    }
}

/// The f32 2×2 max-pool passes four lanes at a time with SSE2 (part of every x86-64
/// CPU, so no detection): the same comparisons and selects as the scalar code, so the
/// same bits. Each returns how many elements it did (all of them, or none when fewer
/// than four); the scalar code does the rest.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    pub(super) fn max_pairs(x: &[f32], v: &mut [f32], i: &mut [u32], base: u32) -> usize {
        let n = v.len().min(i.len()).min(x.len() / 2);
        if n < 4 {
            return 0;
        }
        // SAFETY: SSE2 is part of x86-64; every load reads x[2p..2p + 8] and every store
        // writes v[p..p + 4] and i[p..p + 4] with p + 4 <= n, all inside the slices.
        let four = |p: usize| unsafe {
            let a = _mm_loadu_ps(x.as_ptr().add(2 * p));
            let b = _mm_loadu_ps(x.as_ptr().add(2 * p + 4));
            let first = _mm_shuffle_ps::<0b10_00_10_00>(a, b);
            let second = _mm_shuffle_ps::<0b11_01_11_01>(a, b);
            let take = _mm_or_ps(_mm_cmpgt_ps(second, first), _mm_cmpunord_ps(second, second));
            let val = _mm_or_ps(_mm_and_ps(take, second), _mm_andnot_ps(take, first));
            let idx = _mm_add_epi32(
                _mm_set1_epi32((base + 2 * p as u32) as i32),
                _mm_setr_epi32(0, 2, 4, 6),
            );
            // the mask is −1 where the second is taken
            let at = _mm_sub_epi32(idx, _mm_castps_si128(take));
            (val, at)
        };
        let mut store = |p: usize, (val, at): (__m128, __m128i)| unsafe {
            _mm_storeu_ps(v.as_mut_ptr().add(p), val);
            _mm_storeu_si128(i.as_mut_ptr().add(p).cast(), at);
        };
        let mut p = 0;
        while p + 4 <= n {
            store(p, four(p));
            p += 4;
        }
        if p < n {
            // the last four again, overlapping: the same values written twice
            store(n - 4, four(n - 4));
        }
        n
    }

    pub(super) fn max_rows(
        (v0, v1): (&[f32], &[f32]),
        (i0, i1): (&[u32], &[u32]),
        out: &mut [f32],
        arg: &mut [u32],
    ) -> usize {
        let n = [v0.len(), v1.len(), i0.len(), i1.len(), out.len(), arg.len()]
            .into_iter()
            .min()
            .unwrap_or(0);
        if n < 4 {
            return 0;
        }
        // SAFETY: SSE2 is part of x86-64; every access is to elements k..k + 4 with
        // k + 4 <= n, inside all six slices.
        let mut four = |k: usize| unsafe {
            let a0 = _mm_loadu_ps(v0.as_ptr().add(k));
            let a1 = _mm_loadu_ps(v1.as_ptr().add(k));
            let take = _mm_or_ps(_mm_cmpgt_ps(a1, a0), _mm_cmpunord_ps(a1, a1));
            let val = _mm_or_ps(_mm_and_ps(take, a1), _mm_andnot_ps(take, a0));
            _mm_storeu_ps(out.as_mut_ptr().add(k), val);
            let m = _mm_castps_si128(take);
            let j0 = _mm_loadu_si128(i0.as_ptr().add(k).cast());
            let j1 = _mm_loadu_si128(i1.as_ptr().add(k).cast());
            let at = _mm_or_si128(_mm_and_si128(m, j1), _mm_andnot_si128(m, j0));
            _mm_storeu_si128(arg.as_mut_ptr().add(k).cast(), at);
        };
        let mut k = 0;
        while k + 4 <= n {
            four(k);
            k += 4;
        }
        if k < n {
            // the last four again, overlapping: the same values written twice
            four(n - 4);
        }
        n
    }
}
impl Float for f64 {
    fn from_usize(n: usize) -> Self {
        n as f64
    }
    fn pick(take: bool, a: Self, b: Self) -> Self {
        let m = 0u64.wrapping_sub(u64::from(take));
        f64::from_bits(b.to_bits() ^ ((a.to_bits() ^ b.to_bits()) & m))
    }
}

/// `if take { a } else { b }` on `u32`s, without a branch.
fn pick_u32(take: bool, a: u32, b: u32) -> u32 {
    b ^ ((a ^ b) & 0u32.wrapping_sub(u32::from(take)))
}

/// `if take { a } else { b }` on indices, without a branch.
fn pick_index(take: bool, a: usize, b: usize) -> usize {
    b ^ ((a ^ b) & 0usize.wrapping_sub(usize::from(take)))
}

impl PoolOp {
    fn check(&self, l: &Layout, op: &str) -> Result<(usize, usize)> {
        match *l.dims() {
            [n, c, h, w] if h == self.rows.input && w == self.cols.input && h * w > 0 => {
                Ok((n * c, h * w))
            }
            _ => candle_core::bail!(
                "{op}: expected a [N, C, {}, {}] input, got {:?}",
                self.rows.input,
                self.cols.input,
                l.dims()
            ),
        }
    }

    /// `v / divisor` for output `(oy, ox)` of an average pooling.
    fn scale<T: Float>(
        &self,
        v: T,
        (oy, ox): (usize, usize),
        count_include_pad: bool,
        over: Option<usize>,
    ) -> T {
        let d = match over {
            Some(d) => d,
            None if count_include_pad => self.rows.with_pad[oy] * self.cols.with_pad[ox],
            None => self.rows.idx[oy].len() * self.cols.idx[ox].len(),
        };
        if d == 0 {
            T::default()
        } else {
            v / T::from_usize(d)
        }
    }

    /// Index (within its plane) of the first maximum of window `(oy, ox)`.
    fn argmax<T: Float>(&self, plane: &[T], oy: usize, ox: usize) -> Option<usize> {
        let w = self.cols.input;
        let mut best: Option<(T, usize)> = None;
        for &y in &self.rows.idx[oy] {
            for &x in &self.cols.idx[ox] {
                let i = y * w + x;
                let v = plane[i];
                #[allow(clippy::eq_op)]
                let is_nan = v != v;
                if best.is_none_or(|(b, _)| v > b) || is_nan {
                    best = Some((v, i));
                }
            }
        }
        best.map(|(_, i)| i)
    }

    /// Max pooling over windows of consecutive indices: the maxima, and their indices
    /// saved for the backward pass. The first maximum wins; a NaN wins over numbers
    /// (the last NaN), as in ATen's kernel.
    fn max_spans<T: Float>(
        &self,
        x: &[T],
        hw: usize,
        rows: &[(usize, usize)],
        cols: &[(usize, usize)],
    ) -> Vec<T> {
        let (oh, ow) = (rows.len(), cols.len());
        let w = self.cols.input;
        let planes = x.len() / hw.max(1);
        let mut out = vec![T::default(); planes * oh * ow];
        let mut arg = vec![0u32; planes * oh * ow];
        out.par_chunks_mut(oh * ow)
            .zip(arg.par_chunks_mut(oh * ow))
            .zip(x.par_chunks(hw))
            .with_min_len(16)
            .for_each(|((o, a), plane)| {
                // One output row at a time, the window's elements in row-major order
                // in the outer loops and the outputs in the inner one: the outputs'
                // comparisons are independent, so they overlap instead of waiting on
                // one another. A column past a (border) window's end is clamped to its
                // last one; seeing an element twice in a row never changes the result.
                let kw = cols.iter().map(|&(a, b)| b - a).max().unwrap_or(0);
                for (oy, &(y0, y1)) in rows.iter().enumerate() {
                    let ob = &mut o[oy * ow..(oy + 1) * ow];
                    let ab = &mut a[oy * ow..(oy + 1) * ow];
                    for ((v, i), &(x0, _)) in ob.iter_mut().zip(ab.iter_mut()).zip(cols) {
                        *i = (y0 * w + x0) as u32;
                        *v = plane[y0 * w + x0];
                    }
                    for y in y0..y1 {
                        let row = y * w;
                        for dx in 0..kw {
                            for ((bv, bi), &(x0, x1)) in ob.iter_mut().zip(ab.iter_mut()).zip(cols)
                            {
                                let i = row + (x0 + dx).min(x1 - 1);
                                let v = plane[i];
                                #[allow(clippy::eq_op)]
                                let take = (v > *bv) | (v != v);
                                *bv = if take { v } else { *bv };
                                *bi = if take { i as u32 } else { *bi };
                            }
                        }
                    }
                }
            });
        let _ = self.argmax.set(arg);
        out
    }

    /// `MaxPool2d(2)`: 2×2 windows, stride 2, no padding — the CNNs' pooling. Each pair
    /// of input rows is reduced across (`[2x, 2x+1]` of each row), then the two rows'
    /// results against each other: both passes are straight loops of selects that
    /// vectorize. The order of comparisons keeps ATen's result: the first maximum in
    /// row-major order, the last NaN. Same values and indices as
    /// [`PoolOp::max_spans`].
    fn max_2x2<T: Float>(&self, x: &[T], hw: usize) -> Vec<T> {
        let (oh, ow) = (self.rows.out(), self.cols.out());
        let w = self.cols.input;
        let planes = x.len() / hw.max(1);
        let mut out = vec![T::default(); planes * oh * ow];
        let mut arg = vec![0u32; planes * oh * ow];
        out.par_chunks_mut(oh * ow)
            .zip(arg.par_chunks_mut(oh * ow))
            .zip(x.par_chunks(hw))
            .with_min_len(16)
            .for_each_init(
                // each input row's pair maxima and their indices in the plane
                || (vec![T::default(); 2 * oh * ow], vec![0u32; 2 * oh * ow]),
                |(v, i), ((o, a), plane)| {
                    if w == 2 * ow {
                        // the rows that count are one run of pairs
                        T::max_pairs(&plane[..2 * oh * w], v, i, 0);
                    } else {
                        for (r, (vr, ir)) in v
                            .chunks_exact_mut(ow)
                            .zip(i.chunks_exact_mut(ow))
                            .enumerate()
                        {
                            T::max_pairs(&plane[r * w..r * w + 2 * ow], vr, ir, (r * w) as u32);
                        }
                    }
                    let rows = v.chunks_exact(2 * ow).zip(i.chunks_exact(2 * ow));
                    for ((ob, ab), (vv, ii)) in
                        o.chunks_exact_mut(ow).zip(a.chunks_exact_mut(ow)).zip(rows)
                    {
                        T::max_rows(vv.split_at(ow), ii.split_at(ow), ob, ab);
                    }
                },
            );
        let _ = self.argmax.set(arg);
        out
    }

    /// Max pooling over uniform windows (`[o·s, o·s + K)` on both axes), `K` known at
    /// compile time: the window's loops unroll and its comparisons become selects.
    /// Same results and indices as [`PoolOp::max_spans`].
    fn max_uniform<T: Float, const KH: usize, const KW: usize>(
        &self,
        x: &[T],
        hw: usize,
        (sh, sw): (usize, usize),
    ) -> Vec<T> {
        let (oh, ow) = (self.rows.out(), self.cols.out());
        let w = self.cols.input;
        let planes = x.len() / hw.max(1);
        let mut out = vec![T::default(); planes * oh * ow];
        let mut arg = vec![0u32; planes * oh * ow];
        out.par_chunks_mut(oh * ow)
            .zip(arg.par_chunks_mut(oh * ow))
            .zip(x.par_chunks(hw))
            .with_min_len(16)
            .for_each(|((o, a), plane)| {
                for (oy, (ob, ab)) in o
                    .chunks_exact_mut(ow)
                    .zip(a.chunks_exact_mut(ow))
                    .enumerate()
                {
                    let base = oy * sh * w;
                    // the window rows of this output row, each cut to what it covers
                    let rows: [&[T]; KH] = std::array::from_fn(|ky| {
                        let r = base + ky * w;
                        &plane[r..r + (ow - 1) * sw + KW]
                    });
                    for (ox, (bv, bi)) in ob.iter_mut().zip(ab.iter_mut()).enumerate() {
                        let x0 = ox * sw;
                        let (mut v0, mut i0) = (rows[0][x0], x0);
                        for (ky, row) in rows.iter().enumerate() {
                            let win = &row[x0..x0 + KW];
                            for (kx, &v) in win.iter().enumerate() {
                                #[allow(clippy::eq_op)]
                                let take = (v > v0) | (v != v);
                                v0 = T::pick(take, v, v0);
                                i0 = pick_index(take, ky * w + x0 + kx, i0);
                            }
                        }
                        *bv = v0;
                        *bi = (base + i0) as u32;
                    }
                }
            });
        let _ = self.argmax.set(arg);
        out
    }

    fn forward<T: Float>(&self, x: &[T], hw: usize) -> Vec<T> {
        if let (Kind::Max, Some((kh, sh)), Some((kw, sw))) =
            (self.kind, self.rows.uniform, self.cols.uniform)
        {
            if hw <= u32::MAX as usize {
                match (kh, kw) {
                    (2, 2) if (sh, sw) == (2, 2) => return self.max_2x2(x, hw),
                    (2, 2) => return self.max_uniform::<T, 2, 2>(x, hw, (sh, sw)),
                    (3, 3) => return self.max_uniform::<T, 3, 3>(x, hw, (sh, sw)),
                    _ => {}
                }
            }
        }
        if let (Kind::Max, Some(rows), Some(cols)) = (self.kind, &self.rows.spans, &self.cols.spans)
        {
            if hw <= u32::MAX as usize {
                return self.max_spans(x, hw, rows, cols);
            }
        }
        let (oh, ow) = (self.rows.out(), self.cols.out());
        let mut out = vec![T::default(); x.len() / hw.max(1) * oh * ow];
        let w = self.cols.input;
        out.par_chunks_mut(oh * ow)
            .zip(x.par_chunks(hw))
            .for_each(|(o, plane)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        o[oy * ow + ox] = match self.kind {
                            Kind::Max => self
                                .argmax(plane, oy, ox)
                                .map_or(T::default(), |i| plane[i]),
                            Kind::Avg {
                                count_include_pad,
                                divisor_override,
                            } => {
                                let mut s = T::default();
                                for &y in &self.rows.idx[oy] {
                                    for &xx in &self.cols.idx[ox] {
                                        s += plane[y * w + xx];
                                    }
                                }
                                self.scale(s, (oy, ox), count_include_pad, divisor_override)
                            }
                        };
                    }
                }
            });
        out
    }

    fn backward<T: Float>(&self, x: Option<&[T]>, g: &[T], planes: usize, hw: usize) -> Vec<T> {
        let (oh, ow) = (self.rows.out(), self.cols.out());
        let w = self.cols.input;
        let mut out = vec![T::default(); planes * hw];
        if let (Kind::Max, Some(arg)) = (self.kind, self.argmax.get()) {
            out.par_chunks_mut(hw)
                .zip(g.par_chunks(oh * ow))
                .zip(arg.par_chunks(oh * ow))
                .with_min_len(16)
                .for_each(|((gx, gy), a)| {
                    for (&i, &v) in a.iter().zip(gy) {
                        gx[i as usize] += v;
                    }
                });
            return out;
        }
        out.par_chunks_mut(hw)
            .zip(g.par_chunks(oh * ow))
            .enumerate()
            .for_each(|(p, (gx, gy))| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let gv = gy[oy * ow + ox];
                        match (self.kind, x) {
                            (Kind::Max, Some(x)) => {
                                if let Some(i) = self.argmax(&x[p * hw..(p + 1) * hw], oy, ox) {
                                    gx[i] += gv;
                                }
                            }
                            (Kind::Max, None) => {}
                            (
                                Kind::Avg {
                                    count_include_pad,
                                    divisor_override,
                                },
                                _,
                            ) => {
                                let v =
                                    self.scale(gv, (oy, ox), count_include_pad, divisor_override);
                                for &y in &self.rows.idx[oy] {
                                    for &xx in &self.cols.idx[ox] {
                                        gx[y * w + xx] += v;
                                    }
                                }
                            }
                        }
                    }
                }
            });
        out
    }
}

fn slice<'a, T>(v: &'a [T], l: &Layout, op: &str) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

impl CustomOp1 for PoolOp {
    fn name(&self) -> &'static str {
        "wick-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        self.cpu_forward(s, l)
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(
            &grad.contiguous()?,
            &PoolBwd(self.clone()),
        )?))
    }
}

/// The gradient of a [`PoolOp`], applied to `(input, grad of output)`.
struct PoolBwd(PoolOp);

impl CustomOp2 for PoolBwd {
    fn name(&self) -> &'static str {
        "wick-pool2d-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (planes, hw) = self.0.check(l1, "pool2d backward")?;
        let op = "pool2d backward";
        let max = self.0.kind == Kind::Max;
        let out = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(g)) => {
                let x = slice(x, l1, op)?;
                CpuStorage::F32(
                    self.0
                        .backward(max.then_some(x), slice(g, l2, op)?, planes, hw),
                )
            }
            (CpuStorage::F64(x), CpuStorage::F64(g)) => {
                let x = slice(x, l1, op)?;
                CpuStorage::F64(
                    self.0
                        .backward(max.then_some(x), slice(g, l2, op)?, planes, hw),
                )
            }
            _ => candle_core::bail!("{op}: unsupported dtypes"),
        };
        Ok((out, l1.shape().clone()))
    }
}

fn apply(x: &Tensor, op: PoolOp) -> Result<Tensor> {
    if !wick_tensor::device_path::cpu_kernel(x) {
        return pool_generic(x, &op);
    }
    x.contiguous()?.apply_op1(op)
}

/// The windows of one dimension as one index list: window `o`'s input indices padded to
/// the longest window's length `k` with `n` (an extra slot the caller appends), `[out·k]`
/// row-major. Also returns `k` and whether the extra slot is used.
fn window_indices(w: &Windows) -> (Vec<u32>, usize, bool) {
    let k = w.idx.iter().map(Vec::len).max().unwrap_or(0);
    let mut idx = Vec::with_capacity(w.out() * k);
    let mut padded = false;
    for win in &w.idx {
        idx.extend(win.iter().map(|&i| i as u32));
        padded |= win.len() < k;
        idx.extend(std::iter::repeat_n(w.input as u32, k - win.len()));
    }
    (idx, k, padded)
}

/// `x` with its `dim` indexed by `idx`, after appending one slot filled with `fill` if
/// `padded`.
fn gather_axis(x: &Tensor, dim: usize, idx: &[u32], padded: bool, fill: f64) -> Result<Tensor> {
    let x = if padded {
        let slot = x
            .narrow(dim, 0, 1)?
            .detach()
            .zeros_like()?
            .affine(1.0, fill)?;
        Tensor::cat(&[x, &slot], dim)?
    } else {
        x.clone()
    };
    x.index_select(&indices(x.device(), idx)?, dim)
}

/// A [`PoolOp`] composed from candle ops, for devices without the CPU kernel: the
/// windows are gathered with two `index_select`s into `[N, C, oH, oW, kH·kW]` (short
/// windows filled with `-inf` for max, 0 for average), then
///
/// - max: the first maximum of each window (NaN counted as `+inf`, so it wins) is
///   found with `argmax` and taken with `gather`, whose backward sends the gradient to
///   that element only, as PyTorch;
/// - average: the window sum divided by the same divisor as the kernel.
///
/// Every backward here (`gather` → `scatter_add`, `index_select` → `index_add`, `cat`
/// → `narrow`) is checked, in `f64`, against the CPU kernel's.
fn pool_generic(x: &Tensor, op: &PoolOp) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    if (h, w) != (op.rows.input, op.cols.input) || h * w == 0 {
        candle_core::bail!(
            "pool2d: expected a [N, C, {}, {}] input, got {:?}",
            op.rows.input,
            op.cols.input,
            x.dims()
        )
    }
    let (oh, ow) = (op.rows.out(), op.cols.out());
    let fill = match op.kind {
        Kind::Max => f64::NEG_INFINITY,
        Kind::Avg { .. } => 0.0,
    };
    let (ri, kh, rp) = window_indices(&op.rows);
    let (ci, kw, cp) = window_indices(&op.cols);
    let win = gather_axis(x, 2, &ri, rp, fill)?;
    let win = gather_axis(&win, 3, &ci, cp, fill)?
        .reshape((n, c, oh, kh, ow, kw))?
        .permute((0, 1, 2, 4, 3, 5))?
        .reshape((n, c, oh, ow, kh * kw))?;
    match op.kind {
        Kind::Max => {
            let key = win.detach();
            let nan = key.ne(&key)?;
            let key = nan.where_cond(&key.ones_like()?.affine(0.0, f64::INFINITY)?, &key)?;
            let at = key.argmax_keepdim(4)?;
            win.gather(&at, 4)?.squeeze(4)
        }
        Kind::Avg {
            count_include_pad,
            divisor_override,
        } => {
            let sum = win.sum(4)?;
            if divisor_override == Some(0) {
                // the kernel's convention for a zero divisor (the layer rejects it)
                return sum.detach().zeros_like();
            }
            let div: Vec<u32> = (0..oh)
                .flat_map(|oy| (0..ow).map(move |ox| (oy, ox)))
                .map(|(oy, ox)| match divisor_override {
                    Some(d) => d,
                    None if count_include_pad => op.rows.with_pad[oy] * op.cols.with_pad[ox],
                    None => op.rows.idx[oy].len() * op.cols.idx[ox].len(),
                } as u32)
                .collect();
            let div = indices(x.device(), &div)?
                .to_dtype(x.dtype())?
                .reshape((1, 1, oh, ow))?;
            sum.broadcast_div(&div)
        }
    }
}

fn hw(x: &Tensor, op: &str) -> Result<(usize, usize)> {
    match *x.dims() {
        [_, _, h, w] => Ok((h, w)),
        _ => candle_core::bail!("{op}: expected a [N, C, H, W] input, got {:?}", x.dims()),
    }
}

/// `torch.nn.functional.max_pool2d` on `[N, C, H, W]`, with PyTorch's gradient (to the
/// first maximum of each window).
pub fn max_pool2d(x: &Tensor, p: Pool2d) -> Result<Tensor> {
    let (h, w) = hw(x, "max_pool2d")?;
    apply(x, PoolOp::max(p, (h, w))?)
}

impl PoolOp {
    /// The max pooling `p` of `h × w` planes.
    pub(crate) fn max(p: Pool2d, (h, w): (usize, usize)) -> Result<Self> {
        let Some((rows, cols)) = p.axes(h, w) else {
            candle_core::bail!("max_pool2d: input {h}x{w} is too small for {p:?}")
        };
        Ok(PoolOp {
            rows: Arc::new(rows),
            cols: Arc::new(cols),
            kind: Kind::Max,
            argmax: Arc::default(),
        })
    }

    /// Whether [`PoolOp::cpu_forward`] keeps each output's argmax (the max poolings
    /// with the same window on every output, or contiguous windows), so that
    /// [`PoolOp::scatter`] can route a gradient without the input.
    pub(crate) fn keeps_argmax(&self) -> bool {
        // the kernels of `forward` that record it
        let hw = self.rows.input * self.cols.input;
        let small_uniform = matches!(
            (self.rows.uniform, self.cols.uniform),
            (Some((2, _)), Some((2, _))) | (Some((3, _)), Some((3, _)))
        );
        let spans = self.rows.spans.is_some() && self.cols.spans.is_some();
        self.kind == Kind::Max && hw <= u32::MAX as usize && (small_uniform || spans)
    }

    /// The pooling of a contiguous `[N, C, H, W]` storage (the op's CPU forward).
    pub(crate) fn cpu_forward(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, hw) = self.check(l, "pool2d")?;
        let out = match s {
            CpuStorage::F32(v) => CpuStorage::F32(self.forward(slice(v, l, "pool2d")?, hw)),
            CpuStorage::F64(v) => CpuStorage::F64(self.forward(slice(v, l, "pool2d")?, hw)),
            _ => candle_core::bail!("pool2d: only f32 and f64 are supported"),
        };
        let d = l.dims();
        Ok((
            out,
            Shape::from((d[0], d[1], self.rows.out(), self.cols.out())),
        ))
    }

    /// The input gradient `[n, c, H, W]` of a max pooling whose forward kept its argmax
    /// ([`PoolOp::keeps_argmax`]), from the output gradient `g`: each output's gradient
    /// added at its maximum, zeros elsewhere.
    pub(crate) fn scatter(&self, g: &Tensor) -> Result<Tensor> {
        if self.argmax.get().is_none() {
            candle_core::bail!("max_pool2d backward: the forward pass kept no argmax")
        }
        g.contiguous()?.apply_op1_no_bwd(&Scatter(self.clone()))
    }
}

/// [`PoolOp::scatter`] as an op without backward, applied to the output gradient.
struct Scatter(PoolOp);

impl CustomOp1 for Scatter {
    fn name(&self) -> &'static str {
        "wick-max-pool2d-scatter"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let p = &self.0;
        let (oh, ow) = (p.rows.out(), p.cols.out());
        let (n, c) = match *l.dims() {
            [n, c, h, w] if (h, w) == (oh, ow) => (n, c),
            _ => candle_core::bail!(
                "max_pool2d backward: expected a [N, C, {oh}, {ow}] gradient, got {:?}",
                l.dims()
            ),
        };
        let (h, w) = (p.rows.input, p.cols.input);
        let op = "max_pool2d backward";
        let out = match s {
            CpuStorage::F32(g) => CpuStorage::F32(p.backward(None, slice(g, l, op)?, n * c, h * w)),
            CpuStorage::F64(g) => CpuStorage::F64(p.backward(None, slice(g, l, op)?, n * c, h * w)),
            _ => candle_core::bail!("{op}: only f32 and f64 are supported"),
        };
        Ok((out, Shape::from((n, c, h, w))))
    }
}

/// `torch.nn.functional.avg_pool2d(x, kernel_size, stride, padding, ceil_mode,
/// count_include_pad, divisor_override)` on `[N, C, H, W]` (`p.dilation` must be 1).
pub fn avg_pool2d(
    x: &Tensor,
    p: Pool2d,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Result<Tensor> {
    let (h, w) = hw(x, "avg_pool2d")?;
    let Some((rows, cols)) = p.axes(h, w) else {
        candle_core::bail!("avg_pool2d: input {h}x{w} is too small for {p:?}")
    };
    apply(
        x,
        PoolOp {
            rows: Arc::new(rows),
            cols: Arc::new(cols),
            kind: Kind::Avg {
                count_include_pad,
                divisor_override,
            },
            argmax: Arc::default(),
        },
    )
}

/// `torch.nn.functional.adaptive_max_pool2d(x, (oh, ow))` (`[N, C, H, W]`): window
/// `o` covers `[⌊o·n/out⌋, ⌈(o+1)·n/out⌉)`.
pub fn adaptive_max_pool2d(x: &Tensor, out: (usize, usize)) -> Result<Tensor> {
    adaptive(x, out, Kind::Max)
}

/// `torch.nn.functional.adaptive_avg_pool2d(x, (oh, ow))` on `[N, C, H, W]`.
pub fn adaptive_avg_pool2d(x: &Tensor, out: (usize, usize)) -> Result<Tensor> {
    adaptive(
        x,
        out,
        Kind::Avg {
            count_include_pad: false,
            divisor_override: None,
        },
    )
}

fn adaptive(x: &Tensor, out: (usize, usize), kind: Kind) -> Result<Tensor> {
    let (h, w) = hw(x, "adaptive pool")?;
    if out.0 == 0 || out.1 == 0 || h == 0 || w == 0 {
        candle_core::bail!("adaptive pool: output size {out:?} or input {h}x{w} is empty")
    }
    apply(
        x,
        PoolOp {
            rows: Arc::new(Windows::adaptive(h, out.0)),
            cols: Arc::new(Windows::adaptive(w, out.1)),
            kind,
            argmax: Arc::default(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
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

    fn distinct(shape: (usize, usize, usize, usize)) -> Tensor {
        // distinct values so that finite differences do not cross a tie
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        let vals: Vec<f64> = (0..n).map(|i| ((i * 53) % 97) as f64 / 10.0).collect();
        Tensor::from_vec(vals, shape, &Device::Cpu).unwrap()
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
    fn adaptive_windows_match_aten() {
        let w = Windows::adaptive(5, 3);
        assert_eq!(w.idx, vec![vec![0, 1], vec![1, 2, 3], vec![3, 4]]);
        let w = Windows::adaptive(2, 4);
        assert_eq!(w.idx, vec![vec![0], vec![0], vec![1], vec![1]]);
    }

    #[test]
    fn gradcheck_max_pool_all_geometries() {
        let x = distinct((2, 2, 7, 6));
        for p in [
            pool(2, 2, 0, 1, false),
            pool(3, 2, 1, 1, false),
            pool(2, 1, 0, 2, false),
            pool(3, 2, 0, 1, true),
            pool(2, 3, 1, 1, true),
            Pool2d {
                kernel: (3, 1),
                stride: (1, 2),
                padding: (1, 0),
                dilation: (1, 3),
                ceil_mode: true,
            },
        ] {
            gradcheck(|v| max_pool2d(&v[0], p), std::slice::from_ref(&x)).unwrap();
        }
    }

    #[test]
    fn gradcheck_avg_pool_all_options() {
        let x = distinct((2, 2, 7, 6));
        for (p, include, over) in [
            (pool(2, 2, 0, 1, false), true, None),
            (pool(3, 2, 1, 1, false), true, None),
            (pool(3, 2, 1, 1, false), false, None),
            (pool(3, 2, 1, 1, true), true, None),
            (pool(3, 2, 1, 1, true), false, Some(5)),
            (pool(2, 3, 0, 1, true), false, None),
        ] {
            gradcheck(
                |v| avg_pool2d(&v[0], p, include, over),
                std::slice::from_ref(&x),
            )
            .unwrap();
        }
    }

    /// `f` on the CPU kernel and on the generic path: values and gradients of
    /// `sum(f(x) · w)` must agree to `tol` (relative to the largest magnitude).
    fn kernel_vs_generic(x: &Tensor, f: impl Fn(&Tensor) -> Result<Tensor>, tol: f64, what: &str) {
        let run = |generic: bool| {
            let v = candle_core::Var::from_tensor(x).unwrap();
            let y = if generic {
                wick_tensor::device_path::force_generic(|| f(v.as_tensor())).unwrap()
            } else {
                f(v.as_tensor()).unwrap()
            };
            let n = y.elem_count();
            let w: Vec<f64> = (0..n).map(|i| ((i * 13) % 7) as f64 - 2.5).collect();
            let w = Tensor::from_vec(w, y.shape(), &Device::Cpu)
                .unwrap()
                .to_dtype(y.dtype())
                .unwrap();
            let g = (&y * w).unwrap().sum_all().unwrap().backward().unwrap();
            (y.clone(), g.get(v.as_tensor()).unwrap().clone())
        };
        let (yk, gk) = run(false);
        let (yg, gg) = run(true);
        assert_eq!(yk.dims(), yg.dims(), "{what}");
        let e = wick_tensor::testing::rel_error(&yg, &yk);
        assert!(e <= tol, "{what}: value error {e}");
        let e = wick_tensor::testing::rel_error(&gg, &gk);
        assert!(e <= tol, "{what}: gradient error {e}");
    }

    fn geometries() -> Vec<Pool2d> {
        vec![
            pool(2, 2, 0, 1, false),
            pool(3, 2, 1, 1, false),
            pool(2, 1, 0, 2, false),
            pool(3, 2, 0, 1, true),
            pool(2, 3, 1, 1, true),
            pool(3, 3, 1, 1, true),
            Pool2d {
                kernel: (3, 1),
                stride: (1, 2),
                padding: (1, 0),
                dilation: (1, 3),
                ceil_mode: true,
            },
        ]
    }

    #[test]
    fn generic_max_pool_equals_the_kernel() {
        let x = distinct((2, 3, 7, 6));
        // ties: the gradient must go to the first maximum on both paths
        let ties = Tensor::from_vec(
            (0..2 * 3 * 7 * 6)
                .map(|i| ((i * 5) % 3) as f64)
                .collect::<Vec<_>>(),
            (2, 3, 7, 6),
            &Device::Cpu,
        )
        .unwrap();
        for p in geometries() {
            for (x, tol) in [
                (x.clone(), 0.0),
                (x.to_dtype(DType::F32).unwrap(), 0.0),
                (ties.clone(), 0.0),
            ] {
                kernel_vs_generic(&x, |t| max_pool2d(t, p), tol, &format!("max {p:?}"));
            }
            gradcheck(
                |v| wick_tensor::device_path::force_generic(|| max_pool2d(&v[0], p)),
                std::slice::from_ref(&x),
            )
            .unwrap();
        }
    }

    #[test]
    fn uniform_max_kernel_equals_the_span_kernel() {
        // values with ties, NaNs and infinities; every uniform geometry the fast path takes
        for (h, w) in [(11, 9), (28, 28), (14, 14), (7, 16), (5, 7), (4, 6)] {
            uniform_max_equals_spans(h, w);
        }
        // padding or ceil mode reach past the input: not uniform
        let (rows, _) = pool(2, 2, 1, 1, false).axes(11, 9).unwrap();
        assert_eq!(rows.uniform, None);
        let (rows, _) = pool(2, 2, 0, 1, true).axes(11, 9).unwrap();
        assert_eq!(rows.uniform, None);
    }

    fn uniform_max_equals_spans(h: usize, w: usize) {
        let vals: Vec<f32> = (0..2 * 3 * h * w)
            .map(|i| match i % 23 {
                0 => f32::NAN,
                5 => f32::NEG_INFINITY,
                9 => f32::INFINITY,
                _ => ((i * 7) % 5) as f32,
            })
            .collect();
        for (k, s) in [(2, 2), (2, 1), (3, 3), (3, 2), (3, 1)] {
            if k > h.min(w) {
                continue;
            }
            let p = pool(k, s, 0, 1, false);
            let (rows, cols) = p.axes(h, w).unwrap();
            // (a single window's stride is taken as 1)
            let kernel = |u: Option<(usize, usize)>| u.map(|(k, _)| k);
            assert_eq!(
                (kernel(rows.uniform), kernel(cols.uniform)),
                (Some(k), Some(k))
            );
            let op = || PoolOp {
                rows: Arc::new(rows.clone()),
                cols: Arc::new(cols.clone()),
                kind: Kind::Max,
                argmax: Arc::default(),
            };
            let (fast, spans) = (op(), op());
            let a = fast.forward(&vals, h * w);
            let b = spans.max_spans(
                &vals,
                h * w,
                rows.spans.as_ref().unwrap(),
                cols.spans.as_ref().unwrap(),
            );
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "values, k={k} s={s}, {h}x{w}");
            assert_eq!(
                fast.argmax.get(),
                spans.argmax.get(),
                "indices, k={k} s={s}, {h}x{w}"
            );
        }
    }

    #[test]
    fn generic_max_pool_propagates_nan_and_minus_infinity() {
        let mut v: Vec<f64> = (0..36).map(|i| i as f64).collect();
        v[7] = f64::NAN;
        v[20] = f64::NEG_INFINITY;
        v[21] = f64::NEG_INFINITY;
        v[26] = f64::NEG_INFINITY;
        v[27] = f64::NEG_INFINITY;
        let x = Tensor::from_vec(v, (1, 1, 6, 6), &Device::Cpu).unwrap();
        let p = pool(2, 2, 0, 1, false);
        let k: Vec<f64> = max_pool2d(&x, p)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let g: Vec<f64> = wick_tensor::device_path::force_generic(|| max_pool2d(&x, p))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(k[0].is_nan() && g[0].is_nan());
        assert_eq!(k[1..], g[1..]);
    }

    #[test]
    fn generic_avg_pool_equals_the_kernel() {
        let x = distinct((2, 3, 7, 6));
        for p in geometries().into_iter().filter(|p| p.dilation == (1, 1)) {
            for (include, over) in [(true, None), (false, None), (false, Some(5))] {
                for (x, tol) in [(x.clone(), 1e-15), (x.to_dtype(DType::F32).unwrap(), 1e-6)] {
                    kernel_vs_generic(
                        &x,
                        |t| avg_pool2d(t, p, include, over),
                        tol,
                        &format!("avg {p:?} {include} {over:?}"),
                    );
                }
            }
        }
    }

    #[test]
    fn generic_adaptive_pools_equal_the_kernel() {
        let x = distinct((2, 2, 7, 5));
        for out in [(3, 2), (1, 1), (7, 5), (9, 4), (4, 3)] {
            kernel_vs_generic(&x, |t| adaptive_max_pool2d(t, out), 0.0, "adaptive max");
            kernel_vs_generic(&x, |t| adaptive_avg_pool2d(t, out), 1e-15, "adaptive avg");
        }
    }

    #[test]
    fn gradcheck_adaptive_pools() {
        let x = distinct((2, 2, 7, 5));
        for out in [(3, 2), (1, 1), (7, 5), (9, 4)] {
            gradcheck(
                |v| adaptive_avg_pool2d(&v[0], out),
                std::slice::from_ref(&x),
            )
            .unwrap();
            gradcheck(
                |v| adaptive_max_pool2d(&v[0], out),
                std::slice::from_ref(&x),
            )
            .unwrap();
        }
    }
}
