//! The pooling's geometry: [`Pool2d`] (PyTorch's arguments), the windows it makes along
//! each dimension, and [`PoolOp`], a pooling of `[N, C, H, W]` over given windows.

use candle_core::{Layout, Result, Tensor};
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

    pub(crate) fn axes(&self, h: usize, w: usize) -> Option<(Windows, Windows)> {
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
pub(crate) struct Windows {
    pub(crate) input: usize,
    pub(crate) idx: Vec<Vec<usize>>,
    pub(crate) with_pad: Vec<usize>,
    /// `[start, end)` of every window when all are runs of consecutive indices (no
    /// dilation): the fast max-pooling path.
    pub(crate) spans: Option<Vec<(usize, usize)>>,
    /// `(k, s)` when window `o` is exactly `[o·s, o·s + k)` for every `o` (no padding
    /// reached, no dilation): the fastest path.
    pub(crate) uniform: Option<(usize, usize)>,
    /// `(kernel, stride, padding)` of windows `[o·s − p, o·s − p + k)` cut to the
    /// input (a pooling with dilation 1), for the separable max kernel.
    pub(crate) step: Option<(usize, usize, usize)>,
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
        let mut w = Self::new(n, idx, with_pad);
        w.step = (d == 1 && k > 0 && s > 0).then_some((k, s, p));
        w
    }

    fn new(input: usize, idx: Vec<Vec<usize>>, with_pad: Vec<usize>) -> Self {
        let spans = spans(&idx);
        Self {
            input,
            uniform: uniform(spans.as_deref()),
            step: None,
            spans,
            idx,
            with_pad,
        }
    }

    /// Adaptive windows: `[⌊o·n/out⌋, ⌈(o+1)·n/out⌉)`.
    pub(crate) fn adaptive(n: usize, out: usize) -> Self {
        let idx: Vec<Vec<usize>> = (0..out)
            .map(|o| ((o * n) / out..((o + 1) * n).div_ceil(out)).collect())
            .collect();
        let with_pad = idx.iter().map(Vec::len).collect();
        Self::new(n, idx, with_pad)
    }

    pub(crate) fn out(&self) -> usize {
        self.idx.len()
    }
}

/// Max, or average with PyTorch's divisor rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Max,
    Avg {
        count_include_pad: bool,
        divisor_override: Option<usize>,
    },
}

/// A pooling of `[N, C, H, W]` over the given windows.
#[derive(Debug, Clone)]
pub(crate) struct PoolOp {
    pub(crate) rows: Arc<Windows>,
    pub(crate) cols: Arc<Windows>,
    pub(crate) kind: Kind,
    /// Max pooling: the index (within its plane) of each output's maximum, kept by
    /// the forward pass for the backward pass.
    pub(crate) argmax: Arc<OnceLock<Vec<u32>>>,
}

impl PoolOp {
    pub(crate) fn check(&self, l: &Layout, op: &str) -> Result<(usize, usize)> {
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
}

/// `(H, W)` of a `[N, C, H, W]` input, or an error naming `op`.
pub(crate) fn hw(x: &Tensor, op: &str) -> Result<(usize, usize)> {
    match *x.dims() {
        [_, _, h, w] => Ok((h, w)),
        _ => candle_core::bail!("{op}: expected a [N, C, H, W] input, got {:?}", x.dims()),
    }
}
