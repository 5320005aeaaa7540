//! The accuracy of models trained to compare samples ([`Task::Compare`]), which give
//! embeddings or scores rather than one prediction per class:
//! - pairs with a `±1` target (`CosineEmbeddingLoss`, `MarginRankingLoss`): a pair is
//!   predicted alike (`1`) when the loss would be smaller for `1` than for `-1`, so the
//!   rule is the loss's own (cosine similarity above the point where both losses meet;
//!   `x1 > x2` for a ranking);
//! - triplets with the anchor's class as target (`TripletMarginLoss`): the
//!   1-nearest-neighbour accuracy of the anchors' embeddings on the evaluated split,
//!   each anchor's nearest other anchor (Euclidean) voting its class.
//!
//! [`Task::Compare`]: crate::task::Task::Compare

use candle_core::{DType, Tensor};
use wick_losses::Loss;

/// Correct pair predictions of a batch (see the module doc): `(hits, pairs)`.
pub(crate) fn pair_hits(
    loss: &dyn Loss,
    outputs: &[Tensor],
    target: &Tensor,
) -> Result<(u64, usize), crate::RunError> {
    let n = target.dim(0)?;
    let signs: Vec<f32> = target.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    let mut hits = 0;
    for (i, &y) in signs.iter().enumerate() {
        let rows: Vec<Tensor> = outputs
            .iter()
            .map(|o| o.narrow(0, i, 1))
            .collect::<candle_core::Result<_>>()?;
        let refs: Vec<&Tensor> = rows.iter().collect();
        let at = |sign: f32| -> Result<f32, crate::RunError> {
            let t = Tensor::new(&[sign], target.device())?.to_dtype(outputs[0].dtype())?;
            Ok(loss
                .forward_inputs(&refs, Some(&t))?
                .to_dtype(DType::F32)?
                .to_scalar::<f32>()?)
        };
        let alike = at(1.0)? < at(-1.0)?;
        hits += u64::from(alike == (y > 0.0));
    }
    Ok((hits, n))
}

/// Anchors' embeddings and classes gathered over an evaluation, for the 1-NN accuracy.
#[derive(Default)]
pub(crate) struct Neighbours {
    rows: Vec<f32>,
    dim: usize,
    labels: Vec<u32>,
}

/// Query rows per block of the distance matrix (bounded memory for any split size).
const BLOCK: usize = 256;

impl Neighbours {
    /// Adds a batch: embeddings `[B, …]` and class indices `[B]`.
    pub fn push(&mut self, embedding: &Tensor, classes: &Tensor) -> candle_core::Result<()> {
        let b = embedding.dim(0)?;
        let flat = embedding.to_dtype(DType::F32)?.reshape((b, ()))?;
        self.dim = flat.dim(1)?;
        self.rows.extend(flat.flatten_all()?.to_vec1::<f32>()?);
        self.labels
            .extend(classes.to_dtype(DType::U32)?.to_vec1::<u32>()?);
        Ok(())
    }

    /// `(hits, anchors)`: how many anchors' nearest other anchor has their class.
    pub fn hits(&self) -> candle_core::Result<(u64, usize)> {
        let n = self.labels.len();
        if n < 2 {
            return Ok((0, 0));
        }
        let all = Tensor::from_slice(&self.rows, (n, self.dim), &candle_core::Device::Cpu)?;
        let norms = all.sqr()?.sum_keepdim(1)?;
        let mut hits = 0;
        for start in (0..n).step_by(BLOCK) {
            let len = BLOCK.min(n - start);
            let q = all.narrow(0, start, len)?;
            // ‖q‖² - 2 q·a + ‖a‖², ranked per query row (‖q‖² is the same along a row)
            let d = norms.t()?.broadcast_sub(&(q.matmul(&all.t()?)? * 2.0)?)?;
            let d: Vec<Vec<f32>> = d.to_vec2()?;
            for (r, row) in d.iter().enumerate() {
                let me = start + r;
                let best = row
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != me)
                    .fold(
                        (0, f32::INFINITY),
                        |b, (j, &v)| if v < b.1 { (j, v) } else { b },
                    )
                    .0;
                hits += u64::from(self.labels[best] == self.labels[me]);
            }
        }
        Ok((hits, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn nearest_neighbours_vote_their_class() {
        let d = Device::Cpu;
        let mut nb = Neighbours::default();
        let e = Tensor::new(&[[0f32, 0.], [0.1, 0.], [5., 5.], [5., 5.2], [0., 0.2]], &d).unwrap();
        let y = Tensor::new(&[0u32, 0, 1, 1, 1], &d).unwrap();
        nb.push(&e, &y).unwrap();
        // the last point's neighbour is of class 0
        assert_eq!(nb.hits().unwrap(), (4, 5));
    }

    #[test]
    fn pairs_follow_the_losss_own_rule() {
        let d = Device::Cpu;
        let cfg: wick_losses::LossConfig = toml::from_str("type = \"MarginRankingLoss\"").unwrap();
        let loss = cfg.build().unwrap();
        let x1 = Tensor::new(&[1f32, 0., 3.], &d).unwrap();
        let x2 = Tensor::new(&[0f32, 1., 4.], &d).unwrap();
        let y = Tensor::new(&[1f32, -1., 1.], &d).unwrap();
        assert_eq!(pair_hits(loss.as_ref(), &[x1, x2], &y).unwrap(), (2, 3));
    }
}
