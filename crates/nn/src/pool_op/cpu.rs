//! The pooling's CPU kernels on f32 and f64, one plane per rayon task: max over 2×2
//! windows at stride 2 (branch-free selects; SSE2 from [`super::simd`] on f32), over
//! any windows of dilation 1 as a row pass and a column pass that vectorize (padding,
//! any kernel and stride: ResNet's `MaxPool2d(3, 2, 1)`), over runs of consecutive
//! indices, and over any windows; averages with PyTorch's divisor; and the backward
//! of each.

use super::geometry::{Kind, PoolOp};
use crate::kernel::{from_zeros_par, Float};
use rayon::prelude::*;

/// `v[p] = max(x[2p], x[2p + 1])` and `i[p] = base + 2p + (0 or 1)`, the second of a
/// pair taken when it is greater or NaN (ATen's first maximum, last NaN).
fn max_pairs<T: Float>(x: &[T], v: &mut [T], i: &mut [u32], base: u32) {
    #[cfg(target_arch = "x86_64")]
    let done = match (T::as_f32(x), T::as_f32_mut(v)) {
        (Some(x), Some(v)) => super::simd::max_pairs(x, v, i, base),
        _ => 0,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    max_pairs_scalar(x, v, i, base, done);
}

/// `out = max(v0, v1)` elementwise with its index from `i0`/`i1`, `v1` taken when it is
/// greater or NaN.
fn max_rows<T: Float>(v: (&[T], &[T]), i: (&[u32], &[u32]), out: &mut [T], arg: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    let done = match (T::as_f32(v.0), T::as_f32(v.1), T::as_f32_mut(out)) {
        (Some(v0), Some(v1), Some(o)) => super::simd::max_rows((v0, v1), i, o, arg),
        _ => 0,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    max_rows_scalar(v, i, out, arg, done);
}

/// [`max_pairs`] from pair `from` on.
fn max_pairs_scalar<T: Float>(x: &[T], v: &mut [T], i: &mut [u32], base: u32, from: usize) {
    let pairs = x.chunks_exact(2).zip(v.iter_mut()).zip(i.iter_mut());
    for (q, ((p, v), i)) in pairs.enumerate().skip(from) {
        #[allow(clippy::eq_op)]
        let take = (p[1] > p[0]) | (p[1] != p[1]);
        *v = T::pick(take, p[1], p[0]);
        *i = base + 2 * q as u32 + u32::from(take);
    }
}

/// [`max_rows`] from element `from` on.
fn max_rows_scalar<T: Float>(
    (v0, v1): (&[T], &[T]),
    (i0, i1): (&[u32], &[u32]),
    out: &mut [T],
    arg: &mut [u32],
    from: usize,
) {
    let rows = out
        .iter_mut()
        .zip(arg.iter_mut())
        .zip(v0.iter().zip(v1))
        .zip(i0.iter().zip(i1));
    for (((o, a), (&a0, &a1)), (&j0, &j1)) in rows.skip(from) {
        #[allow(clippy::eq_op)]
        let take = (a1 > a0) | (a1 != a1);
        *o = T::pick(take, a1, a0);
        *a = pick_u32(take, j1, j0);
    }
}

/// `if take { a } else { b }` on `u32`s, without a branch.
fn pick_u32(take: bool, a: u32, b: u32) -> u32 {
    b ^ ((a ^ b) & 0u32.wrapping_sub(u32::from(take)))
}

/// `if take { a } else { b }` on indices, without a branch.
fn pick_index(take: bool, a: usize, b: usize) -> usize {
    std::hint::select_unpredictable(take, a, b)
}

impl PoolOp {
    /// `v / divisor` for output `(oy, ox)` of an average pooling.
    fn scale<T: Float>(
        &self,
        v: T,
        (oy, ox): (usize, usize),
        count_include_pad: bool,
        over: Option<usize>,
    ) -> T {
        let d = match over {
            Some(d) => d,
            None if count_include_pad => self.rows.with_pad[oy] * self.cols.with_pad[ox],
            None => self.rows.idx[oy].len() * self.cols.idx[ox].len(),
        };
        if d == 0 {
            T::default()
        } else {
            v / T::of(d as f64)
        }
    }

    /// Index (within its plane) of the first maximum of window `(oy, ox)`.
    fn argmax<T: Float>(&self, plane: &[T], oy: usize, ox: usize) -> Option<usize> {
        let w = self.cols.input;
        let mut best: Option<(T, usize)> = None;
        for &y in &self.rows.idx[oy] {
            for &x in &self.cols.idx[ox] {
                let i = y * w + x;
                let v = plane[i];
                #[allow(clippy::eq_op)]
                let is_nan = v != v;
                if best.is_none_or(|(b, _)| v > b) || is_nan {
                    best = Some((v, i));
                }
            }
        }
        best.map(|(_, i)| i)
    }

    /// Max pooling over windows of consecutive indices: the maxima, and their indices
    /// saved for the backward pass. The first maximum wins; a NaN wins over numbers
    /// (the last NaN), as in ATen's kernel.
    pub(crate) fn max_spans<T: Float>(
        &self,
        x: &[T],
        hw: usize,
        rows: &[(usize, usize)],
        cols: &[(usize, usize)],
    ) -> Vec<T> {
        let (oh, ow) = (rows.len(), cols.len());
        let w = self.cols.input;
        let planes = x.len() / hw.max(1);
        let mut out = vec![T::default(); planes * oh * ow];
        let mut arg = vec![0u32; planes * oh * ow];
        out.par_chunks_mut(oh * ow)
            .zip(arg.par_chunks_mut(oh * ow))
            .zip(x.par_chunks(hw))
            .with_min_len(16)
            .for_each(|((o, a), plane)| {
                // One output row at a time, the window's elements in row-major order
                // in the outer loops and the outputs in the inner one: the outputs'
                // comparisons are independent, so they overlap instead of waiting on
                // one another. A column past a (border) window's end is clamped to its
                // last one; seeing an element twice in a row never changes the result.
                let kw = cols.iter().map(|&(a, b)| b - a).max().unwrap_or(0);
                for (oy, &(y0, y1)) in rows.iter().enumerate() {
                    let ob = &mut o[oy * ow..(oy + 1) * ow];
                    let ab = &mut a[oy * ow..(oy + 1) * ow];
                    for ((v, i), &(x0, _)) in ob.iter_mut().zip(ab.iter_mut()).zip(cols) {
                        *i = (y0 * w + x0) as u32;
                        *v = plane[y0 * w + x0];
                    }
                    for y in y0..y1 {
                        let row = y * w;
                        for dx in 0..kw {
                            for ((bv, bi), &(x0, x1)) in ob.iter_mut().zip(ab.iter_mut()).zip(cols)
                            {
                                let i = row + (x0 + dx).min(x1 - 1);
                                let v = plane[i];
                                #[allow(clippy::eq_op)]
                                let take = (v > *bv) | (v != v);
                                *bv = T::pick(take, v, *bv);
                                *bi = pick_u32(take, i as u32, *bi);
                            }
                        }
                    }
                }
            });
        let _ = self.argmax.set(arg);
        out
    }

    /// `MaxPool2d(2)`: 2×2 windows, stride 2, no padding — the CNNs' pooling. Each pair
    /// of input rows is reduced across (`[2x, 2x+1]` of each row), then the two rows'
    /// results against each other: both passes are straight loops of selects that
    /// vectorize. The order of comparisons keeps ATen's result: the first maximum in
    /// row-major order, the last NaN. Same values and indices as
    /// [`PoolOp::max_spans`].
    fn max_2x2<T: Float>(&self, x: &[T], hw: usize) -> Vec<T> {
        let (oh, ow) = (self.rows.out(), self.cols.out());
        let w = self.cols.input;
        let planes = x.len() / hw.max(1);
        let mut out = vec![T::default(); planes * oh * ow];
        let mut arg = vec![0u32; planes * oh * ow];
        out.par_chunks_mut(oh * ow)
            .zip(arg.par_chunks_mut(oh * ow))
            .zip(x.par_chunks(hw))
            .with_min_len(16)
            .for_each_init(
                // each input row's pair maxima and their indices in the plane
                || (vec![T::default(); 2 * oh * ow], vec![0u32; 2 * oh * ow]),
                |(v, i), ((o, a), plane)| {
                    if w == 2 * ow {
                        // the rows that count are one run of pairs
                        max_pairs(&plane[..2 * oh * w], v, i, 0);
                    } else {
                        for (r, (vr, ir)) in v
                            .chunks_exact_mut(ow)
                            .zip(i.chunks_exact_mut(ow))
                            .enumerate()
                        {
                            max_pairs(&plane[r * w..r * w + 2 * ow], vr, ir, (r * w) as u32);
                        }
                    }
                    let rows = v.chunks_exact(2 * ow).zip(i.chunks_exact(2 * ow));
                    for ((ob, ab), (vv, ii)) in
                        o.chunks_exact_mut(ow).zip(a.chunks_exact_mut(ow)).zip(rows)
                    {
                        max_rows(vv.split_at(ow), ii.split_at(ow), ob, ab);
                    }
                },
            );
        let _ = self.argmax.set(arg);
        out
    }

    /// Max pooling with dilation 1 as two passes: along each input row, every output
    /// column's window reduced to (value, column) ([`row_max`]); then down the columns,
    /// each output row's window rows combined in order ([`combine_rows`]). Both are
    /// loops of selects over contiguous outputs, which vectorize, and a `k × k` window
    /// costs `k·(1 + s)` comparisons per output instead of `k²`. Reducing rows first
    /// and combining them in row order keeps ATen's answer, the first maximum in
    /// row-major order and the last NaN (as in [`PoolOp::max_2x2`]); same values and
    /// indices as [`PoolOp::max_spans`].
    fn max_separable<T: Float>(
        &self,
        x: &[T],
        hw: usize,
        steps: [(usize, usize, usize); 2],
    ) -> Vec<T> {
        let (Some(rows), Some(cols)) = (&self.rows.spans, &self.cols.spans) else {
            unreachable!("a pooling with a step has spans")
        };
        let (oh, ow, h, w) = (rows.len(), cols.len(), self.rows.input, self.cols.input);
        let col_step = steps[1];
        let planes = x.len() / hw.max(1);
        let mut out = vec![T::default(); planes * oh * ow];
        let mut arg = vec![0u32; planes * oh * ow];
        out.par_chunks_mut(oh * ow)
            .zip(arg.par_chunks_mut(oh * ow))
            .zip(x.par_chunks(hw))
            .with_min_len(4)
            .for_each_init(
                || RowMax::new(h, w, ow, col_step.1),
                |buf, ((o, a), plane)| {
                    crate::kernel::vectorized(|| {
                        for (y, line) in plane.chunks_exact(w).enumerate() {
                            buf.row(y, line, cols, col_step);
                        }
                        combine_rows(buf, rows, w, o, a);
                    })
                },
            );
        let _ = self.argmax.set(arg);
        out
    }

    pub(crate) fn forward<T: Float>(&self, x: &[T], hw: usize) -> Vec<T> {
        if let (Kind::Max, Some((2, 2)), Some((2, 2))) =
            (self.kind, self.rows.uniform, self.cols.uniform)
        {
            if hw <= u32::MAX as usize {
                return self.max_2x2(x, hw);
            }
        }
        if let (Kind::Max, Some(rs), Some(cs)) = (self.kind, self.rows.step, self.cols.step) {
            if hw <= u32::MAX as usize && self.rows.spans.is_some() && self.cols.spans.is_some() {
                return self.max_separable(x, hw, [rs, cs]);
            }
        }
        if let (Kind::Max, Some(rows), Some(cols)) = (self.kind, &self.rows.spans, &self.cols.spans)
        {
            if hw <= u32::MAX as usize {
                return self.max_spans(x, hw, rows, cols);
            }
        }
        let (oh, ow) = (self.rows.out(), self.cols.out());
        let mut out = vec![T::default(); x.len() / hw.max(1) * oh * ow];
        let w = self.cols.input;
        out.par_chunks_mut(oh * ow)
            .zip(x.par_chunks(hw))
            .for_each(|(o, plane)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        o[oy * ow + ox] = match self.kind {
                            Kind::Max => self
                                .argmax(plane, oy, ox)
                                .map_or(T::default(), |i| plane[i]),
                            Kind::Avg {
                                count_include_pad,
                                divisor_override,
                            } => {
                                let mut s = T::default();
                                for &y in &self.rows.idx[oy] {
                                    for &xx in &self.cols.idx[ox] {
                                        s += plane[y * w + xx];
                                    }
                                }
                                self.scale(s, (oy, ox), count_include_pad, divisor_override)
                            }
                        };
                    }
                }
            });
        out
    }

    pub(crate) fn backward<T: Float>(
        &self,
        x: Option<&[T]>,
        g: &[T],
        planes: usize,
        hw: usize,
    ) -> Vec<T> {
        let (oh, ow) = (self.rows.out(), self.cols.out());
        let w = self.cols.input;
        if let (Kind::Max, Some(arg)) = (self.kind, self.argmax.get()) {
            return from_zeros_par(
                planes * hw,
                hw,
                16,
                || (),
                |(), p, gx| {
                    let (gy, a) = (&g[p * oh * ow..][..oh * ow], &arg[p * oh * ow..][..oh * ow]);
                    for (&i, &v) in a.iter().zip(gy) {
                        gx[i as usize] += v;
                    }
                },
            );
        }
        from_zeros_par(
            planes * hw,
            hw,
            1,
            || (),
            |(), p, gx| {
                let gy = &g[p * oh * ow..][..oh * ow];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let gv = gy[oy * ow + ox];
                        match (self.kind, x) {
                            (Kind::Max, Some(x)) => {
                                if let Some(i) = self.argmax(&x[p * hw..(p + 1) * hw], oy, ox) {
                                    gx[i] += gv;
                                }
                            }
                            (Kind::Max, None) => {}
                            (
                                Kind::Avg {
                                    count_include_pad,
                                    divisor_override,
                                },
                                _,
                            ) => {
                                let v =
                                    self.scale(gv, (oy, ox), count_include_pad, divisor_override);
                                for &y in &self.rows.idx[oy] {
                                    for &xx in &self.cols.idx[ox] {
                                        gx[y * w + xx] += v;
                                    }
                                }
                            }
                        }
                    }
                }
            },
        )
    }
}

/// The row pass of [`PoolOp::max_separable`]: each input row's window maxima and their
/// columns, `[h, ow]`, and the row deinterleaved into its stride's phases.
struct RowMax<T> {
    ow: usize,
    /// `phase[r][j]` = column `s·j + r` of the current row.
    phase: Vec<Vec<T>>,
    val: Vec<T>,
    col: Vec<u32>,
}

impl<T: Float> RowMax<T> {
    fn new(h: usize, w: usize, ow: usize, s: usize) -> Self {
        Self {
            ow,
            phase: (0..s)
                .map(|r| vec![T::default(); (w.saturating_sub(r)).div_ceil(s)])
                .collect(),
            val: vec![T::default(); h * ow],
            col: vec![0; h * ow],
        }
    }

    /// Row `y`'s maxima over the windows `cols` (`(k, s, p)`): the windows inside the
    /// row from the phases, one unit-stride pass per tap; those cut by the padding by
    /// a scalar loop over their columns.
    fn row(
        &mut self,
        y: usize,
        line: &[T],
        cols: &[(usize, usize)],
        (k, s, p): (usize, usize, usize),
    ) {
        let ow = self.ow;
        let w = line.len();
        match &mut self.phase[..] {
            [one] => one.copy_from_slice(line),
            [even, odd] => {
                let pairs = line.chunks_exact(2);
                if let Some(&last) = pairs.remainder().first() {
                    even[w / 2] = last;
                }
                for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(pairs) {
                    (*e, *o) = (pair[0], pair[1]);
                }
            }
            phases => {
                for (j, chunk) in line.chunks(s).enumerate() {
                    for (ph, &v) in phases.iter_mut().zip(chunk) {
                        ph[j] = v;
                    }
                }
            }
        }
        let val = &mut self.val[y * ow..(y + 1) * ow];
        let col = &mut self.col[y * ow..(y + 1) * ow];
        // the outputs whose window lies inside the row: o·s ≥ p and o·s − p + k ≤ w
        let lo = p.div_ceil(s).min(ow);
        let hi = if w + p >= k {
            ((w + p - k) / s + 1).min(ow)
        } else {
            0
        }
        .max(lo);
        for kx in 0..k {
            // column s·o − p + kx = s·(o + q) + r
            let t = kx as isize - p as isize;
            let (q, r) = (t.div_euclid(s as isize), t.rem_euclid(s as isize) as usize);
            let from = (lo as isize + q) as usize;
            let src = &self.phase[r][from..from + (hi - lo)];
            let outs = val[lo..hi].iter_mut().zip(col[lo..hi].iter_mut()).zip(src);
            // the column of output `lo`, ≥ 0 inside the row; then a step of s
            let mut c = ((s * lo) as isize + t) as u32;
            if kx == 0 {
                for ((bv, bc), &v) in outs {
                    (*bv, *bc) = (v, c);
                    c = c.wrapping_add(s as u32);
                }
                continue;
            }
            for ((bv, bc), &v) in outs {
                #[allow(clippy::eq_op)]
                let take = (v > *bv) | (v != v);
                *bv = T::pick(take, v, *bv);
                *bc = pick_u32(take, c, *bc);
                c = c.wrapping_add(s as u32);
            }
        }
        for o in (0..lo).chain(hi..ow) {
            let (x0, x1) = cols[o];
            let (mut bv, mut bc) = (line[x0], x0);
            for (xx, &v) in line.iter().enumerate().take(x1).skip(x0 + 1) {
                #[allow(clippy::eq_op)]
                let take = (v > bv) | (v != v);
                bv = T::pick(take, v, bv);
                bc = pick_index(take, xx, bc);
            }
            (val[o], col[o]) = (bv, bc as u32);
        }
    }
}

/// The column pass of [`PoolOp::max_separable`]: output row `oy` takes the row maxima
/// of its window's rows in order, and the index `y·w + column` of the one kept.
fn combine_rows<T: Float>(
    rm: &RowMax<T>,
    rows: &[(usize, usize)],
    w: usize,
    out: &mut [T],
    arg: &mut [u32],
) {
    let ow = rm.ow;
    let outs = out.chunks_exact_mut(ow).zip(arg.chunks_exact_mut(ow));
    for ((ob, ab), &(y0, y1)) in outs.zip(rows) {
        let first = rm.val[y0 * ow..(y0 + 1) * ow]
            .iter()
            .zip(&rm.col[y0 * ow..(y0 + 1) * ow]);
        for ((bv, ba), (&v, &c)) in ob.iter_mut().zip(ab.iter_mut()).zip(first) {
            (*bv, *ba) = (v, (y0 * w) as u32 + c);
        }
        for y in y0 + 1..y1 {
            let row = rm.val[y * ow..(y + 1) * ow]
                .iter()
                .zip(&rm.col[y * ow..(y + 1) * ow]);
            let base = (y * w) as u32;
            for ((bv, ba), (&v, &c)) in ob.iter_mut().zip(ab.iter_mut()).zip(row) {
                #[allow(clippy::eq_op)]
                let take = (v > *bv) | (v != v);
                *bv = T::pick(take, v, *bv);
                *ba = pick_u32(take, base + c, *ba);
            }
        }
    }
}
