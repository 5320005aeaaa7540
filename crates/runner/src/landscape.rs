//! `wick landscape`: the training loss over a grid of one or two parameters, the rest
//! of the model as initialised (or as a run left it), without training: the course's
//! first chapter (the MSE of `y = w·x` for `w` in `np.arange(0.0, 4.1, 0.1)`, and the
//! loss surface of `y = w·x + b` over `w` and `b`).
//!
//! The loss is the experiment's criterion over the whole training set as one batch:
//! with `reduction = "sum"` the sum over every sample, with `"mean"` the mean (batches
//! are weighted by their size). It is computed in f64 (the parameters and the data
//! cast), as the course's NumPy computes it, so that the printed grid is its grid.

use crate::build;
use crate::error::RunError;
use crate::fit::Feed;
use crate::schema::Experiment;
use crate::task::Task;
use candle_core::{DType, Device, Tensor, Var};
use std::path::Path;
use std::str::FromStr;
use wick_data::Batch;
use wick_losses::Reduction;

/// One swept parameter: `NAME=START:STOP:STEP`, the values `START + i·STEP` up to
/// `STOP` inclusive (as the course's `np.arange(0.0, 4.1, 0.1)` reaches 4.0).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The parameter's `state_dict` key (`0.weight`).
    pub param: String,
    /// Its values.
    pub values: Vec<f64>,
}

impl FromStr for Axis {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || format!("`{s}`: expected NAME=START:STOP:STEP, e.g. 0.weight=0:4:0.1");
        let (name, range) = s.split_once('=').ok_or_else(usage)?;
        let nums: Vec<f64> = range
            .split(':')
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| usage())?;
        let [start, stop, step] = nums[..] else {
            return Err(usage());
        };
        if ![start, stop, step].iter().all(|v| v.is_finite()) || step <= 0.0 || stop < start {
            return Err(format!(
                "`{s}`: the range needs START <= STOP and a positive STEP"
            ));
        }
        // the last index whose value is within half a step's rounding of STOP
        let n = ((stop - start) / step + 1e-9).floor() as usize;
        if n >= 100_000 {
            return Err(format!("`{s}`: {} values are too many for a grid", n + 1));
        }
        Ok(Self {
            param: name.trim().to_string(),
            values: (0..=n).map(|i| start + i as f64 * step).collect(),
        })
    }
}

/// The loss at every point of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Landscape {
    /// One or two axes.
    pub axes: Vec<Axis>,
    /// Row-major over `(second axis, first axis)`, as `np.meshgrid(w_list, b_list)`
    /// lays it out (one row per value of the second parameter); one row for one axis.
    pub loss: Vec<f64>,
}

impl Landscape {
    /// The loss at `(i, j)`: value `i` of the first axis, `j` of the second.
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.loss[j * self.axes[0].values.len() + i]
    }
}

/// The training set's batches, cast to f64, kept for every grid point, and how they
/// reach the model.
fn batches(exp: &Experiment, device: &Device) -> Result<(Vec<Batch>, Feed), RunError> {
    let (train, _) = build::load_data(exp, None)?;
    let feed = build::feed(exp, train.as_ref());
    let loader = build::loader(exp, &exp.data.train, train, device)?;
    let batches = loader
        .epoch(0)
        .map(|b| {
            let b = b?;
            let cast = |t: &Tensor| {
                if t.dtype() == DType::F32 {
                    t.to_dtype(DType::F64)
                } else {
                    Ok(t.clone())
                }
            };
            Ok(Batch {
                input: cast(&b.input)?,
                extra: b
                    .extra
                    .iter()
                    .map(cast)
                    .collect::<candle_core::Result<_>>()?,
                target: cast(&b.target)?,
                len: b.len,
            })
        })
        .collect::<Result<Vec<_>, RunError>>()?;
    Ok((batches, feed))
}

/// The swept parameters' variables, each checked to hold one value.
fn swept(model: &wick_nn::Sequential, axes: &[Axis]) -> Result<Vec<Var>, RunError> {
    let params = model.parameters();
    axes.iter()
        .map(|a| {
            let Some(p) = params.iter().find(|p| p.name == a.param) else {
                let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                return Err(RunError::Mismatch(format!(
                    "the model has no parameter `{}`; it has {}",
                    a.param,
                    names.join(", ")
                )));
            };
            if p.numel() != 1 {
                return Err(RunError::Mismatch(format!(
                    "`{}` has {} values (shape {:?}); a landscape sweeps parameters of one \
                     value (Linear(1, 1)'s weight and bias)",
                    a.param,
                    p.numel(),
                    p.var.dims()
                )));
            }
            Ok(p.var.clone())
        })
        .collect()
}

/// The landscape of `exp` over `axes` (one or two), with the model initialised from the
/// experiment's seed, or loaded from the `best` (else `last`) checkpoint of `from`.
pub fn landscape(
    exp: &Experiment,
    axes: Vec<Axis>,
    from: Option<&Path>,
) -> Result<Landscape, RunError> {
    if axes.is_empty() || axes.len() > 2 {
        return Err(RunError::Mismatch(format!(
            "a landscape sweeps one or two parameters (--param), got {}",
            axes.len()
        )));
    }
    let device = Device::Cpu;
    let model = build::build_model_as(exp, &device, DType::F64)?;
    // the f32 parameters `wick run` starts from, exactly, in f64
    let init = build::build_model(exp, &device)?.state_dict();
    model
        .load_state_dict(&init.into_iter().collect())
        .map_err(|e| RunError::Mismatch(e.to_string()))?;
    if let Some(run) = from {
        let dir = crate::rundir::find_checkpoint(run, "best")
            .or_else(|_| crate::rundir::find_checkpoint(run, "last"))?;
        let file = dir.join(crate::checkpoint::MODEL_FILE);
        let weights = crate::checkpoint::load_model(&file, &device)
            .map_err(|e| RunError::RunDir(e.to_string()))?;
        model
            .load_state_dict(&weights.into_iter().collect())
            .map_err(|e| RunError::RunDir(format!("{}: {e}", file.display())))?;
    }
    let vars = swept(&model, &axes)?;
    let (data, feed) = batches(exp, &device)?;
    let criterion = exp.loss.build()?;
    let task = Task::of(&exp.loss)?;
    let summed = exp.loss.reduction() == Reduction::Sum;
    let total: usize = data.iter().map(|b| b.len).sum();
    let loss_at = |point: &[f64]| -> Result<f64, RunError> {
        for (v, &x) in vars.iter().zip(point) {
            v.set(&Tensor::full(x, v.dims(), &device)?)?;
        }
        let mut sum = 0.0;
        for b in &data {
            let outs = feed.forward(&model, b, false)?;
            let target = task.target(&b.target, &outs[0])?;
            let l = task
                .loss(criterion.as_ref(), &outs, &target)?
                .to_scalar::<f64>()?;
            sum += if summed { l } else { l * b.len as f64 };
        }
        Ok(if summed {
            sum
        } else {
            sum / total.max(1) as f64
        })
    };
    let first = &axes[0].values;
    let second = axes.get(1).map_or(vec![f64::NAN], |a| a.values.clone());
    let mut loss = Vec::with_capacity(first.len() * second.len());
    for &y in &second {
        for &x in first {
            let point = if axes.len() == 2 { vec![x, y] } else { vec![x] };
            loss.push(loss_at(&point)?);
        }
    }
    Ok(Landscape { axes, loss })
}

/// `runs/<name>/landscape-<date>-<time>`: where `wick landscape` writes by default.
pub fn default_dir(exp: &Experiment, runs_dir: &Path) -> std::path::PathBuf {
    let stamp = chrono::Local::now().format("landscape-%Y%m%d-%H%M%S");
    runs_dir.join(&exp.name).join(stamp.to_string())
}

impl Landscape {
    /// What `wick landscape` prints: `NAME=value loss` per value for one parameter (the
    /// course's `w= … MSE= …`), the grid as NumPy prints it for two (one row per value
    /// of the second parameter, as `np.meshgrid(w_list, b_list)`).
    pub fn printed(&self) -> String {
        if self.axes.len() == 1 {
            let a = &self.axes[0];
            return a
                .values
                .iter()
                .zip(&self.loss)
                .map(|(v, l)| format!("{}={v:.4} loss={l}", a.param))
                .collect::<Vec<_>>()
                .join("\n");
        }
        let m = self.axes[0].values.len();
        let rows: Vec<Vec<f64>> = self.loss.chunks(m).map(<[f64]>::to_vec).collect();
        crate::numpy_fmt::matrix(&rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_include_their_stop() {
        let a: Axis = "0.weight=0:4:0.1".parse().unwrap();
        assert_eq!(a.param, "0.weight");
        assert_eq!(a.values.len(), 41);
        assert_eq!(a.values[3], 0.30000000000000004); // as np.arange(0, 4.1, 0.1)[3]
        assert!((a.values[40] - 4.0).abs() < 1e-12);
        let b: Axis = "b=-1:1:0.5".parse().unwrap();
        assert_eq!(b.values, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        for bad in [
            "w",
            "w=0:4",
            "w=0:4:0",
            "w=4:0:1",
            "w=a:1:1",
            "w=0:1e9:1e-3",
        ] {
            assert!(bad.parse::<Axis>().is_err(), "{bad}");
        }
    }
}
