//! [`DataParallel`]: what makes several processes' trainers one
//! `DistributedDataParallel` model — the same start, averaged gradients, global
//! numbers, and decisions they all take at the same step.
//!
//! As PyTorch's DDP:
//! - at the start of `fit`, every parameter and buffer is broadcast from rank 0 (a
//!   resumed or hand-edited model cannot diverge between ranks);
//! - after every backward, the gradients are averaged over the ranks in buckets
//!   (`bucket_cap_mb`, see [`wick_dist::bucket`]); the optimizer then takes the same
//!   step everywhere, so the parameters stay identical without being sent again;
//! - buffers (BatchNorm's running statistics) are rank 0's: DDP broadcasts them from
//!   rank 0 before every forward (`broadcast_buffers=True`), so rank 0's evolve from its
//!   own batches only and the others' are overwritten. Here they are broadcast before
//!   every `test()`, which gives every rank rank 0's, as in PyTorch, where they are
//!   read; checkpoints are rank 0's.
//!
//! Beyond DDP, so that the ranks never disagree (a rank that stops while the others
//! wait in a collective would hang the job): the step's loss and counts ride in the
//! last gradient bucket, so every rank logs, monitors and checkpoints the global batch's
//! numbers; a Ctrl-C (or SIGTERM) seen by any rank rides there too and stops every rank
//! after the same step.

use crate::error::RunError;
use candle_core::backprop::GradStore;
use candle_core::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use wick_dist::ProcessGroup;
use wick_nn::Layer;
use wick_tensor::Param;

/// A step's numbers on one rank, summed over the ranks by [`DataParallel::reduce`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct StepSums {
    /// The batch's loss total (`loss · len` for a mean, the loss for a sum).
    pub loss_total: f64,
    /// Samples in the batch.
    pub len: f64,
    /// Correct predictions.
    pub hits: f64,
    /// Targets counted for accuracy.
    pub counted: f64,
    /// Whether this rank was asked to stop (1) or not (0).
    pub stop: f64,
}

impl StepSums {
    fn to_vec(self) -> [f32; 5] {
        [
            self.loss_total,
            self.len,
            self.hits,
            self.counted,
            self.stop,
        ]
        .map(|v| v as f32)
    }

    fn from_slice(v: &[f32]) -> Option<Self> {
        let [loss_total, len, hits, counted, stop] = <[f32; 5]>::try_from(v).ok()?;
        Some(Self {
            loss_total: f64::from(loss_total),
            len: f64::from(len),
            hits: f64::from(hits),
            counted: f64::from(counted),
            stop: f64::from(stop),
        })
    }

    /// The global batch's loss: the mean over its samples, or the sum of the ranks'
    /// sums (`reduction = "sum"`).
    pub fn loss(&self, summed: bool) -> f64 {
        if summed {
            self.loss_total
        } else {
            self.loss_total / self.len.max(1.0)
        }
    }
}

/// The data-parallel side of a [`crate::fit::Trainer`] (see the module doc).
pub struct DataParallel {
    group: Arc<dyn ProcessGroup>,
    cap_bytes: usize,
    /// The flag a Ctrl-C handler sets on this rank, and the one every rank's callbacks
    /// read, set on all of them at the same step.
    interrupt: Option<(Arc<AtomicBool>, Arc<AtomicBool>)>,
}

impl DataParallel {
    /// Training in `group` with gradient buckets of PyTorch's 25 MB.
    pub fn new(group: Arc<dyn ProcessGroup>) -> Self {
        Self {
            group,
            cap_bytes: mb_to_bytes(wick_dist::bucket::DEFAULT_BUCKET_CAP_MB),
            interrupt: None,
        }
    }

    /// Gradient buckets of at most `mb` megabytes (DDP's `bucket_cap_mb`).
    pub fn bucket_cap_mb(mut self, mb: f64) -> Self {
        self.cap_bytes = mb_to_bytes(mb);
        self
    }

    /// `raw` (what this rank's Ctrl-C handler sets) is read at every step; when any
    /// rank's was set, `agreed` is set on every rank after the same step (give it to
    /// [`crate::fit::StopOn::flag`]).
    pub fn interrupt(mut self, raw: Arc<AtomicBool>, agreed: Arc<AtomicBool>) -> Self {
        self.interrupt = Some((raw, agreed));
        self
    }

    /// The process group.
    pub fn group(&self) -> &Arc<dyn ProcessGroup> {
        &self.group
    }

    /// Whether this rank's Ctrl-C handler has fired.
    pub(crate) fn asked_to_stop(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|(raw, _)| raw.load(Ordering::SeqCst))
    }

    /// Averages the gradients of `params` over the ranks and sums `mine` over them;
    /// when any rank asked to stop, every rank's agreed flag is set.
    pub(crate) fn reduce(
        &self,
        grads: &mut GradStore,
        params: &[Param],
        mine: StepSums,
    ) -> Result<StepSums, RunError> {
        let tensors: Vec<Tensor> = params.iter().map(|p| p.tensor().clone()).collect();
        let summed = wick_dist::average_gradients(
            self.group.as_ref(),
            grads,
            &tensors,
            self.cap_bytes,
            &mine.to_vec(),
        )?;
        let all = StepSums::from_slice(&summed)
            .ok_or_else(|| RunError::Mismatch("the step's sums did not come back".into()))?;
        if all.stop > 0.0 {
            if let Some((_, agreed)) = &self.interrupt {
                agreed.store(true, Ordering::SeqCst);
            }
        }
        Ok(all)
    }

    /// Every parameter and buffer of `model` set to rank 0's.
    pub(crate) fn broadcast_model(&self, model: &dyn Layer) -> Result<(), RunError> {
        if self.group.world_size() == 1 {
            return Ok(());
        }
        for p in model.parameters() {
            let v = self.group.broadcast(p.tensor(), 0)?;
            p.var.set(&v)?;
        }
        self.broadcast_buffers(model)
    }

    /// Every buffer of `model` set to rank 0's (before `test()`).
    pub(crate) fn broadcast_buffers(&self, model: &dyn Layer) -> Result<(), RunError> {
        if self.group.world_size() == 1 {
            return Ok(());
        }
        for (name, b) in model.buffers() {
            let v = self.group.broadcast(&b, 0)?;
            model.load_buffer(&name, &v)?;
        }
        Ok(())
    }
}

fn mb_to_bytes(mb: f64) -> usize {
    (mb * 1024.0 * 1024.0).max(1.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_sums_round_trip_and_give_the_global_loss() {
        let s = StepSums {
            loss_total: 2.5 * 8.0,
            len: 8.0,
            hits: 6.0,
            counted: 8.0,
            stop: 0.0,
        };
        let back = StepSums::from_slice(&s.to_vec()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.loss(false), 2.5);
        assert_eq!(back.loss(true), 20.0);
        assert!(StepSums::from_slice(&[1.0]).is_none());
    }
}
