//! `wick predict <run-dir> INPUTS`: a trained checkpoint on new inputs (an image, a
//! folder of images, or a CSV of feature rows), written as CSV: the input, the
//! prediction, and the class probabilities (softmax) or the outputs.

use crate::error::RunError;
use crate::schema::PredictConfig;
use crate::task::Task;
use candle_core::Device;
use candle_core::{DType, Tensor};
use std::path::{Path, PathBuf};
use wick_data::datasets::{CsvConfig, ImageFolder, IMG_EXTENSIONS};
use wick_data::transforms::{Compose, Transform};
use wick_data::{Array, Input};
use wick_nn::Layer;
use wick_tensor::SeedRng;

/// Inputs found at `path`: image files (one, or a folder searched recursively, sorted)
/// or the rows of a CSV file (`.csv`, `.csv.gz`), read by wick-data's CSV reader as
/// `csv` (the training data's own settings when it was a CSV) says.
fn read_inputs(
    path: &Path,
    features: usize,
    csv: Option<&CsvConfig>,
) -> Result<Vec<(String, Input)>, RunError> {
    let bad = |m: String| RunError::Mismatch(format!("{}: {m}", path.display()));
    let name = path.to_string_lossy().to_lowercase();
    if path.is_file() && (name.ends_with(".csv") || name.ends_with(".csv.gz")) {
        let default = CsvConfig::new(path);
        let rows = csv.unwrap_or(&default).load_inputs(path, features)?;
        if rows.is_empty() {
            return Err(bad("no rows".into()));
        }
        return Ok(rows
            .into_iter()
            .map(|(line, data)| {
                let shape = vec![data.len()];
                (
                    format!("{}:{line}", path.display()),
                    Input::Array(Array { shape, data }),
                )
            })
            .collect());
    }
    let mut files = Vec::new();
    if path.is_dir() {
        collect_images(path, &mut files).map_err(|e| bad(e.to_string()))?;
        if files.is_empty() {
            return Err(bad(format!(
                "no image files ({}) in this folder",
                IMG_EXTENSIONS.join(", ")
            )));
        }
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        return Err(bad("no such file or folder".into()));
    }
    files
        .into_iter()
        .map(|f| {
            Ok((
                f.display().to_string(),
                Input::Image(ImageFolder::load(&f)?),
            ))
        })
        .collect()
}

fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_images(&p, out)?;
        } else {
            let ext = p
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy().to_lowercase()))
                .unwrap_or_default();
            if IMG_EXTENSIONS.contains(&ext.as_str()) {
                out.push(p);
            }
        }
    }
    Ok(())
}

/// Runs checkpoint `which` of `run_dir` on the inputs at `inputs`; returns the CSV.
pub fn predict(run_dir: &Path, inputs: &Path, which: &str) -> Result<String, RunError> {
    let (exp, device, model) = crate::build::trained_model(run_dir, which)?;
    let task = Task::of(&exp.loss)?;
    let classes = crate::rundir::read_classes(run_dir);
    let split = exp.data.test.as_ref().unwrap_or(&exp.data.train);
    let transforms = Compose::from_configs(&split.transforms)?;
    let features: usize = exp.model.input().iter().product();
    // a CSV is read as the training data was, when that was a CSV too
    let csv_config = exp
        .split_dataset(&exp.data.train)
        .downcast_ref::<CsvConfig>();
    let items = read_inputs(inputs, features, csv_config)?;
    let mut rng = SeedRng::stream(exp.seed, "predict", &[]);
    let mut csv = String::new();
    for chunk in items.chunks(64) {
        let mut data = Vec::new();
        for (name, input) in chunk {
            let x = match transforms.apply(input.clone(), &mut rng)? {
                Input::Array(a) => a,
                Input::Image(_) => {
                    return Err(RunError::Mismatch(format!(
                        "{name}: still an image after the transforms (no ToTensor)"
                    )))
                }
            };
            if x.shape != exp.model.input() {
                return Err(RunError::Mismatch(format!(
                    "{name}: shape {:?} after the transforms, but the model takes {:?}",
                    x.shape,
                    exp.model.input()
                )));
            }
            data.extend_from_slice(&x.data);
        }
        let mut shape = vec![chunk.len()];
        shape.extend_from_slice(exp.model.input());
        let x = Tensor::from_vec(data, shape, &device)?;
        let out = model.forward(&x, false)?.detach().to_dtype(DType::F32)?;
        let out = out.reshape((chunk.len(), ()))?;
        let k = out.dim(1)?;
        if csv.is_empty() {
            let mut header = vec!["input".to_string(), "prediction".to_string()];
            match task {
                Task::Classify => header
                    .extend((0..k).map(|i| {
                        format!("p_{}", classes.get(i).cloned().unwrap_or(i.to_string()))
                    })),
                Task::Binary { .. } => header.extend((0..k).map(|i| format!("p_{i}"))),
                Task::Regress | Task::Compare { .. } => {
                    header.pop();
                    header.extend((0..k).map(|i| format!("output_{i}")));
                }
            }
            csv.push_str(&header.join(","));
            csv.push('\n');
        }
        let probs = match task {
            Task::Classify => wick_losses::log_softmax(&out, 1)?.exp()?,
            Task::Binary { logits: true } => candle_core::Tensor::exp(&out.neg()?)?
                .affine(1.0, 1.0)?
                .recip()?,
            _ => out.clone(),
        };
        let probs: Vec<Vec<f32>> = probs.to_vec2()?;
        for ((name, _), p) in chunk.iter().zip(probs) {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            let pred = match task {
                Task::Classify => {
                    let best = p
                        .iter()
                        .enumerate()
                        .fold((0, f32::MIN), |a, (j, &v)| if v > a.1 { (j, v) } else { a })
                        .0;
                    Some(classes.get(best).cloned().unwrap_or(best.to_string()))
                }
                Task::Binary { .. } => Some(
                    p.iter()
                        .map(|&v| if v > 0.5 { "1" } else { "0" })
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                Task::Regress | Task::Compare { .. } => None,
            };
            let mut row = vec![quoted];
            row.extend(pred);
            row.extend(p.iter().map(|v| format!("{v}")));
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
    }
    Ok(csv)
}

/// `[predict]`: the trained model on the listed inputs, printed (softmax
/// probabilities and the class for classification).
/// The `[predict] parameters` of `model`, checked to exist (an error naming the model's
/// keys otherwise), as `(name, values)`.
pub(crate) fn named_values(
    p: &PredictConfig,
    model: &dyn Layer,
) -> Result<Vec<(String, Vec<f32>)>, RunError> {
    let state = model.state_dict();
    p.parameters
        .iter()
        .map(|name| {
            let Some((_, t)) = state.iter().find(|(k, _)| k == name) else {
                let keys: Vec<&str> = state.iter().map(|(k, _)| k.as_str()).collect();
                return Err(RunError::Mismatch(format!(
                    "[predict] parameters: the model has no `{name}`; its state_dict has {}",
                    keys.join(", ")
                )));
            };
            Ok((
                name.clone(),
                t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?,
            ))
        })
        .collect()
}

/// `[predict]` at `when` (`"before training"` or `"after training"`): the parameters,
/// then the predictions on its inputs.
pub(crate) fn print_all(
    p: &PredictConfig,
    model: &dyn Layer,
    (task, classes): (Task, &[String]),
    device: &Device,
    when: &str,
) -> Result<(), RunError> {
    for (name, values) in named_values(p, model)? {
        let shown: Vec<String> = values.iter().map(|v| format!("{v}")).collect();
        tracing::info!("{when}: {name} = [{}]", shown.join(", "));
    }
    print_predictions(p, model, task, classes, device)
}

pub(crate) fn print_predictions(
    p: &PredictConfig,
    model: &dyn Layer,
    task: Task,
    classes: &[String],
    device: &Device,
) -> Result<(), RunError> {
    let flat = p
        .inputs
        .flatten("inputs")
        .map_err(|e| RunError::Mismatch(e.to_string()))?;
    let data: Vec<f32> = flat.data.iter().map(|&v| v as f32).collect();
    let x = Tensor::from_vec(data, flat.shape.clone(), device)?;
    let out = model.forward(&x, false)?.detach();
    let per = flat.shape[1..].iter().product::<usize>().max(1);
    let rows = out
        .to_dtype(DType::F32)?
        .flatten_to(0)?
        .reshape((flat.shape[0], ()))?;
    let probs = match task {
        Task::Classify => Some(candle_core::Tensor::exp(&wick_losses::log_softmax(
            &rows, 1,
        )?)?),
        _ => None,
    };
    for i in 0..flat.shape[0] {
        let input: Vec<String> = flat.data[i * per..(i + 1) * per]
            .iter()
            .map(|v| format!("{v}"))
            .collect();
        let output: Vec<f32> = rows.get(i)?.to_vec1()?;
        let shown: Vec<String> = output.iter().map(|v| format!("{v:.4}")).collect();
        let extra = match (&probs, task) {
            (Some(p), _) => {
                let p: Vec<f32> = p.get(i)?.to_vec1()?;
                let (best, pb) =
                    p.iter()
                        .enumerate()
                        .fold((0, f32::MIN), |a, (j, &v)| if v > a.1 { (j, v) } else { a });
                let name = classes
                    .get(best)
                    .cloned()
                    .unwrap_or_else(|| best.to_string());
                format!(" -> class {name} (p = {pb:.4})")
            }
            (None, Task::Binary { logits: true }) => {
                let p: Vec<String> = output
                    .iter()
                    .map(|&z| format!("{:.4}", 1.0 / (1.0 + (-z).exp())))
                    .collect();
                format!(" -> p = [{}]", p.join(", "))
            }
            _ => String::new(),
        };
        tracing::info!(
            "predict [{}]: [{}]{extra}",
            input.join(", "),
            shown.join(", ")
        );
    }
    Ok(())
}
