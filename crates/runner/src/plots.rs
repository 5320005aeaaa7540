//! PNG plots of a run (`plots/` in the run directory), redrawn after every epoch:
//! loss and accuracy curves per epoch (train and test), the training loss per logged
//! step, the learning rate, and the confusion matrix.
//!
//! Text is drawn with a TrueType font found on the system (`$WICK_FONT`, else DejaVu
//! Sans or Liberation Sans in the usual places); without one, plots are drawn without
//! text and a warning says so once.

use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

const WIDTH: u32 = 800;
const HEIGHT: u32 = 500;
pub(crate) const FAMILY: &str = "sans-serif";

/// One named line of `(x, y)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)`: a band shaded around the line (a spread over seeds), in x
    /// order; empty for none.
    pub band: Vec<(f64, f64, f64)>,
}

/// A plot that could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {message}")]
pub struct PlotError {
    /// The PNG file.
    pub path: String,
    /// Why.
    pub message: String,
}

pub(crate) fn err(path: &Path, e: impl ToString) -> PlotError {
    PlotError {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Registers a system font once; false when none was found.
pub(crate) fn has_font() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        let mut candidates: Vec<String> = std::env::var("WICK_FONT").into_iter().collect();
        candidates.extend(
            [
                "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/TTF/DejaVuSans.ttf",
                "/usr/share/fonts/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
                "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
                "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
                "/Library/Fonts/Arial.ttf",
                "/System/Library/Fonts/Supplemental/Arial.ttf",
                "C:\\Windows\\Fonts\\arial.ttf",
            ]
            .map(String::from),
        );
        for c in candidates {
            if let Ok(bytes) = std::fs::read(&c) {
                // Fonts are registered for the life of the process.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        tracing::warn!(
            "no TrueType font found (install fonts-dejavu-core or set WICK_FONT): plots have no text"
        );
        false
    })
}

pub(crate) fn write_png(path: &Path, buf: &[u8], w: u32, h: u32) -> Result<(), PlotError> {
    let tmp = path.with_extension("png.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| err(path, e))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| err(path, e))?;
    writer.write_image_data(buf).map_err(|e| err(path, e))?;
    writer.finish().map_err(|e| err(path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| err(path, e))
}

fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return None;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1e-3) * 0.1
    };
    Some((lo - pad, hi + pad))
}

pub(crate) const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Draws a line chart of `series` to `path` (PNG). Series without points are left out;
/// nothing is written when no series has a finite point.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), PlotError> {
    let all = || {
        series.iter().flat_map(|s| {
            let band = s.band.iter().flat_map(|b| [(b.0, b.1), (b.0, b.2)]);
            s.points.iter().copied().chain(band)
        })
    };
    let (Some(xr), Some(yr)) = (range(all().map(|p| p.0)), range(all().map(|p| p.1))) else {
        return Ok(());
    };
    let text = has_font();
    let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(15);
        if text {
            builder
                .caption(title, (FAMILY, 22))
                .x_label_area_size(45)
                .y_label_area_size(70);
        }
        let mut chart = builder
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(|e| err(path, e))?;
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(RGBColor(235, 235, 235));
        if text {
            mesh.x_desc(x_label)
                .y_desc(y_label)
                .label_style((FAMILY, 14));
        } else {
            mesh.disable_x_axis().disable_y_axis();
        }
        mesh.draw().map_err(|e| err(path, e))?;
        for (i, s) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            if pts.is_empty() {
                continue;
            }
            draw_band(&mut chart, &s.band, color).map_err(|e| err(path, e))?;
            let style = ShapeStyle::from(&color).stroke_width(2);
            let drawn = chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(|e| err(path, e))?;
            if text {
                drawn.label(s.name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            }
            if pts.len() <= 50 {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(|e| err(path, e))?;
            }
        }
        if text && series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font((FAMILY, 14))
                .draw()
                .map_err(|e| err(path, e))?;
        }
        root.present().map_err(|e| err(path, e))?;
    }
    write_png(path, &buf, WIDTH, HEIGHT)
}

/// Shades the band `(x, low, high)` in a light tint of `color`.
fn draw_band<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    band: &[(f64, f64, f64)],
    color: RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let finite: Vec<_> = band
        .iter()
        .filter(|b| b.0.is_finite() && b.1.is_finite() && b.2.is_finite())
        .collect();
    if finite.len() < 2 {
        return Ok(());
    }
    let outline: Vec<(f64, f64)> = finite
        .iter()
        .map(|b| (b.0, b.2))
        .chain(finite.iter().rev().map(|b| (b.0, b.1)))
        .collect();
    chart.draw_series(std::iter::once(Polygon::new(
        outline,
        color.mix(0.18).filled(),
    )))?;
    Ok(())
}

/// Draws a confusion matrix (`matrix[true][predicted]` counts), each cell shaded by its
/// share of the true class's samples and labelled with its count.
pub fn confusion_matrix(
    path: &Path,
    matrix: &[Vec<u64>],
    classes: &[String],
) -> Result<(), PlotError> {
    let k = matrix.len();
    if k == 0 {
        return Ok(());
    }
    let text = has_font();
    let (left, top, right, bottom) = if text {
        (140, 50, 20, 120)
    } else {
        (10, 10, 10, 10)
    };
    let cell =
        (((WIDTH.max(600) - left - right).min(HEIGHT.max(600) - top - bottom)) / k as u32).max(4);
    let (w, h) = (
        left + right + cell * k as u32,
        top + bottom + cell * k as u32,
    );
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        let font_px = (cell as f64 * 0.3).clamp(8.0, 16.0);
        for (t, row) in matrix.iter().enumerate() {
            let total: u64 = row.iter().sum();
            for (p, &n) in row.iter().enumerate() {
                let share = if total > 0 {
                    n as f64 / total as f64
                } else {
                    0.0
                };
                let shade = (255.0 * (1.0 - 0.85 * share)) as u8;
                let (x0, y0) = (
                    (left + p as u32 * cell) as i32,
                    (top + t as u32 * cell) as i32,
                );
                let rect = Rectangle::new(
                    [(x0, y0), (x0 + cell as i32, y0 + cell as i32)],
                    RGBColor(shade, shade, 255).filled(),
                );
                root.draw(&rect).map_err(|e| err(path, e))?;
                if text {
                    let color = if share > 0.5 { WHITE } else { BLACK };
                    let style = TextStyle::from((FAMILY, font_px).into_font())
                        .color(&color)
                        .pos(plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Center,
                            plotters::style::text_anchor::VPos::Center,
                        ));
                    root.draw_text(
                        &n.to_string(),
                        &style,
                        (x0 + cell as i32 / 2, y0 + cell as i32 / 2),
                    )
                    .map_err(|e| err(path, e))?;
                }
            }
        }
        if text {
            let name = |i: usize| {
                let s = classes.get(i).cloned().unwrap_or_else(|| i.to_string());
                s.chars().take(16).collect::<String>()
            };
            let style = TextStyle::from((FAMILY, 13).into_font()).color(&BLACK);
            for i in 0..k {
                let y = (top + i as u32 * cell + cell / 2) as i32;
                root.draw_text(&name(i), &style, (5, y - 6))
                    .map_err(|e| err(path, e))?;
                let x = (left + i as u32 * cell + cell / 2) as i32;
                let rotated = style.transform(FontTransform::Rotate90);
                root.draw_text(
                    &name(i),
                    &rotated,
                    (x + 6, (top + k as u32 * cell + 5) as i32),
                )
                .map_err(|e| err(path, e))?;
            }
            let title = TextStyle::from((FAMILY, 18).into_font()).color(&BLACK);
            root.draw_text(
                "Confusion matrix (rows: true, columns: predicted)",
                &title,
                (10, 15),
            )
            .map_err(|e| err(path, e))?;
        }
        root.present().map_err(|e| err(path, e))?;
    }
    write_png(path, &buf, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_size(path: &Path) -> (u32, u32) {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let r = dec.read_info().unwrap();
        (r.info().width, r.info().height)
    }

    #[test]
    fn draws_curves_and_a_confusion_matrix() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("loss.png");
        let s = vec![
            Series {
                name: "train".into(),
                points: vec![(1.0, 2.0), (2.0, 1.0), (3.0, 0.5)],
                band: vec![(1.0, 1.8, 2.2), (2.0, 0.9, 1.1), (3.0, 0.4, 0.6)],
            },
            Series {
                name: "test".into(),
                points: vec![(1.0, 2.1), (2.0, f64::NAN), (3.0, 0.7)],
                band: Vec::new(),
            },
        ];
        line_chart(&p, "loss", "epoch", "loss", &s).unwrap();
        assert_eq!(png_size(&p), (WIDTH, HEIGHT));
        let p = tmp.path().join("one.png");
        line_chart(&p, "lr", "epoch", "lr", &s[..1][..1]).unwrap();
        assert!(p.exists());
        let none = tmp.path().join("none.png");
        line_chart(&none, "x", "x", "y", &[]).unwrap();
        assert!(!none.exists());
        let cm = tmp.path().join("cm.png");
        let m = vec![vec![5, 1, 0], vec![0, 7, 2], vec![1, 0, 9]];
        confusion_matrix(&cm, &m, &["a".into(), "b".into(), "c".into()]).unwrap();
        let (w, h) = png_size(&cm);
        assert!(w > 100 && h > 100);
    }
}
