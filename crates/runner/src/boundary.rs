//! `plots/decision_boundary.png` for classifiers of 2-D points (the course's point-set
//! classifier, `make_moons`, a two-column CSV): the plane coloured by the class the
//! model predicts, the training and test points on it coloured by their true class,
//! redrawn as the run goes like the other plots (at most every 2 s, and at the end).
//!
//! What matplotlib users draw with `plt.contourf(xx, yy, Z)` over
//! `model(torch.stack([xx.ravel(), yy.ravel()], 1))` and `plt.scatter(X[:, 0], X[:, 1],
//! c=y)`.

use crate::error::RunError;
use crate::fit::{Callback, Control, EpochStats, View};
use crate::plots::{self, PlotError};
use crate::task::Task;
use candle_core::{DType, Device, Tensor};
use plotters::prelude::*;
use std::path::PathBuf;
use std::time::Instant;
use wick_data::{Dataset, Target};

/// Cells per side of the grid the model is evaluated on.
const CELLS: usize = 120;
/// Points drawn per split at most (the first ones).
const MAX_POINTS: usize = 4000;
/// Least seconds between two redraws.
const EVERY_SECS: f64 = 2.0;

/// A 2-D point and its class.
type Point = (f32, f32, u32);

/// The decision-boundary plot of a run (see the module doc).
pub(crate) struct DecisionBoundary {
    path: PathBuf,
    task: Task,
    device: Device,
    train: Vec<Point>,
    test: Vec<Point>,
    last: Option<Instant>,
}

impl DecisionBoundary {
    /// The plot for a model on 2-D inputs whose loss classifies (one logit or
    /// probability per sample, or a score per class); `None` for any other run.
    pub(crate) fn new(
        plots_dir: PathBuf,
        task: Task,
        device: &Device,
        input: &[usize],
        train: &dyn Dataset,
        test: Option<&dyn Dataset>,
    ) -> Option<Self> {
        if input != [2] || !matches!(task, Task::Classify | Task::Binary { .. }) {
            return None;
        }
        let train = points(train)?;
        let test = match test {
            Some(t) => points(t)?,
            None => Vec::new(),
        };
        Some(Self {
            path: plots_dir.join("decision_boundary.png"),
            task,
            device: device.clone(),
            train,
            test,
            last: None,
        })
    }

    /// The predicted class of every grid cell, row by row from the bottom.
    fn predict(&self, view: &View<'_>, b: &Bounds) -> Result<Vec<u32>, RunError> {
        let mut xy = Vec::with_capacity(CELLS * CELLS * 2);
        for j in 0..CELLS {
            for i in 0..CELLS {
                let (x, y) = b.center(i, j);
                xy.extend([x as f32, y as f32]);
            }
        }
        let x = Tensor::from_vec(xy, (CELLS * CELLS, 2), &self.device)?;
        let out = view
            .model
            .forward(&x, false)?
            .detach()
            .to_dtype(DType::F32)?;
        let out = out.flatten_from(1)?;
        let width = out.dim(1)?;
        let v: Vec<f32> = out.flatten_all()?.to_vec1()?;
        Ok(v.chunks_exact(width.max(1))
            .map(|row| match self.task {
                Task::Binary { logits } if width == 1 => {
                    u32::from(row[0] > if logits { 0.0 } else { 0.5 })
                }
                _ => argmax(row),
            })
            .collect())
    }

    fn draw(&mut self, view: &View<'_>, epoch: usize) -> Result<(), RunError> {
        self.last = Some(Instant::now());
        let b = Bounds::of(self.train.iter().chain(&self.test));
        let cells = self.predict(view, &b)?;
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut panels = vec![("train", self.train.as_slice())];
        if !self.test.is_empty() {
            panels.push(("test", self.test.as_slice()));
        }
        if let Err(e) = draw(&self.path, &b, &cells, &panels, epoch) {
            tracing::warn!("{e}");
        }
        Ok(())
    }
}

impl Callback for DecisionBoundary {
    fn on_epoch_end(&mut self, view: &View<'_>, stats: &EpochStats) -> Result<Control, RunError> {
        if self
            .last
            .is_none_or(|t| t.elapsed().as_secs_f64() >= EVERY_SECS)
        {
            self.draw(view, stats.epoch)?;
        }
        Ok(Control::Continue)
    }

    fn on_fit_end(&mut self, view: &View<'_>) -> Result<(), RunError> {
        let epoch = view.history().last().map_or(0, |e| e.epoch);
        self.draw(view, epoch)
    }
}

/// The first points of a dataset with their classes (`None` when a sample is not a
/// 2-vector with a class, or a 0/1 target).
fn points(ds: &dyn Dataset) -> Option<Vec<Point>> {
    (0..ds.len().min(MAX_POINTS))
        .map(|i| {
            let s = ds.get(i).ok()?;
            let wick_data::Input::Array(a) = &s.input else {
                return None;
            };
            let class = match &s.target {
                Target::Class(c) => *c,
                Target::Values(v) if v.data.len() == 1 => u32::from(v.data[0] > 0.5),
                Target::Values(_) => return None,
            };
            match a.data.as_slice() {
                [x, y] => Some((*x, *y, class)),
                _ => None,
            }
        })
        .collect()
}

fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (j, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = j;
        }
    }
    best as u32
}

/// The plane drawn: the points' range with a margin of a tenth on each side.
struct Bounds {
    x: (f64, f64),
    y: (f64, f64),
}

impl Bounds {
    fn of<'a>(pts: impl Iterator<Item = &'a Point>) -> Self {
        let (mut x, mut y) = ((f64::MAX, f64::MIN), (f64::MAX, f64::MIN));
        for p in pts.filter(|p| p.0.is_finite() && p.1.is_finite()) {
            x = (x.0.min(p.0 as f64), x.1.max(p.0 as f64));
            y = (y.0.min(p.1 as f64), y.1.max(p.1 as f64));
        }
        let pad = |(lo, hi): (f64, f64)| {
            if lo > hi {
                return (-1.0, 1.0);
            }
            let m = ((hi - lo) * 0.1).max(1e-3);
            (lo - m, hi + m)
        };
        Self {
            x: pad(x),
            y: pad(y),
        }
    }

    fn cell(&self) -> (f64, f64) {
        (
            (self.x.1 - self.x.0) / CELLS as f64,
            (self.y.1 - self.y.0) / CELLS as f64,
        )
    }

    fn center(&self, i: usize, j: usize) -> (f64, f64) {
        let (w, h) = self.cell();
        (
            self.x.0 + (i as f64 + 0.5) * w,
            self.y.0 + (j as f64 + 0.5) * h,
        )
    }
}

/// One panel per split, side by side: the predicted class per cell in a light tint,
/// the points in the full colour of their class.
fn draw(
    path: &std::path::Path,
    b: &Bounds,
    cells: &[u32],
    panels: &[(&str, &[Point])],
    epoch: usize,
) -> Result<(), PlotError> {
    let (w, h) = (480 * panels.len() as u32, 480);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plots::err(path, e))?;
        let areas = root.split_evenly((1, panels.len()));
        for (area, (name, pts)) in areas.iter().zip(panels) {
            let title = format!("{name}, epoch {epoch}");
            panel(area, b, cells, pts, &title).map_err(|e| plots::err(path, e))?;
        }
        root.present().map_err(|e| plots::err(path, e))?;
    }
    plots::write_png(path, &buf, w, h)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn panel<'a>(
    area: &Area<'a>,
    b: &Bounds,
    cells: &[u32],
    pts: &[Point],
    title: &str,
) -> Result<(), DrawingAreaErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>> {
    let color = |c: u32| plots::COLORS[c as usize % plots::COLORS.len()];
    let mut builder = ChartBuilder::on(area);
    builder.margin(10);
    if plots::has_font() {
        builder
            .caption(title, (plots::FAMILY, 18))
            .x_label_area_size(30)
            .y_label_area_size(40);
    }
    let mut chart = builder.build_cartesian_2d(b.x.0..b.x.1, b.y.0..b.y.1)?;
    if plots::has_font() {
        chart
            .configure_mesh()
            .disable_mesh()
            .label_style((plots::FAMILY, 12))
            .draw()?;
    }
    let (cw, ch) = b.cell();
    chart.draw_series(cells.iter().enumerate().map(|(k, &c)| {
        let (x, y) = b.center(k % CELLS, k / CELLS);
        let corners = [(x - cw / 2.0, y - ch / 2.0), (x + cw / 2.0, y + ch / 2.0)];
        Rectangle::new(corners, color(c).mix(0.25).filled())
    }))?;
    chart.draw_series(
        pts.iter()
            .map(|&(x, y, c)| Circle::new((x as f64, y as f64), 3, color(c).filled())),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plane_covers_every_point_with_a_margin() {
        let pts = [(0.0, -1.0, 0), (2.0, 1.0, 1)];
        let b = Bounds::of(pts.iter());
        assert!((b.x.0 + 0.2).abs() < 1e-9 && (b.x.1 - 2.2).abs() < 1e-9);
        assert!((b.y.0 + 1.2).abs() < 1e-9 && (b.y.1 - 1.2).abs() < 1e-9);
        let (x, y) = b.center(0, CELLS - 1);
        assert!(x > b.x.0 && x < b.x.0 + b.cell().0);
        assert!(y < b.y.1 && y > b.y.1 - b.cell().1);
        assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), 1);
    }

    #[test]
    fn only_two_feature_classifiers_get_the_plot() {
        use wick_data::datasets::{Labels, TensorDataset};
        let labels = Labels::Values {
            shape: vec![1],
            data: vec![1.0, 0.0],
        };
        let ds = TensorDataset::new(vec![0.5, 1.0, 0.0, 0.0], vec![2], labels).unwrap();
        let dev = Device::Cpu;
        let p = std::path::PathBuf::from("plots");
        let binary = Task::Binary { logits: true };
        let b = DecisionBoundary::new(p.clone(), binary, &dev, &[2], &ds, None).unwrap();
        assert_eq!(b.train, [(0.5, 1.0, 1), (0.0, 0.0, 0)]);
        assert!(DecisionBoundary::new(p.clone(), Task::Regress, &dev, &[2], &ds, None).is_none());
        assert!(DecisionBoundary::new(p, binary, &dev, &[3], &ds, None).is_none());
    }
}
