//! The element types an optimizer updates in place (f32 and f64), and the elementwise
//! helpers written the way ATen's CPU kernels compute them.

use candle_core::{CpuStorage, DType};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A floating-point element type of parameters and optimizer state.
pub trait Float:
    Copy
    + PartialOrd
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + candle_core::WithDType
    + 'static
{
    /// The candle dtype.
    const DT: DType;
    /// A Python float converted to this type, as ATen converts a scalar argument.
    fn of(x: f64) -> Self;
    /// `sqrt`.
    fn sqrt(self) -> Self;
    /// `abs`.
    fn abs(self) -> Self;
    /// `is_nan`.
    fn is_nan(self) -> bool;
    /// The elements of a CPU storage of this type.
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
    /// The elements of a CPU storage of this type, mutably.
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]>;
}

macro_rules! float {
    ($t:ty, $dt:ident) => {
        impl Float for $t {
            const DT: DType = DType::$dt;
            #[inline(always)]
            fn of(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn slice(s: &CpuStorage) -> Option<&[Self]> {
                match s {
                    CpuStorage::$dt(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
                match s {
                    CpuStorage::$dt(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
float!(f32, F32);
float!(f64, F64);

/// `torch.lerp(start, end, w)` as ATen computes it: `start + w·(end − start)` for
/// `|w| < 0.5`, else `end − (end − start)·(1 − w)`.
#[inline(always)]
pub fn lerp<T: Float>(start: T, end: T, w: T) -> T {
    if w.abs() < T::of(0.5) {
        start + w * (end - start)
    } else {
        end - (end - start) * (T::of(1.0) - w)
    }
}

/// `max(a, b)` as `torch.maximum` (NaN propagates).
#[inline(always)]
pub fn maximum<T: Float>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() { a } else { b };
    }
    if a > b {
        a
    } else {
        b
    }
}

/// A state buffer, created lazily at its first use (PyTorch creates state on a
/// parameter's first step): empty until then.
pub fn ensure<T: Float>(buf: &mut Vec<T>, n: usize, init: f64) {
    if buf.len() != n || buf.is_empty() {
        *buf = vec![T::of(init); n];
    }
}
