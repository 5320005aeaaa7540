//! The f32 2×2 max-pool passes four lanes at a time with SSE2 (part of every x86-64
//! CPU, so no detection): the same comparisons and selects as the scalar code, so the
//! same bits. Each returns how many elements it did (all of them, or none when fewer
//! than four); the scalar code of `cpu` does the rest.

use std::arch::x86_64::*;

pub(super) fn max_pairs(x: &[f32], v: &mut [f32], i: &mut [u32], base: u32) -> usize {
    let n = v.len().min(i.len()).min(x.len() / 2);
    if n < 4 {
        return 0;
    }
    // SAFETY: SSE2 is part of x86-64; every load reads x[2p..2p + 8] and every store
    // writes v[p..p + 4] and i[p..p + 4] with p + 4 <= n, all inside the slices.
    let four = |p: usize| unsafe {
        let a = _mm_loadu_ps(x.as_ptr().add(2 * p));
        let b = _mm_loadu_ps(x.as_ptr().add(2 * p + 4));
        let first = _mm_shuffle_ps::<0b10_00_10_00>(a, b);
        let second = _mm_shuffle_ps::<0b11_01_11_01>(a, b);
        let take = _mm_or_ps(_mm_cmpgt_ps(second, first), _mm_cmpunord_ps(second, second));
        let val = _mm_or_ps(_mm_and_ps(take, second), _mm_andnot_ps(take, first));
        let idx = _mm_add_epi32(
            _mm_set1_epi32((base + 2 * p as u32) as i32),
            _mm_setr_epi32(0, 2, 4, 6),
        );
        // the mask is −1 where the second is taken
        let at = _mm_sub_epi32(idx, _mm_castps_si128(take));
        (val, at)
    };
    // SAFETY: every store writes v[p..p + 4] and i[p..p + 4] with p + 4 <= n, inside
    // both slices.
    let mut store = |p: usize, (val, at): (__m128, __m128i)| unsafe {
        _mm_storeu_ps(v.as_mut_ptr().add(p), val);
        _mm_storeu_si128(i.as_mut_ptr().add(p).cast(), at);
    };
    let mut p = 0;
    while p + 4 <= n {
        store(p, four(p));
        p += 4;
    }
    if p < n {
        // the last four again, overlapping: the same values written twice
        store(n - 4, four(n - 4));
    }
    n
}

pub(super) fn max_rows(
    (v0, v1): (&[f32], &[f32]),
    (i0, i1): (&[u32], &[u32]),
    out: &mut [f32],
    arg: &mut [u32],
) -> usize {
    let n = [v0.len(), v1.len(), i0.len(), i1.len(), out.len(), arg.len()]
        .into_iter()
        .min()
        .unwrap_or(0);
    if n < 4 {
        return 0;
    }
    // SAFETY: SSE2 is part of x86-64; every access is to elements k..k + 4 with
    // k + 4 <= n, inside all six slices.
    let mut four = |k: usize| unsafe {
        let a0 = _mm_loadu_ps(v0.as_ptr().add(k));
        let a1 = _mm_loadu_ps(v1.as_ptr().add(k));
        let take = _mm_or_ps(_mm_cmpgt_ps(a1, a0), _mm_cmpunord_ps(a1, a1));
        let val = _mm_or_ps(_mm_and_ps(take, a1), _mm_andnot_ps(take, a0));
        _mm_storeu_ps(out.as_mut_ptr().add(k), val);
        let m = _mm_castps_si128(take);
        let j0 = _mm_loadu_si128(i0.as_ptr().add(k).cast());
        let j1 = _mm_loadu_si128(i1.as_ptr().add(k).cast());
        let at = _mm_or_si128(_mm_and_si128(m, j1), _mm_andnot_si128(m, j0));
        _mm_storeu_si128(arg.as_mut_ptr().add(k).cast(), at);
    };
    let mut k = 0;
    while k + 4 <= n {
        four(k);
        k += 4;
    }
    if k < n {
        // the last four again, overlapping: the same values written twice
        four(n - 4);
    }
    n
}
