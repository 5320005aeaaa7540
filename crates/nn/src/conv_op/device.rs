//! The convolution composed from candle ops, for devices without a wick kernel (and
//! for dtypes other than f32/f64): its gradient is candle's for those ops, checked
//! against the CPU kernel's.

use super::geometry::ConvGeom;
use crate::index_cache::indices;
use candle_core::{Result, Tensor};

/// Pads with zeros, `(before, after)` on dimension `dim`, differentiably.
fn zero_pad(x: &Tensor, dim: usize, p: (usize, usize)) -> Result<Tensor> {
    if p == (0, 0) {
        Ok(x.clone())
    } else {
        x.pad_with_zeros(dim, p.0, p.1)
    }
}

/// Indices `o·s + k·d` for `o < out`, `k < kn`, row-major in `(o, k)`: the padded input
/// positions that output `o` reads with kernel tap `k` (im2col along one dimension).
fn tap_indices(out: usize, kn: usize, s: usize, d: usize) -> Vec<u32> {
    (0..out)
        .flat_map(|o| (0..kn).map(move |k| (o * s + k * d) as u32))
        .collect()
}

/// The same indices ordered `(k, o)`: where tap `k` of input `o` lands in the padded
/// output of a transposed convolution (col2im along one dimension).
fn tap_indices_k_major(input: usize, kn: usize, s: usize, d: usize) -> Vec<u32> {
    (0..kn)
        .flat_map(|k| (0..input).map(move |i| (i * s + k * d) as u32))
        .collect()
}

fn add_bias(y: Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
        None => Ok(y),
    }
}

/// The convolution composed from candle ops, for any geometry on any device: zero
/// padding, im2col as two `index_select`s (`[C_in·kH·kW, N·oH·oW]` per group) and one
/// batched matmul with the weight `[groups, C_out/groups, C_in/groups·kH·kW]`. Its
/// gradient is candle's for those ops (`index_add`, matmul, `narrow`), which is
/// checked against the CPU kernel's.
pub(crate) fn conv2d_generic(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
) -> Result<Tensor> {
    let (n, cin, h, w) = x.dims4()?;
    let (cout, cg, kh, kw) = weight.dims4()?;
    let groups = g.groups;
    if groups == 0 || cg * groups != cin || cout % groups != 0 {
        candle_core::bail!(
            "conv2d: weight {:?} does not fit {cin} input channels in {groups} groups",
            weight.dims()
        )
    }
    let Some((oh, ow)) = g.conv_hw(h, w, kh, kw) else {
        candle_core::bail!("conv2d: kernel {kh}x{kw} does not fit input {h}x{w}")
    };
    let x = zero_pad(&zero_pad(x, 2, g.pad_h)?, 3, g.pad_w)?;
    let dev = x.device().clone();
    let rows = indices(&dev, &tap_indices(oh, kh, g.stride.0, g.dilation.0))?;
    let cols = indices(&dev, &tap_indices(ow, kw, g.stride.1, g.dilation.1))?;
    // [n, cin, oh·kh, ow·kw] → [cin, kh, kw, n, oh, ow] → [groups, cg·kh·kw, n·oh·ow]
    let cols = x
        .index_select(&rows, 2)?
        .index_select(&cols, 3)?
        .reshape((n, cin, oh, kh, ow, kw))?
        .permute((1, 3, 5, 0, 2, 4))?
        .reshape((groups, cg * kh * kw, n * oh * ow))?;
    let wm = weight.reshape((groups, cout / groups, cg * kh * kw))?;
    let y = wm
        .matmul(&cols)?
        .reshape((cout, n, oh, ow))?
        .permute((1, 0, 2, 3))?
        .contiguous()?;
    add_bias(y, bias)
}

/// The transposed convolution composed from candle ops, for any device: per group
/// `Wᵀ · x` (`[C_out/groups·kH·kW, N·H·W]`), then col2im as two `index_add`s into the
/// full output `[(H−1)·s + d·(kH−1) + 1, …]`, cropped by the padding (and extended by
/// `output_padding`) to `out_hw`. Its gradient is candle's for those ops.
pub(crate) fn conv_transpose2d_generic(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
    out_hw: (usize, usize),
) -> Result<Tensor> {
    let (n, cin, h, w) = x.dims4()?;
    let (wcin, cog, kh, kw) = weight.dims4()?;
    let groups = g.groups;
    if groups == 0 || wcin != cin || cin % groups != 0 {
        candle_core::bail!(
            "conv_transpose2d: weight {:?} does not fit {cin} input channels in {groups} groups",
            weight.dims()
        )
    }
    let cig = cin / groups;
    let cout = cog * groups;
    let full = |n: usize, k: usize, s: usize, d: usize| (n - 1) * s + d * (k - 1) + 1;
    let (fh, fw) = (
        full(h, kh, g.stride.0, g.dilation.0),
        full(w, kw, g.stride.1, g.dilation.1),
    );
    if h == 0 || w == 0 || out_hw.0 == 0 || out_hw.1 == 0 || kh == 0 || kw == 0 {
        candle_core::bail!("conv_transpose2d: empty input {h}x{w} or output {out_hw:?}")
    }
    // [groups, cig, n·h·w] and [groups, cog·kh·kw, cig]
    let xm = x.permute((1, 0, 2, 3))?.reshape((groups, cig, n * h * w))?;
    let wm = weight
        .reshape((groups, cig, cog * kh * kw))?
        .transpose(1, 2)?;
    // [groups, cog, kh, kw, n, h, w] → [n, groups, cog, kh, h, kw, w]
    let cols = wm
        .matmul(&xm)?
        .reshape(vec![groups, cog, kh, kw, n, h, w])?
        .permute(vec![4, 0, 1, 2, 5, 3, 6])?
        .reshape((n, cout, kh * h, kw * w))?;
    let dev = x.device().clone();
    let at_w = indices(&dev, &tap_indices_k_major(w, kw, g.stride.1, g.dilation.1))?;
    let at_h = indices(&dev, &tap_indices_k_major(h, kh, g.stride.0, g.dilation.0))?;
    let dt = x.dtype();
    let y = Tensor::zeros((n, cout, kh * h, fw), dt, &dev)?.index_add(&at_w, &cols, 3)?;
    let y = Tensor::zeros((n, cout, fh, fw), dt, &dev)?.index_add(&at_h, &y, 2)?;
    // crop the padding; output_padding adds zero rows/columns at the end
    let crop = |y: Tensor, dim: usize, f: usize, p0: usize, out: usize| -> Result<Tensor> {
        let y = y.pad_with_zeros(dim, 0, (p0 + out).saturating_sub(f))?;
        y.narrow(dim, p0, out)
    };
    let y = crop(y, 2, fh, g.pad_h.0, out_hw.0)?;
    let y = crop(y, 3, fw, g.pad_w.0, out_hw.1)?;
    add_bias(y, bias)
}

/// The convolution as a composition of candle ops, for devices without a wick kernel:
/// zero padding, a crop to the rows and columns the windows reach (candle's conv2d
/// backward fails on strides that leave a remainder otherwise) and candle's conv2d.
/// Needs the same stride and dilation in H and W.
pub(super) fn conv2d_candle(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
) -> Result<Tensor> {
    let (_, _, kh, kw) = weight.dims4()?;
    let (_, _, h, w) = x.dims4()?;
    let (s, d) = (g.stride.0, g.dilation.0);
    let Some((oh, ow)) = g.conv_hw(h, w, kh, kw) else {
        candle_core::bail!("conv2d: kernel {kh}x{kw} does not fit input {h}x{w}")
    };
    let x = zero_pad(&zero_pad(x, 2, g.pad_h)?, 3, g.pad_w)?;
    let y = x
        .narrow(2, 0, (oh - 1) * s + d * (kh - 1) + 1)?
        .narrow(3, 0, (ow - 1) * s + d * (kw - 1) + 1)?
        .conv2d(weight, 0, s, d, g.groups)?;
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
        None => Ok(y),
    }
}

/// The convolution (then `F.relu` when `relu`) on a device without a wick kernel:
/// [`conv2d_candle`] where H and W share stride and dilation, else [`conv2d_generic`].
pub(super) fn conv2d_act(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: ConvGeom,
    relu: bool,
) -> Result<Tensor> {
    if g.stride.0 != g.stride.1 || g.dilation.0 != g.dilation.1 {
        let y = conv2d_generic(x, weight, bias, g)?;
        return if relu {
            crate::relu_op::relu(&y)
        } else {
            Ok(y)
        };
    }
    let y = conv2d_candle(x, weight, bias, g)?;
    if relu {
        crate::relu_op::relu(&y)
    } else {
        Ok(y)
    }
}
