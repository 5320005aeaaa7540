//! `test()`: the model in eval mode over a loader, its mean loss, accuracy or
//! regression errors, and the `[metrics]` collection.

use super::embedding::{pair_hits, Neighbours};
use super::feed::Feed;
use super::stats::{batch_total, Eval};
use crate::error::RunError;
use crate::metrics::{ClassCounts, MetricsConfig, RegressionSums};
use crate::task::Task;
use candle_core::DType;
use std::collections::BTreeMap;
use wick_data::DataLoader;
use wick_losses::Loss;
use wick_nn::Layer;

/// `test()`: `model` in eval mode over `loader`, its mean loss, accuracy (or the
/// regression errors) and the metrics of `mc`.
pub(crate) fn evaluate(
    model: &dyn Layer,
    loss: &dyn Loss,
    task: Task,
    feed: &Feed,
    loader: &DataLoader,
    summed: bool,
    mc: &MetricsConfig,
) -> Result<Eval, RunError> {
    let (mut total, mut loss_sum, mut hits, mut counted) = (0usize, 0f64, 0f64, 0usize);
    let mut counts: Option<ClassCounts> = None;
    let mut reg = RegressionSums::default();
    let mut neighbours = Neighbours::default();
    let mut collection = mc
        .collection
        .iter()
        .map(|m| Ok((crate::metric::name_of(m), m.build()?)))
        .collect::<candle_core::Result<Vec<_>>>()?;
    for batch in loader.epoch(0) {
        let batch = batch?;
        let outs: Vec<_> = feed
            .forward(model, &batch, false)?
            .into_iter()
            .map(|o| o.detach())
            .collect();
        let out = outs[0].clone();
        let target = task.target(&batch.target, &out)?;
        let l = f64::from(
            task.loss(loss, &outs, &target)?
                .to_dtype(DType::F32)?
                .to_scalar::<f32>()?,
        );
        loss_sum += batch_total(l, batch.len, summed);
        total += batch.len;
        for (_, m) in &mut collection {
            m.update(&out, &target)?;
        }
        match task {
            Task::Classify => {
                let classes = out.dim(1)?;
                let c = counts.get_or_insert_with(|| ClassCounts::new(classes, &mc.top_k));
                let scores: Vec<f32> = out.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                let targets: Vec<u32> = target.to_dtype(DType::U32)?.to_vec1()?;
                c.update(&scores, &targets);
            }
            Task::Binary { .. } => {
                let (h, n) = task.hits(&out, &target)?;
                hits += h;
                counted += n;
            }
            Task::Compare { signs: true, .. } => {
                let (h, n) = pair_hits(loss, &outs, &target)?;
                hits += h as f64;
                counted += n;
            }
            Task::Compare { signs: false, .. } => {
                if batch.target.dtype() == DType::U32 {
                    neighbours.push(&out, &batch.target)?;
                }
            }
            Task::Regress => {
                let p: Vec<f32> = out.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                let t: Vec<f32> = target.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                reg.update(&p, &t);
            }
        }
    }
    let (hits, counted) = match (&counts, task) {
        (Some(c), _) => (c.hits(), c.total() as usize),
        (None, Task::Compare { signs: false, .. }) => neighbours.hits()?,
        (None, _) => (hits as u64, counted),
    };
    let mut extra = if task == Task::Regress {
        reg.metrics("")
    } else {
        BTreeMap::new()
    };
    extra.extend(collection.iter().map(|(n, m)| (n.clone(), m.compute())));
    Ok(Eval {
        loss: loss_sum / total.max(1) as f64,
        hits,
        counted,
        total,
        has_accuracy: task.has_accuracy() || counted > 0,
        counts,
        extra,
    })
}
