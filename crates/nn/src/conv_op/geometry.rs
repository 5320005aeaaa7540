//! The sizes of a 2-D convolution: [`ConvGeom`] (stride, padding, dilation, groups) and
//! [`Dims`] (the operands' sizes in the convolution's own terms).

use candle_core::{Layout, Result};

/// Geometry of a 2-D convolution: stride, zero padding (possibly different on each
/// side), dilation and groups, each per dimension `(H, W)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// `(sH, sW)`.
    pub stride: (usize, usize),
    /// Zero padding `(top, bottom)`.
    pub pad_h: (usize, usize),
    /// Zero padding `(left, right)`.
    pub pad_w: (usize, usize),
    /// `(dH, dW)`.
    pub dilation: (usize, usize),
    /// Channel groups.
    pub groups: usize,
}

impl ConvGeom {
    /// A geometry with the same padding on both sides.
    pub fn symmetric(
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
        groups: usize,
    ) -> Self {
        Self {
            stride,
            pad_h: (padding.0, padding.0),
            pad_w: (padding.1, padding.1),
            dilation,
            groups,
        }
    }

    /// Output length of a convolution along one dimension:
    /// `⌊(n + p₀ + p₁ − d·(k−1) − 1) / s⌋ + 1`, `None` when the kernel does not fit.
    pub fn conv_len(n: usize, k: usize, s: usize, p: (usize, usize), d: usize) -> Option<usize> {
        let padded = n.checked_add(p.0)?.checked_add(p.1)?;
        let span = padded.checked_sub(d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?)?;
        Some(span / s.max(1) + 1)
    }

    /// `(H_out, W_out)` of a convolution of an `h × w` input with a `kh × kw` kernel.
    pub fn conv_hw(&self, h: usize, w: usize, kh: usize, kw: usize) -> Option<(usize, usize)> {
        Some((
            Self::conv_len(h, kh, self.stride.0, self.pad_h, self.dilation.0)?,
            Self::conv_len(w, kw, self.stride.1, self.pad_w, self.dilation.1)?,
        ))
    }
}

/// Sizes of one convolution, in the convolution's own terms: input `[n, cin, h, w]`,
/// weight `[cout, cin/groups, kh, kw]`, output `[n, cout, oh, ow]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dims {
    pub(crate) n: usize,
    pub(crate) cin: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) cout: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
}

impl Dims {
    /// Rows of one group's im2col matrix: `cin/groups · kh · kw`.
    pub(crate) fn kg(&self, g: &ConvGeom) -> usize {
        self.cin / g.groups * self.kh * self.kw
    }
    pub(crate) fn l(&self) -> usize {
        self.oh * self.ow
    }
    /// Floating-point operations of each of the convolution's three kernels (forward,
    /// input gradient, weight gradient): `2·n·cout·oh·ow·(cin/groups)·kh·kw`.
    pub(crate) fn flops(&self, g: &ConvGeom) -> u64 {
        crate::profile::gemm_flops(self.n * self.l(), self.cout, self.kg(g))
    }
    /// Whether im2col is the identity (1×1 kernel, stride 1, no padding).
    pub(crate) fn is_pointwise(&self, g: &ConvGeom) -> bool {
        self.kh == 1 && self.kw == 1 && g.stride == (1, 1) && g.pad_h == (0, 0) && g.pad_w == (0, 0)
    }
}

/// Range of output positions `o` in `0..out` whose input position `o·s + off − p` lies
/// in `0..n`.
pub(crate) fn valid_range(out: usize, n: usize, s: usize, off: usize, p: usize) -> (usize, usize) {
    // o·s ≥ p − off
    let lo = if p > off { (p - off).div_ceil(s) } else { 0 };
    // o·s < n + p − off
    let hi = if n + p > off {
        (n + p - off).div_ceil(s)
    } else {
        0
    };
    (lo.min(out), hi.min(out).max(lo.min(out)))
}

/// The four dimensions of a layout, or an error naming `what`.
pub(crate) fn dims4(l: &Layout, what: &str) -> Result<(usize, usize, usize, usize)> {
    match *l.dims() {
        [a, b, c, d] => Ok((a, b, c, d)),
        _ => candle_core::bail!("{what}: expected 4 dimensions, got {:?}", l.dims()),
    }
}

/// Whether to split the batch across threads (else the GEMMs use the threads).
pub(crate) fn batch_parallel(n: usize) -> bool {
    n >= rayon::current_num_threads()
}

/// Samples per partial sum of [`batch_sum`].
pub(crate) const SUM_CHUNK: usize = 8;

/// `Σ` over a batch of `n` samples of per-sample terms of `len` values: `chunk_sum(c,
/// par)` sums chunk `c` (samples `c·chunk..`, its GEMMs on the threads when `par`),
/// the chunks run in parallel when there are enough of them, and the partial sums are
/// added in chunk order, so the result does not depend on the thread count or on
/// scheduling.
pub(crate) fn batch_sum<T: crate::kernel::Float>(
    n: usize,
    chunk: usize,
    len: usize,
    chunk_sum: impl Fn(usize, bool) -> Vec<T> + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    let chunks = n.div_ceil(chunk.max(1));
    let partial: Vec<Vec<T>> = if batch_parallel(chunks) {
        (0..chunks)
            .into_par_iter()
            .map(|c| chunk_sum(c, false))
            .collect()
    } else {
        (0..chunks).map(|c| chunk_sum(c, true)).collect()
    };
    let mut parts = partial.into_iter();
    let mut acc = parts.next().unwrap_or_else(|| vec![T::default(); len]);
    for p in parts {
        acc.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    acc
}

/// The input gradient of a stride-1 convolution as a forward one: the output gradient
/// `[n, cout, oh, ow]` correlated with the flipped, transposed weights, padded by `k − 1
/// − p` on each side, gives `[n, cin, h, w]` (at dilation 1; `None` at other strides or
/// where a padding exceeds `k − 1`).
pub(crate) fn stride1_transposed(d: &Dims, g: &ConvGeom) -> Option<(Dims, ConvGeom)> {
    let pad =
        |k: usize, p: (usize, usize)| Some((k.checked_sub(p.0 + 1)?, k.checked_sub(p.1 + 1)?));
    let gb = ConvGeom {
        stride: (1, 1),
        pad_h: pad(d.kh, g.pad_h)?,
        pad_w: pad(d.kw, g.pad_w)?,
        ..*g
    };
    let db = Dims {
        cin: d.cout,
        h: d.oh,
        w: d.ow,
        cout: d.cin,
        oh: d.h,
        ow: d.w,
        ..*d
    };
    (g.stride == (1, 1)).then_some((db, gb))
}
