//! The register tile of [`super::lanes`]: 32 output channels × 7 consecutive positions
//! of one output row, accumulated over a block of input channels, on AVX-512 (two
//! 16-lane vectors of channels, 14 accumulators) or AVX2 with FMA (two halves of 16
//! channels, each two 8-lane vectors × 7 positions, 14 accumulators of the 16
//! registers). Every partial sum is the same chain of fused multiply-adds on both.

use super::isa::Isa;
use super::lanes::{BW, UR};

/// One tile: 32 output channels × 7 positions, over `channels` input channels.
pub(super) struct Tile {
    /// The padded input at the tile's first channel, row and column.
    pub x: *const f32,
    /// The weights of the first channel: `[channels][kh·kw][32]`.
    pub w: *const f32,
    /// The partial sums of the tile's first position: `[7][32]`.
    pub out: *mut f32,
    pub channels: usize,
    pub plane: usize,
    pub wp: usize,
    /// The stride along the row.
    pub sw: usize,
    pub kh: usize,
    pub kw: usize,
}

impl Tile {
    /// `out[x][o] (+)= Σ_{c, ky, kx} w[c][ky·kW + kx][o] · x[c·plane + ky·wp + x·sW
    /// + kx]`, starting from zero when `first`.
    ///
    /// # Safety
    /// The CPU runs `isa`; the pointers are valid for the tile's reads and writes (as
    /// `lanes::sweep` sets them up).
    pub(super) unsafe fn run(&self, first: bool, isa: Isa) {
        // SAFETY: as this function's.
        unsafe {
            match isa {
                Isa::Avx512 => avx512::run(self, first),
                Isa::Avx2 => avx2::run(self, first),
            }
        }
    }
}

mod avx512 {
    use super::{Tile, BW, UR};
    use std::arch::x86_64::*;

    /// [`Tile::run`] on AVX-512F.
    ///
    /// # Safety
    /// As [`Tile::run`], with AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run(t: &Tile, first: bool) {
        // SAFETY: as this function's, with the tile's own kernel size.
        unsafe {
            match (t.kh, t.kw, t.sw) {
                (3, 3, 1) => run_k::<3, 3, 1>(t, first),
                (3, 3, 2) => run_k::<3, 3, 2>(t, first),
                _ => run_k::<0, 0, 0>(t, first),
            }
        }
    }

    /// [`run`] for a `KH × KW` kernel at row stride `SW` known at compile time (`0, 0,
    /// 0`: the tile's own, read at run time; the unrolled 3×3 loops are 15–30 % faster).
    ///
    /// # Safety
    /// As [`run`].
    // Indexed loops on purpose: with iterators (`iter_mut().zip`) over the accumulators
    // the compiler kept them in memory and the tile ran at half speed.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f")]
    unsafe fn run_k<const KH: usize, const KW: usize, const SW: usize>(t: &Tile, first: bool) {
        let (kh, kw, sw) = if KH == 0 {
            (t.kh, t.kw, t.sw)
        } else {
            (KH, KW, SW)
        };
        let mut acc = [[_mm512_setzero_ps(); UR]; 2];
        if !first {
            for x in 0..UR {
                for j in 0..2 {
                    // SAFETY: inside the tile's 7 × 32 partial sums.
                    acc[j][x] = unsafe { _mm512_loadu_ps(t.out.add(x * BW + 16 * j)) };
                }
            }
        }
        let taps = kh * kw;
        for c in 0..t.channels {
            for ky in 0..kh {
                // SAFETY: channel c, row ky of the tile's window (see `lanes::sweep`).
                let row = unsafe { t.x.add(c * t.plane + ky * t.wp) };
                for kx in 0..kw {
                    // SAFETY: tap (c, ky, kx)'s 32 weights.
                    let w = unsafe { t.w.add((c * taps + ky * kw + kx) * BW) };
                    // SAFETY: the 32 weights of tap (c, ky, kx).
                    let wv = unsafe { [_mm512_loadu_ps(w), _mm512_loadu_ps(w.add(16))] };
                    for x in 0..UR {
                        // SAFETY: column x·sW + kx of the window (see `lanes::sweep`).
                        let b = _mm512_set1_ps(unsafe { *row.add(x * sw + kx) });
                        for j in 0..2 {
                            acc[j][x] = _mm512_fmadd_ps(wv[j], b, acc[j][x]);
                        }
                    }
                }
            }
        }
        for x in 0..UR {
            for (j, a) in acc.iter().enumerate() {
                // SAFETY: inside the tile's 7 × 32 partial sums.
                unsafe { _mm512_storeu_ps(t.out.add(x * BW + 16 * j), a[x]) };
            }
        }
    }
}

mod avx2 {
    use super::{Tile, BW, UR};
    use std::arch::asm;
    use std::arch::x86_64::*;

    /// [`Tile::run`] on AVX2 with FMA: the channels `0..16`, then `16..32`.
    ///
    /// # Safety
    /// As [`Tile::run`], with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run(t: &Tile, first: bool) {
        for half in [0, 16] {
            // SAFETY: as this function's.
            unsafe {
                match t.sw {
                    1 => half7::<1>(t, first, half),
                    2 => half7::<2>(t, first, half),
                    _ => {
                        pass::<4>(t, first, half, 0);
                        pass::<3>(t, first, half, 4);
                    }
                }
            }
        }
    }

    /// The 16 channels from `half` of the tile at its 7 positions, at row stride `SW`,
    /// as [`super::avx512`]'s `run_k` computes them (the same fused multiply-adds in
    /// the same order), with the 14 accumulators in `ymm0..ymm13`, the first 8 weights
    /// in `ymm14` and the broadcast input in `ymm15`; the other 8 weights are the FMA's
    /// memory operand. (With intrinsics 17 registers would be live, and the compiler
    /// shuffles and spills them: half the speed.)
    ///
    /// # Safety
    /// As [`run`], `half` 0 or 16.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn half7<const SW: usize>(t: &Tile, first: bool, half: usize) {
        // SAFETY: `half + 16 ≤ 32`: inside each row of 32 partial sums or weights.
        let (out, w0) = unsafe { (t.out.add(half), t.w.add(half)) };
        let mut a = [_mm256_setzero_ps(); 2 * UR];
        if !first {
            for (k, a) in a.iter_mut().enumerate() {
                // SAFETY: inside the tile's 7 × 32 partial sums.
                *a = unsafe { _mm256_loadu_ps(out.add(k / 2 * BW + k % 2 * 8)) };
            }
        }
        let taps = t.kh * t.kw;
        for c in 0..t.channels {
            for ky in 0..t.kh {
                for kx in 0..t.kw {
                    // SAFETY: column kx of row ky of channel c of the tile's window, and
                    // 16 of tap (c, ky, kx)'s 32 weights (see `lanes::sweep`).
                    let (r, w) = unsafe {
                        (
                            t.x.add(c * t.plane + ky * t.wp + kx),
                            w0.add((c * taps + ky * t.kw + kx) * BW),
                        )
                    };
                    // SAFETY: reads the 16 weights at `w` and the window's columns `kx +
                    // p·SW` (p < 7) from `r`; AVX2 and FMA are present.
                    unsafe {
                        asm!(
                            "vmovups ymm14, ymmword ptr [{w}]",
                            "vbroadcastss ymm15, dword ptr [{r}]",
                            "vfmadd231ps ymm0, ymm14, ymm15",
                            "vfmadd231ps ymm1, ymm15, ymmword ptr [{w} + 32]",
                            "vbroadcastss ymm15, dword ptr [{r} + {o1}]",
                            "vfmadd231ps ymm2, ymm14, ymm15",
                            "vfmadd231ps ymm3, ymm15, ymmword ptr [{w} + 32]",
                            "vbroadcastss ymm15, dword ptr [{r} + {o2}]",
                            "vfmadd231ps ymm4, ymm14, ymm15",
                            "vfmadd231ps ymm5, ymm15, ymmword ptr [{w} + 32]",
                            "vbroadcastss ymm15, dword ptr [{r} + {o3}]",
                            "vfmadd231ps ymm6, ymm14, ymm15",
                            "vfmadd231ps ymm7, ymm15, ymmword ptr [{w} + 32]",
                            "vbroadcastss ymm15, dword ptr [{r} + {o4}]",
                            "vfmadd231ps ymm8, ymm14, ymm15",
                            "vfmadd231ps ymm9, ymm15, ymmword ptr [{w} + 32]",
                            "vbroadcastss ymm15, dword ptr [{r} + {o5}]",
                            "vfmadd231ps ymm10, ymm14, ymm15",
                            "vfmadd231ps ymm11, ymm15, ymmword ptr [{w} + 32]",
                            "vbroadcastss ymm15, dword ptr [{r} + {o6}]",
                            "vfmadd231ps ymm12, ymm14, ymm15",
                            "vfmadd231ps ymm13, ymm15, ymmword ptr [{w} + 32]",
                            w = in(reg) w,
                            r = in(reg) r,
                            o1 = const SW * 4,
                            o2 = const 2 * SW * 4,
                            o3 = const 3 * SW * 4,
                            o4 = const 4 * SW * 4,
                            o5 = const 5 * SW * 4,
                            o6 = const 6 * SW * 4,
                            inout("ymm0") a[0],
                            inout("ymm1") a[1],
                            inout("ymm2") a[2],
                            inout("ymm3") a[3],
                            inout("ymm4") a[4],
                            inout("ymm5") a[5],
                            inout("ymm6") a[6],
                            inout("ymm7") a[7],
                            inout("ymm8") a[8],
                            inout("ymm9") a[9],
                            inout("ymm10") a[10],
                            inout("ymm11") a[11],
                            inout("ymm12") a[12],
                            inout("ymm13") a[13],
                            out("ymm14") _,
                            out("ymm15") _,
                            options(nostack, readonly, preserves_flags),
                        )
                    };
                }
            }
        }
        for (k, a) in a.iter().enumerate() {
            // SAFETY: inside the tile's 7 × 32 partial sums.
            unsafe { _mm256_storeu_ps(out.add(k / 2 * BW + k % 2 * 8), *a) };
        }
    }

    /// The 16 channels from `half` of the tile at its positions `x0..x0 + P`, as
    /// [`super::avx512`]'s `run_k` computes them (the same sums in the same order).
    ///
    /// # Safety
    /// As [`run`], `half` 0 or 16, `x0 + P ≤ 7`.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pass<const P: usize>(t: &Tile, first: bool, half: usize, x0: usize) {
        let (kh, kw, sw) = (t.kh, t.kw, t.sw);
        // SAFETY: `half + 16 ≤ 32` and `x0 + P ≤ 7`: inside the tile's partial sums,
        // its weights' rows of 32 and its window's columns.
        let (out, w0, x) = unsafe { (t.out.add(x0 * BW + half), t.w.add(half), t.x.add(x0 * sw)) };
        let mut acc = [[_mm256_setzero_ps(); P]; 2];
        if !first {
            for p in 0..P {
                for j in 0..2 {
                    // SAFETY: inside the tile's 7 × 32 partial sums.
                    acc[j][p] = unsafe { _mm256_loadu_ps(out.add(p * BW + 8 * j)) };
                }
            }
        }
        let taps = kh * kw;
        for c in 0..t.channels {
            for ky in 0..kh {
                // SAFETY: channel c, row ky of the tile's window (see `lanes::sweep`).
                let row = unsafe { x.add(c * t.plane + ky * t.wp) };
                for kx in 0..kw {
                    // SAFETY: 16 of tap (c, ky, kx)'s 32 weights.
                    let w = unsafe { w0.add((c * taps + ky * kw + kx) * BW) };
                    // SAFETY: as above.
                    let wv = unsafe { [_mm256_loadu_ps(w), _mm256_loadu_ps(w.add(8))] };
                    for p in 0..P {
                        // SAFETY: column (x0 + p)·sW + kx of the window.
                        let b = _mm256_set1_ps(unsafe { *row.add(p * sw + kx) });
                        for j in 0..2 {
                            acc[j][p] = _mm256_fmadd_ps(wv[j], b, acc[j][p]);
                        }
                    }
                }
            }
        }
        for p in 0..P {
            for (j, a) in acc.iter().enumerate() {
                // SAFETY: inside the tile's 7 × 32 partial sums.
                unsafe { _mm256_storeu_ps(out.add(p * BW + 8 * j), a[p]) };
            }
        }
    }
}
