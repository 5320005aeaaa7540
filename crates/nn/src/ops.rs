//! Ops whose candle version has a wrong or missing gradient, as candle custom ops with
//! their own backward.
//!
//! - [`relu`]: candle's backward passes the gradient where `x == 0` (it tests `x ≥ 0`);
//!   PyTorch's `threshold_backward` passes it only where `x > 0`.
//! - [`max_pool2d`], [`avg_pool2d`], [`adaptive_max_pool2d`], [`adaptive_avg_pool2d`]:
//!   candle's max_pool2d backward scales the gradient by `1/(kh·kw)`, its avg_pool2d
//!   backward leaks into dropped rows, and neither has a backward for stride ≠ kernel;
//!   wick's route the gradient as PyTorch does (see `pool_op.rs`).
//! - [`conv2d`], [`conv_transpose2d`]: im2col + GEMM with a hand-written backward
//!   (candle's conv2d backward fails on some strides, its conv_transpose has none).
//! - [`conv2d_relu_max_pool2d`]: the three as one op (see `conv_pool_op.rs`).
//! - [`conv2d_batch_norm`]: a convolution, a train-mode batch norm, a ReLU and a max
//!   pooling as one op (see `conv_bn_op.rs`).
//! - [`pad2d`]: reflect / replicate / circular padding with its backward.
//! - [`add_relu`]: `relu(a + b)` as one op (a residual block's end).

pub use crate::conv_bn_op::conv2d_batch_norm;
pub use crate::conv_op::{conv2d, conv2d_act, conv_transpose2d, ConvGeom};
pub use crate::conv_pool_op::conv2d_relu_max_pool2d;
pub use crate::pad_op::{pad2d, PadMode};
pub use crate::pool_op::{
    adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d, Pool2d,
};
pub use crate::relu_op::{add_relu, relu};
