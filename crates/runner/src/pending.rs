//! Training metrics accumulated on the device between the points that print them.
//!
//! Reading a loss or an accuracy count back to the host waits for the GPU to finish
//! every queued kernel; doing it per batch stalls the pipeline once per batch. On
//! devices other than the CPU the trainer adds each batch's loss and hit count into
//! small device tensors instead ([`PendingMetrics::push`]) and reads them back, in one
//! transfer, only where a progress message, a log line, a checkpoint or the end of an
//! epoch needs them ([`PendingMetrics::flush`]). On the CPU nothing waits, and the
//! trainer reads every batch as before.

use candle_core::{DType, Result, Tensor};

/// The sums of the batches since the last flush, as device tensors.
#[derive(Debug, Default)]
pub(crate) struct PendingMetrics {
    /// `[3]` in `f64`: Σ loss, Σ loss·batch size (or Σ loss for `reduction = "sum"`),
    /// Σ hits.
    sums: Option<Tensor>,
    /// The last batch's loss (0-d).
    last: Option<Tensor>,
    batches: usize,
}

/// What a flush read back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Flushed {
    /// Σ of the batch losses.
    pub running: f64,
    /// Σ of the batch losses weighted as the epoch mean needs.
    pub loss_sum: f64,
    /// Σ of the batch hit counts.
    pub hits: f64,
    /// The last batch's loss.
    pub last: f64,
    /// How many batches the sums cover.
    pub batches: usize,
}

impl PendingMetrics {
    /// Adds one batch: its (0-d) `loss`, its size `n`, whether the loss is a sum over
    /// the batch, and its hit count (0-d, if the task counts hits).
    pub(crate) fn push(
        &mut self,
        loss: &Tensor,
        n: usize,
        summed: bool,
        hits: Option<&Tensor>,
    ) -> Result<()> {
        let l = loss.detach().to_dtype(DType::F64)?.reshape(1)?;
        let total = if summed {
            l.clone()
        } else {
            l.affine(n as f64, 0.0)?
        };
        let h = match hits {
            Some(h) => h.detach().to_dtype(DType::F64)?.reshape(1)?,
            None => l.zeros_like()?,
        };
        let row = Tensor::cat(&[&l, &total, &h], 0)?;
        self.sums = Some(match self.sums.take() {
            Some(s) => s.add(&row)?,
            None => row,
        });
        self.last = Some(l);
        self.batches += 1;
        Ok(())
    }

    /// Reads the sums back (one device-to-host copy) and starts over; `None` if
    /// nothing was pushed.
    pub(crate) fn flush(&mut self) -> Result<Option<Flushed>> {
        let (Some(sums), Some(last)) = (self.sums.take(), self.last.take()) else {
            return Ok(None);
        };
        let v: Vec<f64> = Tensor::cat(&[&sums, &last], 0)?.to_vec1()?;
        let batches = std::mem::take(&mut self.batches);
        Ok(Some(Flushed {
            running: v[0],
            loss_sum: v[1],
            hits: v[2],
            last: v[3],
            batches,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn sums_what_the_eager_path_sums() {
        let mut p = PendingMetrics::default();
        assert!(p.flush().unwrap().is_none());
        let t = |v: f32| Tensor::new(v, &Device::Cpu).unwrap();
        p.push(&t(0.5), 4, false, Some(&t(3.0))).unwrap();
        p.push(&t(1.5), 2, false, Some(&t(1.0))).unwrap();
        let f = p.flush().unwrap().unwrap();
        assert_eq!(
            f,
            Flushed {
                running: 2.0,
                loss_sum: 0.5 * 4.0 + 1.5 * 2.0,
                hits: 4.0,
                last: 1.5,
                batches: 2,
            }
        );
        assert!(p.flush().unwrap().is_none());
        p.push(&t(2.0), 8, true, None).unwrap();
        let f = p.flush().unwrap().unwrap();
        assert_eq!((f.loss_sum, f.hits, f.batches), (2.0, 0.0, 1));
        p.push(&t(f32::NAN), 1, false, None).unwrap();
        assert!(p.flush().unwrap().unwrap().running.is_nan());
    }
}
