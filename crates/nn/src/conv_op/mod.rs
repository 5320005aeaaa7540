//! 2-D convolution and transposed convolution as candle custom ops with their own
//! backward: im2col + GEMM (the `gemm` crate candle itself uses), parallel over the
//! batch with rayon.
//!
//! candle's conv2d backward fails on strides that leave different remainders in H and W
//! and its conv_transpose has no backward; these ops compute, in one place each:
//!
//! - forward: `out[n, g] = W[g] · im2col(x[n, g]) (+ bias)`;
//! - grad input: `col2im(W[g]ᵀ · grad[n, g])`;
//! - grad weight: `Σₙ grad[n, g] · im2col(x[n, g])ᵀ`;
//! - grad bias: `Σ_{n, y, x} grad[n, o, y, x]`.
//!
//! The transposed convolution is the same three kernels with the roles swapped (its
//! forward is the convolution's grad input). On devices other than the CPU, or for
//! dtypes other than f32/f64, [`conv2d`] and [`conv_transpose2d`] are compositions of
//! candle ops with checked gradients (im2col by `index_select` and a matmul, col2im by
//! `index_add`), so they run on the device itself.
//!
//! The parts, one file each: [`geometry`] (the sizes and [`ConvGeom`]), `cpu` (im2col,
//! col2im and the GEMM calls, f32 and f64), `simd` (the direct AVX-512 kernels with
//! positions as the lanes, any stride forward, and when they apply), `lanes` (the direct
//! forward and input gradient with output channels as the lanes, for many input channels;
//! its register tile in `lanes_tile`, on the instruction sets of `isa`),
//! `lanes_weight` (the weight gradient of the same convolutions), `winograd` (F(2×2, 3×3)
//! for the three kernels of 3×3 stride-1 convolutions of 32 channels and more, first
//! where it applies; its relayouts in `transpose`), `op` (the candle custom
//! ops and the public functions) and `device` (the compositions of candle ops for other
//! devices).

mod channels_last;
mod cpu;
mod device;
pub(crate) mod geometry;
#[cfg(target_arch = "x86_64")]
mod isa;
#[cfg(target_arch = "x86_64")]
mod lanes;
#[cfg(target_arch = "x86_64")]
mod lanes_tile;
#[cfg(target_arch = "x86_64")]
mod lanes_weight;
mod op;
#[cfg(target_arch = "x86_64")]
mod simd;
mod stacked;
#[cfg(test)]
mod tests;
mod transpose;
mod unfold;
mod winograd;

pub use geometry::ConvGeom;
pub(crate) use op::ConvOp;
pub use op::{conv2d, conv2d_act, conv_transpose2d};
