//! Transposes of `f32` matrices between strided slices, 8 × 8 blocks at a time (in
//! AVX registers where the CPU has them): the channels-last relayouts of
//! [`super::winograd`], whose element-by-element loops were a fifth of its time.

use std::mem::MaybeUninit;

/// `dst[c·ds + r] = src[r·ss + c]` for `r < rows`, `c < cols`. Panics when a matrix
/// does not lie inside its slice.
pub(super) fn transpose(
    src: &[f32],
    ss: usize,
    dst: &mut [f32],
    ds: usize,
    rows: usize,
    cols: usize,
) {
    check(src.len(), ss, rows, cols);
    check(dst.len(), ds, cols, rows);
    // SAFETY: both matrices checked to lie inside their slices; `dst` is initialized.
    unsafe { transpose_raw(src, ss, dst.as_mut_ptr(), ds, rows, cols) }
}

/// [`transpose`] into memory not initialized yet, which it initializes.
pub(super) fn transpose_uninit(
    src: &[f32],
    ss: usize,
    dst: &mut [MaybeUninit<f32>],
    ds: usize,
    rows: usize,
    cols: usize,
) {
    check(src.len(), ss, rows, cols);
    check(dst.len(), ds, cols, rows);
    // SAFETY: both matrices checked to lie inside their slices; writing an `f32` into
    // a `MaybeUninit<f32>` initializes it.
    unsafe { transpose_raw(src, ss, dst.as_mut_ptr().cast(), ds, rows, cols) }
}

/// Panics unless an `r × c` matrix at row stride `s` lies inside `len` elements.
fn check(len: usize, s: usize, r: usize, c: usize) {
    if r > 0 && c > 0 {
        let last = (r - 1).checked_mul(s).and_then(|a| a.checked_add(c));
        assert!(
            last.is_some_and(|l| l <= len),
            "transpose: {r} x {c} at stride {s} exceeds {len}"
        );
    }
}

/// # Safety
/// `src` holds the `rows × cols` matrix at row stride `ss`; `dst` is valid for the
/// writes of the `cols × rows` one at row stride `ds`.
unsafe fn transpose_raw(
    src: &[f32],
    ss: usize,
    dst: *mut f32,
    ds: usize,
    rows: usize,
    cols: usize,
) {
    #[cfg(target_arch = "x86_64")]
    let avx = std::arch::is_x86_feature_detected!("avx");
    #[cfg(not(target_arch = "x86_64"))]
    let avx = false;
    for r0 in (0..rows).step_by(8) {
        for c0 in (0..cols).step_by(8) {
            let (nr, nc) = ((rows - r0).min(8), (cols - c0).min(8));
            if avx && nr == 8 && nc == 8 {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the CPU runs AVX; the 8 × 8 block lies inside both matrices.
                unsafe {
                    transpose8(
                        src.as_ptr().add(r0 * ss + c0),
                        ss,
                        dst.add(c0 * ds + r0),
                        ds,
                    )
                };
                continue;
            }
            for r in r0..r0 + nr {
                for c in c0..c0 + nc {
                    // SAFETY: (c, r) lies inside the `cols × rows` destination.
                    unsafe { dst.add(c * ds + r).write(src[r * ss + c]) };
                }
            }
        }
    }
}

/// One 8 × 8 block: rows at `src + r·ss` to columns at `dst + c·ds`.
///
/// # Safety
/// The CPU runs AVX; `src` is valid for reading 8 rows of 8 at stride `ss`, `dst` for
/// writing 8 rows of 8 at stride `ds`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose8(src: *const f32, ss: usize, dst: *mut f32, ds: usize) {
    use std::arch::x86_64::*;
    // SAFETY: the reads and writes are the ones the caller vouches for.
    unsafe {
        let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * ss)));
        // pairs of rows interleaved: [a0 b0 a1 b1 | a4 b4 a5 b5], [a2 b2 a3 b3 | a6 b6 a7 b7]
        let lo = |a: usize| _mm256_unpacklo_ps(r[a], r[a + 1]);
        let hi = |a: usize| _mm256_unpackhi_ps(r[a], r[a + 1]);
        let t = [lo(0), hi(0), lo(2), hi(2), lo(4), hi(4), lo(6), hi(6)];
        // quads: [a0 b0 c0 d0 | a4 b4 c4 d4] …
        let u = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
        ];
        for c in 0..4 {
            _mm256_storeu_ps(
                dst.add(c * ds),
                _mm256_permute2f128_ps::<0x20>(u[c], u[c + 4]),
            );
            _mm256_storeu_ps(
                dst.add((c + 4) * ds),
                _mm256_permute2f128_ps::<0x31>(u[c], u[c + 4]),
            );
        }
    }
}
