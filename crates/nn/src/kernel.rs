//! Pieces shared by wick's CPU kernels: the float types they run on, a strided GEMM
//! on the `gemm` crate, and access to a storage as a typed slice.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The float types the CPU kernels run on.
pub(crate) trait Float:
    Copy
    + Default
    + Send
    + Sync
    + PartialOrd
    + 'static
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::AddAssign
{
    const ONE: Self;
    /// The value in `f64` (exact).
    fn f(self) -> f64;
    /// `v` rounded to `Self`.
    fn of(v: f64) -> Self;
    /// `s` as `f32`s, when `Self` is `f32` (for kernels written for f32 only).
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        let _ = s;
        None
    }
    /// `s` as mutable `f32`s, when `Self` is `f32`.
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        let _ = s;
        None
    }
    /// `if take { a } else { b }` without a branch (bit masks, which vectorize), for
    /// kernels whose comparisons are unpredictable (max pooling).
    fn pick(take: bool, a: Self, b: Self) -> Self;
    /// `v` as `Self`s, when `Self` is `f32`.
    fn from_f32(v: Vec<f32>) -> Option<Vec<Self>> {
        let _ = v;
        None
    }
    /// `max(x, 0)`, with `relu(NaN) = NaN` as in PyTorch and `relu(-0) = +0`.
    #[allow(clippy::eq_op)] // `self != self`: NaN
    fn relu(self) -> Self {
        if self > Self::default() || self != self {
            self
        } else {
            Self::default()
        }
    }
}
impl Float for f32 {
    const ONE: Self = 1.0;
    fn f(self) -> f64 {
        f64::from(self)
    }
    fn of(v: f64) -> Self {
        v as f32
    }
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        Some(s)
    }
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        Some(s)
    }
    fn pick(take: bool, a: Self, b: Self) -> Self {
        // on the bits: a float select compiles to a branch around a move
        f32::from_bits(std::hint::select_unpredictable(
            take,
            a.to_bits(),
            b.to_bits(),
        ))
    }
    fn from_f32(v: Vec<f32>) -> Option<Vec<Self>> {
        Some(v)
    }
}
impl Float for f64 {
    const ONE: Self = 1.0;
    fn f(self) -> f64 {
        self
    }
    fn of(v: f64) -> Self {
        v
    }
    fn pick(take: bool, a: Self, b: Self) -> Self {
        f64::from_bits(std::hint::select_unpredictable(
            take,
            a.to_bits(),
            b.to_bits(),
        ))
    }
}

/// Runs `f` compiled for AVX2 where the CPU has it (detected once), else as it is: the
/// elementwise and reduction kernels are written as plain loops over slices, which the
/// compiler vectorizes for the baseline x86-64 (SSE2, 4 lanes) unless it may use more.
/// Only the vector width changes (no FMA contraction, the same operations in the same
/// order), so both paths give the same bits.
///
/// `f` and what it calls are inlined into the AVX2 instance (a function may be inlined
/// into one with more target features), so a kernel's loop is to be called inside `f`,
/// not through a function pointer or a rayon task started inside it.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { avx2(f) };
    }
    f()
}

/// `f()` with AVX2 enabled.
///
/// # Safety
/// The CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// A matrix operand: a slice and the row and column strides at which the matrix lies
/// in it. The GEMM checks that every element of the `rows × cols` matrix it reads is
/// inside the slice before the unsafe call ([`Mat::check`]): a wrong size given by safe
/// code panics instead of reading out of bounds.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a, T> {
    data: &'a [T],
    rs: usize,
    cs: usize,
}

impl<'a, T> Mat<'a, T> {
    /// A row-major matrix with `cols` columns.
    pub(crate) fn rows(s: &'a [T], cols: usize) -> Self {
        Self {
            data: s,
            rs: cols,
            cs: 1,
        }
    }
    /// The transpose of a row-major `? × cols` matrix.
    pub(crate) fn rows_t(s: &'a [T], cols: usize) -> Self {
        Self {
            data: s,
            rs: 1,
            cs: cols,
        }
    }

    /// A matrix at row stride `rs` and column stride `cs` (rows may overlap: a
    /// sliding window over the slice).
    pub(crate) fn strided(s: &'a [T], rs: usize, cs: usize) -> Self {
        Self { data: s, rs, cs }
    }

    /// Panics unless an `r × c` matrix at these strides lies inside the slice, its
    /// strides as `isize` (what the GEMM takes); `what` names the operand.
    fn check(&self, r: usize, c: usize, what: &str) {
        if r == 0 || c == 0 {
            return;
        }
        let last = (r - 1)
            .checked_mul(self.rs)
            .zip((c - 1).checked_mul(self.cs))
            .and_then(|(a, b)| a.checked_add(b));
        let fits = last.is_some_and(|l| l < self.data.len());
        let strides_fit = isize::try_from(self.rs).is_ok() && isize::try_from(self.cs).is_ok();
        assert!(
            fits && strides_fit,
            "gemm: operand {what} ({r} x {c}, strides {}, {}) exceeds its {} elements",
            self.rs,
            self.cs,
            self.data.len()
        );
    }
}

/// `dst (m × n, row-major) (+)= a (m × k) · b (k × n)`; on rayon's threads when `par`
/// (the `gemm` crate splits the work only when it is large enough). Panics when `dst`
/// holds fewer than `m·n` elements or `a`, `b` do not hold their matrices.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    accumulate: bool,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    par: bool,
) {
    assert!(
        m.checked_mul(n).is_some_and(|mn| dst.len() >= mn),
        "gemm: dst too small"
    );
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::default());
        }
        return;
    }
    // SAFETY: `dst` holds m·n initialized elements (checked above); `gemm_raw` checks
    // `a` and `b`.
    unsafe { gemm_raw(m, n, k, dst.as_mut_ptr(), accumulate, a, b, par) }
}

/// `a (m × k) · b (k × n)` into a new row-major buffer, which the GEMM writes without
/// it being zeroed first (a memset of every gradient buffer otherwise).
pub(crate) fn gemm_new<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    par: bool,
) -> Vec<T> {
    let mn = m.checked_mul(n).expect("gemm: m·n overflows");
    let mut dst = Vec::with_capacity(mn);
    gemm_uninit(m, n, k, &mut dst.spare_capacity_mut()[..mn], a, b, par);
    // SAFETY: `gemm_uninit` initialized the first m·n elements.
    unsafe { dst.set_len(mn) };
    dst
}

/// `dst (m × n) = a · b` into memory not initialized yet, which it initializes; returns
/// it as initialized.
pub(crate) fn gemm_uninit<'d, T: Float>(
    m: usize,
    n: usize,
    k: usize,
    dst: &'d mut [MaybeUninit<T>],
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    par: bool,
) -> &'d mut [T] {
    let mn = m.checked_mul(n).expect("gemm: m·n overflows");
    let dst = &mut dst[..mn];
    if k == 0 {
        dst.iter_mut().for_each(|v| {
            v.write(T::default());
        });
    } else {
        // SAFETY: `dst` holds m·n elements (the slice above panics otherwise); with
        // `accumulate` false the GEMM writes each of them without reading it; `gemm_raw`
        // checks `a` and `b`.
        unsafe { gemm_raw(m, n, k, dst.as_mut_ptr().cast(), false, a, b, par) }
    }
    // SAFETY: every element was written above.
    unsafe { assume_init(dst) }
}

/// A vector of `len` values written by `fill`, which gets them uninitialized: no zeros
/// written first (a memset of every scratch buffer, and on fresh memory its page faults,
/// was 5–10 % of a convolution's time).
///
/// # Safety
/// `fill` writes every element of the slice it is given (or panics).
pub(crate) unsafe fn written<T>(len: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: the capacity is `len`, and the caller vouches that `fill` wrote them all.
    unsafe { v.set_len(len) };
    v
}

/// A slice of `MaybeUninit<T>` as the `T`s it holds.
///
/// # Safety
/// Every element of `s` is initialized.
pub(crate) unsafe fn assume_init<T>(s: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout; the caller vouches for the contents.
    unsafe { &mut *(std::ptr::from_mut(s) as *mut [T]) }
}

/// `dst = a · b (+ dst)` by the `gemm` crate, after checking that `a` (`m × k`) and
/// `b` (`k × n`) lie inside their slices (panics otherwise).
///
/// # Safety
/// `dst` is valid for m·n writes (and reads, when `accumulate`) of initialized `T`s
/// (or, without `accumulate`, of `MaybeUninit<T>`s, which it initializes).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    accumulate: bool,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    par: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    a.check(m, k, "a");
    b.check(k, n, "b");
    let threads = rayon::current_num_threads();
    // (a matrix-vector product, m or n small, sums in an order that depends on the
    // other size: it stays whole, so the bits do not depend on the thread count)
    if par && threads > 1 && m.min(n) >= 16 && m * n * k >= PAR_GEMM_MIN_MACS {
        // SAFETY: as the caller guarantees for `dst`; `a` and `b` checked
        unsafe { gemm_split(m, n, k, dst, accumulate, a, b, threads) };
    } else {
        let none = gemm::Parallelism::None;
        // SAFETY: as the caller guarantees; `a` and `b` checked
        unsafe { gemm_call(m, n, k, dst, n, accumulate, a, b, none) }
    }
}

/// Below this many multiply-adds a GEMM runs on the calling thread alone.
const PAR_GEMM_MIN_MACS: usize = 1 << 16;

/// The `gemm` crate's call, `dst` at row stride `ld`.
///
/// # Safety
/// `dst` is valid for the m × n writes at row stride `ld` (and reads, when
/// `accumulate`); `a` and `b` lie inside their slices (checked by the caller).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_call<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    ld: usize,
    accumulate: bool,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    parallelism: gemm::Parallelism,
) {
    // SAFETY: `dst` as the caller guarantees; `a` and `b` reach only elements of their
    // slices (checked by the caller), whose strides fit `isize`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            ld as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// `gemm_raw` split into `threads` parts of the output, each a single-threaded GEMM
/// (packing included) on its own thread: column blocks where `n ≥ m`, row blocks else.
/// The `gemm` crate's own threading packs the shared operand on one thread while the
/// others wait: a fifth of an MLP step (W1: 64 × 784 × 520 and smaller) ran on one
/// core. Split this way, each thread packs what it multiplies (the other operand is
/// packed by both): W1 2.72 → 2.30 ms a step, W2 −6 to −10 %, W4 −5 %, W6 −1 to −2 %.
/// Each output element is computed by one call over the whole depth `k`, in the same
/// order, so the values do not depend on the split.
///
/// # Safety
/// As [`gemm_raw`]; `a` and `b` checked.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_split<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    accumulate: bool,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    threads: usize,
) {
    let by_cols = n >= m;
    let len = if by_cols { n } else { m };
    let align = if by_cols { 8 } else { 16 };
    let chunk = len.div_ceil(threads).div_ceil(align) * align;
    let dst = dst as usize;
    (0..len.div_ceil(chunk)).into_par_iter().for_each(|p| {
        let (lo, hi) = (p * chunk, ((p + 1) * chunk).min(len));
        let dst = dst as *mut T;
        // SAFETY: part p writes rows (or columns) lo..hi of `dst` only; its operands are
        // sub-matrices of checked ones
        unsafe {
            let none = gemm::Parallelism::None;
            if by_cols {
                let b = Mat::strided(&b.data[lo * b.cs..], b.rs, b.cs);
                gemm_call(m, hi - lo, k, dst.add(lo), n, accumulate, a, b, none)
            } else {
                let a = Mat::strided(&a.data[lo * a.rs..], a.rs, a.cs);
                gemm_call(hi - lo, n, k, dst.add(lo * n), n, accumulate, a, b, none)
            }
        }
    });
}

/// `Σ_rows g` of a row-major `? × n` matrix: the bias gradient of a linear layer.
fn col_sum<T: Float>(g: &[T], n: usize) -> Vec<T> {
    let mut rows = g.chunks_exact(n);
    let mut acc = rows
        .next()
        .map_or_else(|| vec![T::default(); n], <[T]>::to_vec);
    for row in rows {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
    acc
}

/// [`col_sum`] of a 2-D tensor as an op without backward (candle's `sum(0)` walks the
/// columns one strided element at a time).
pub(crate) struct ColSum;

impl candle_core::CustomOp1 for ColSum {
    fn name(&self) -> &'static str {
        "wick-col-sum"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let [_, n] = *l.dims() else {
            candle_core::bail!("column sum: expected a matrix, got {:?}", l.dims())
        };
        let out = with_floats!("column sum", [(s, l) => g], col_sum(g, n));
        Ok((out, Shape::from(n)))
    }
}

/// The contiguous part of a storage that a layout covers.
pub(crate) fn slice<'a, T>(v: &'a [T], l: &Layout, op: &str) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("{op}: operand must be contiguous"),
    }
}

/// Runs `$body` with each storage as a typed slice of the same float type (f32 or
/// f64) and wraps the resulting `Vec` back into a storage.
macro_rules! with_floats {
    ($op:expr, [$(($s:expr, $l:expr) => $v:ident),+], $body:expr) => {{
        #[allow(unused_parens)]
        match ($($s),+) {
            ($(candle_core::CpuStorage::F32($v)),+) => {
                $(let $v = $crate::kernel::slice($v, $l, $op)?;)+
                candle_core::CpuStorage::F32($body)
            }
            ($(candle_core::CpuStorage::F64($v)),+) => {
                $(let $v = $crate::kernel::slice($v, $l, $op)?;)+
                candle_core::CpuStorage::F64($body)
            }
            _ => candle_core::bail!("{}: only f32 and f64 of one dtype are supported", $op),
        }
    }};
}
pub(crate) use with_floats;

/// `Σ v` with eight running sums (so the adds pipeline and vectorize rather than
/// wait on one another), added pairwise at the end.
pub(crate) fn sum<T: Float>(v: &[T]) -> T {
    let mut acc = [T::default(); 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a += x;
    }
    let [a, b, c, d, e, f, g, h] = acc;
    ((a + b) + (c + d)) + ((e + f) + (g + h))
}

/// Elementwise kernels run on every thread of the pool from this many elements on
/// (below it, a task's work is not worth waking a thread for).
const PAR_MIN: usize = 1 << 15;
/// Elements per task of a parallel elementwise kernel.
const PAR_CHUNK: usize = 1 << 14;

/// `out[i] = f(a[i])`, written once (no zero-fill first), on every thread of the pool
/// for large inputs.
pub(crate) fn map<T: Float>(a: &[T], f: impl Fn(T) -> T + Sync) -> Vec<T> {
    let n = a.len();
    let mut out: Vec<T> = Vec::with_capacity(n);
    let body = |o: &mut [MaybeUninit<T>], a: &[T]| {
        for (o, &a) in o.iter_mut().zip(a) {
            o.write(f(a));
        }
    };
    let spare = &mut out.spare_capacity_mut()[..n];
    if n >= PAR_MIN {
        spare
            .par_chunks_mut(PAR_CHUNK)
            .zip(a.par_chunks(PAR_CHUNK))
            .for_each(|(o, a)| vectorized(|| body(o, a)));
    } else {
        vectorized(|| body(spare, a));
    }
    // SAFETY: the chunks of `spare` (its first `n` elements) were each zipped with the
    // chunk of `a` of the same length, and every element of each was written.
    unsafe { out.set_len(n) };
    out
}

/// `out[i] = f(a[i], b[i])`, as [`map`]; `a` and `b` have the same length.
pub(crate) fn zip_map<T: Float>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync) -> Vec<T> {
    assert_eq!(a.len(), b.len(), "zip_map: operands of different lengths");
    let n = a.len();
    let mut out: Vec<T> = Vec::with_capacity(n);
    let body = |o: &mut [MaybeUninit<T>], a: &[T], b: &[T]| {
        for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
            o.write(f(a, b));
        }
    };
    let spare = &mut out.spare_capacity_mut()[..n];
    if n >= PAR_MIN {
        spare
            .par_chunks_mut(PAR_CHUNK)
            .zip(a.par_chunks(PAR_CHUNK).zip(b.par_chunks(PAR_CHUNK)))
            .for_each(|(o, (a, b))| vectorized(|| body(o, a, b)));
    } else {
        vectorized(|| body(spare, a, b));
    }
    // SAFETY: as in `map`: `a`, `b` and `spare` have `n` elements, chunked alike, and
    // every element of every chunk of `spare` was written.
    unsafe { out.set_len(n) };
    out
}

/// A buffer of `len` values built from zeros in chunks of `chunk` on the pool's threads:
/// each chunk is zeroed by the task that then runs `f(state, i, chunk_i)` on it (a
/// scatter or fold that adds into zeros), with `init` making each task's state. Unlike
/// `vec![0; len]` and then the parallel loop, the zeros are written by every thread,
/// each into memory it is about to use, rather than by one thread first.
pub(crate) fn from_zeros_par<T: Float, S>(
    len: usize,
    chunk: usize,
    min_chunks: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .with_min_len(min_chunks.max(1))
        .enumerate()
        .for_each_init(init, |state, (i, c)| {
            c.fill(MaybeUninit::new(T::default()));
            // SAFETY: every element of `c` was written just above.
            f(state, i, unsafe { assume_init(c) });
        });
    // SAFETY: the chunks cover the first `len` elements and each was zeroed before `f`
    // ran on it (a panic in `f` propagates out of `for_each_init` before this line).
    unsafe { out.set_len(len) };
    out
}

/// `y = max(y, 0)` in place: the epilogue of a layer fused with its `ReLU`.
pub(crate) fn relu_inplace<T: Float>(y: &mut [T]) {
    y.iter_mut().for_each(|v| *v = v.relu());
}

/// `g · [y > 0]`: the output gradient through a fused ReLU (relu'(0) = 0 as in
/// PyTorch), from the fused op's output `y`.
fn relu_mask<T: Float>(g: &[T], y: &[T]) -> Vec<T> {
    zip_map(g, y, |g, y| if y > T::default() { g } else { T::default() })
}

/// [`relu_mask`] as an op without backward, applied to `(grad, output)`.
pub(crate) struct ReluMask;

impl CustomOp2 for ReluMask {
    fn name(&self) -> &'static str {
        "wick-relu-mask"
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            candle_core::bail!(
                "relu backward: grad {:?} vs output {:?}",
                l1.dims(),
                l2.dims()
            )
        }
        let out = with_floats!("relu backward", [(s1, l1) => g, (s2, l2) => y], relu_mask(g, y));
        Ok((out, l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_multiplies_strided_operands() {
        // a = [[1, 2, 3], [4, 5, 6]]; b = aᵀ read from the same slice
        let a = [1f32, 2., 3., 4., 5., 6.];
        let mut c = [0f32; 4];
        gemm(
            2,
            2,
            3,
            &mut c,
            false,
            Mat::rows(&a, 3),
            Mat::rows_t(&a, 3),
            false,
        );
        assert_eq!(c, [14., 32., 32., 77.]);
        let v = gemm_new(1, 2, 3, Mat::rows(&a[3..], 3), Mat::rows_t(&a, 3), true);
        assert_eq!(v, [32., 77.]);
        // k = 0: a zero matrix, whatever the operands
        assert_eq!(
            gemm_new::<f64>(2, 1, 0, Mat::rows(&[], 0), Mat::rows(&[], 1), false),
            [0.; 2]
        );
    }

    #[test]
    #[should_panic(expected = "operand a (2 x 3, strides 3, 1) exceeds its 5 elements")]
    fn a_short_operand_panics_before_the_gemm_reads_it() {
        let a = [1f32; 5];
        let b = [1f32; 6];
        gemm_new(2, 2, 3, Mat::rows(&a, 3), Mat::rows(&b, 2), false);
    }

    #[test]
    #[should_panic(expected = "operand b")]
    fn strides_that_reach_past_the_slice_panic() {
        let a = [1f64; 4];
        // the transpose of a 2 × 3 row-major matrix needs 6 elements
        gemm_new(2, 2, 2, Mat::rows(&a, 2), Mat::rows_t(&a, 3), false);
    }

    #[test]
    #[should_panic(expected = "dst too small")]
    fn a_short_destination_panics() {
        let a = [1f32; 4];
        let mut c = [0f32; 3];
        gemm(
            2,
            2,
            2,
            &mut c,
            false,
            Mat::rows(&a, 2),
            Mat::rows(&a, 2),
            false,
        );
    }

    #[test]
    fn vectorized_gives_the_same_bits() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin()).collect();
        let f = || x.iter().map(|v| v * 1.5 - 0.25).collect::<Vec<f32>>();
        let (plain, simd) = (f(), vectorized(f));
        assert_eq!(plain, simd);
        assert_eq!(sum(&x).to_bits(), vectorized(|| sum(&x)).to_bits());
    }

    /// The GEMM split over threads gives the single-threaded GEMM's bits, for both
    /// split directions, transposed operands and accumulation.
    #[test]
    fn split_gemm_equals_the_serial_one_bit_for_bit() {
        let val = |i: usize| ((i * 7919 % 1013) as f32 - 506.0) / 97.0;
        let shapes = [
            (64, 520, 784),
            (300, 40, 96),
            (16, 1000, 33),
            (130, 130, 9),
            (1000, 16, 70),
            (17, 333, 1200),
        ];
        for (m, n, k) in shapes {
            let a: Vec<f32> = (0..m * k).map(val).collect();
            let b: Vec<f32> = (0..k * n).map(|i| val(i + 5)).collect();
            for (a_t, b_t) in [(false, false), (true, false), (false, true)] {
                let am = if a_t {
                    Mat::rows_t(&a, m)
                } else {
                    Mat::rows(&a, k)
                };
                let bm = if b_t {
                    Mat::rows_t(&b, k)
                } else {
                    Mat::rows(&b, n)
                };
                let init: Vec<f32> = (0..m * n).map(|i| val(i + 11)).collect();
                let mut serial = init.clone();
                gemm(m, n, k, &mut serial, true, am, bm, false);
                for threads in [2, 3, 4] {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let mut split = init.clone();
                    pool.install(|| gemm(m, n, k, &mut split, true, am, bm, true));
                    let same = serial
                        .iter()
                        .zip(&split)
                        .all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(
                        same,
                        "{m}×{n}×{k}, transposed {a_t}/{b_t}, {threads} threads"
                    );
                }
            }
        }
    }
}
