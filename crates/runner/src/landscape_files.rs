//! The files of `wick landscape`: `landscape.csv`, and the pictures: for two
//! parameters a contour map (the loss as colour, with iso-loss lines by marching
//! squares) and a 3-D surface (the course's `ax.plot_surface(w, b, loss)`); one
//! parameter is a curve ([`crate::plots::line_chart`]).

use crate::error::RunError;
use crate::landscape::Landscape;
use crate::plots::{err, has_font, write_png, PlotError, FAMILY};
use plotters::prelude::*;
use std::path::Path;

/// Writes `landscape.csv` (a column per parameter, then `loss`) and the pictures
/// (`landscape.png` for one parameter; `landscape_contour.png` and
/// `landscape_surface.png` for two) into `dir`; returns the files written.
pub fn write(l: &Landscape, dir: &Path) -> Result<Vec<std::path::PathBuf>, RunError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| RunError::RunDir(format!("cannot create {}: {e}", dir.display())))?;
    let mut csv: String = l.axes.iter().map(|a| format!("{},", a.param)).collect();
    csv.push_str("loss\n");
    let m = l.axes[0].values.len();
    for (k, v) in l.loss.iter().enumerate() {
        let (i, j) = (k % m, k / m);
        csv.push_str(&format!("{},", l.axes[0].values[i]));
        if let Some(b) = l.axes.get(1) {
            csv.push_str(&format!("{},", b.values[j]));
        }
        csv.push_str(&format!("{v}\n"));
    }
    let file = dir.join("landscape.csv");
    std::fs::write(&file, csv)
        .map_err(|e| RunError::RunDir(format!("cannot write {}: {e}", file.display())))?;
    let mut files = vec![file];
    let plot_err = |e: crate::plots::PlotError| RunError::RunDir(e.to_string());
    if l.axes.len() == 1 {
        let a = &l.axes[0];
        let png = dir.join("landscape.png");
        let series = crate::plots::Series {
            name: "loss".into(),
            points: a
                .values
                .iter()
                .copied()
                .zip(l.loss.iter().copied())
                .collect(),
            band: Vec::new(),
        };
        crate::plots::line_chart(&png, "loss", &a.param, "loss", &[series]).map_err(plot_err)?;
        files.push(png);
    } else {
        let (c, s) = (
            dir.join("landscape_contour.png"),
            dir.join("landscape_surface.png"),
        );
        contour(&c, l).map_err(plot_err)?;
        surface(&s, l).map_err(plot_err)?;
        files.extend([c, s]);
    }
    Ok(files)
}

const SIZE: (u32, u32) = (800, 640);
/// Iso-loss lines drawn on the contour map.
const LEVELS: usize = 12;

/// A colour for `t` in `[0, 1]`, dark blue to yellow (viridis-like).
fn color(t: f64) -> RGBColor {
    let stops = [
        (68., 1., 84.),
        (59., 82., 139.),
        (33., 145., 140.),
        (94., 201., 98.),
        (253., 231., 37.),
    ];
    let t = t.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let (i, f) = ((t.floor() as usize).min(stops.len() - 2), t - t.floor());
    let mix = |a: f64, b: f64| (a + (b - a) * f) as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The finite losses' range.
fn span(l: &Landscape) -> (f64, f64) {
    let finite = l.loss.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    if lo < hi {
        (lo, hi)
    } else {
        (lo, lo + 1.0)
    }
}

/// The segments where the loss crosses `level` in the cell at `(i, j)`, by marching
/// squares (linear interpolation along the cell's edges).
fn crossings(l: &Landscape, i: usize, j: usize, level: f64) -> Vec<(f64, f64)> {
    let (xs, ys) = (&l.axes[0].values, &l.axes[1].values);
    let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
    let mut pts = Vec::new();
    for k in 0..4 {
        let (a, b) = (corners[k], corners[(k + 1) % 4]);
        let (va, vb) = (l.at(a.0, a.1), l.at(b.0, b.1));
        if (va < level) != (vb < level) && va.is_finite() && vb.is_finite() {
            let t = (level - va) / (vb - va);
            let p = |u: usize, v: usize| (xs[u], ys[v]);
            let (pa, pb) = (p(a.0, a.1), p(b.0, b.1));
            pts.push((pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1)));
        }
    }
    pts
}

/// Draws a `SIZE` PNG to `path`: a white canvas given to `draw`, then written.
fn canvas(
    path: &Path,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<(), PlotError>,
) -> Result<(), PlotError> {
    let mut buf = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        draw(&root)?;
        root.present().map_err(|e| err(path, e))?;
    }
    write_png(path, &buf, SIZE.0, SIZE.1)
}

/// The contour map of a two-parameter landscape.
pub fn contour(path: &Path, l: &Landscape) -> Result<(), PlotError> {
    let (xs, ys) = (&l.axes[0].values, &l.axes[1].values);
    let (lo, hi) = span(l);
    let text = has_font();
    canvas(path, |root| {
        let mut b = ChartBuilder::on(root);
        b.margin(15);
        if text {
            b.caption("loss", (FAMILY, 22))
                .x_label_area_size(45)
                .y_label_area_size(60);
        }
        let (x0, x1) = (xs[0], *xs.last().unwrap_or(&xs[0]));
        let (y0, y1) = (ys[0], *ys.last().unwrap_or(&ys[0]));
        let mut chart = b
            .build_cartesian_2d(x0..x1.max(x0 + 1e-9), y0..y1.max(y0 + 1e-9))
            .map_err(|e| err(path, e))?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc(l.axes[0].param.as_str())
                .y_desc(l.axes[1].param.as_str())
                .label_style((FAMILY, 14));
        }
        mesh.disable_mesh().draw().map_err(|e| err(path, e))?;
        // each grid point's cell, shaded by its loss
        let half = |v: &[f64], k: usize| {
            let d = if v.len() > 1 {
                (v[1] - v[0]) / 2.0
            } else {
                0.5
            };
            (v[k] - d, v[k] + d)
        };
        let cells = (0..xs.len()).flat_map(|i| (0..ys.len()).map(move |j| (i, j)));
        chart
            .draw_series(cells.map(|(i, j)| {
                let (a, b) = (half(xs, i), half(ys, j));
                let v = l.at(i, j);
                let c = if v.is_finite() {
                    color((v - lo) / (hi - lo))
                } else {
                    RGBColor(255, 255, 255)
                };
                Rectangle::new([(a.0, b.0), (a.1, b.1)], c.filled())
            }))
            .map_err(|e| err(path, e))?;
        for k in 1..LEVELS {
            let level = lo + (hi - lo) * k as f64 / LEVELS as f64;
            for i in 0..xs.len().saturating_sub(1) {
                for j in 0..ys.len().saturating_sub(1) {
                    let p = crossings(l, i, j, level);
                    for seg in p.chunks_exact(2) {
                        chart
                            .draw_series(std::iter::once(PathElement::new(
                                seg.to_vec(),
                                WHITE.mix(0.8),
                            )))
                            .map_err(|e| err(path, e))?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// The 3-D surface of a two-parameter landscape, as the course's `plot_surface`.
pub fn surface(path: &Path, l: &Landscape) -> Result<(), PlotError> {
    let (xs, ys) = (l.axes[0].values.clone(), l.axes[1].values.clone());
    let (lo, hi) = span(l);
    let text = has_font();
    canvas(path, |root| {
        let mut b = ChartBuilder::on(root);
        b.margin(20);
        if text {
            b.caption("loss", (FAMILY, 22));
        }
        let (x0, x1) = (xs[0], *xs.last().unwrap_or(&xs[0]));
        let (y0, y1) = (ys[0], *ys.last().unwrap_or(&ys[0]));
        let mut chart = b
            .build_cartesian_3d(x0..x1.max(x0 + 1e-9), lo..hi, y0..y1.max(y0 + 1e-9))
            .map_err(|e| err(path, e))?;
        chart.with_projection(|mut p| {
            p.pitch = 0.5;
            p.yaw = 0.6;
            p.scale = 0.85;
            p.into_matrix()
        });
        let mut axes = chart.configure_axes();
        if text {
            axes.label_style((FAMILY, 13));
        }
        axes.draw().map_err(|e| err(path, e))?;
        let index = |v: &[f64], x: f64| v.iter().position(|&u| u == x).unwrap_or(0);
        chart
            .draw_series(
                SurfaceSeries::xoz(xs.iter().copied(), ys.iter().copied(), |x, y| {
                    let v = l.at(index(&xs, x), index(&ys, y));
                    if v.is_finite() {
                        v
                    } else {
                        hi
                    }
                })
                .style_func(&|&v| color((v - lo) / (hi - lo)).mix(0.85).filled()),
            )
            .map_err(|e| err(path, e))?;
        if text {
            let label = format!("x: {}, z: {}", l.axes[0].param, l.axes[1].param);
            root.draw_text(
                &label,
                &(FAMILY, 14).into_text_style(root),
                (20, (SIZE.1 - 25) as i32),
            )
            .map_err(|e| err(path, e))?;
        }
        Ok(())
    })
}
