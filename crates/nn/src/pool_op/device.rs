//! The pooling composed from candle ops for devices without a wick kernel: the windows
//! gathered by `index_select`, then a max or a sum and PyTorch's divisor. Its gradient is
//! candle's for those ops, checked against the CPU kernel's.

use super::geometry::{Kind, PoolOp, Windows};
use crate::index_cache::indices;
use candle_core::{Result, Tensor};

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
pub(crate) fn pool_generic(x: &Tensor, op: &PoolOp) -> Result<Tensor> {
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
