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
//!
//! The parts, one file each: `geometry` ([`Pool2d`] and the windows it makes), `cpu`
//! (the kernels), `simd` (their SSE2 passes), `op` (the custom ops and the public
//! functions) and `device` (the compositions of candle ops for other devices).

mod cpu;
mod device;
mod geometry;
mod op;
#[cfg(target_arch = "x86_64")]
mod simd;
#[cfg(test)]
mod tests;

pub use geometry::Pool2d;
pub(crate) use geometry::PoolOp;
pub use op::{adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d};
