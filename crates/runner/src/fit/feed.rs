//! How a batch reaches the model: which of the dataset's inputs feeds which model
//! input, and stacks of crops (`FiveCrop`, `TenCrop`) averaged over.
//!
//! A single input with one axis more than a sample of the model's (`[B, n, C, H, W]`
//! for a model of `[C, H, W]`) is a stack of `n` crops per sample: it runs as `B·n`
//! samples and each output is averaged over its sample's crops, as torchvision's docs
//! do after `TenCrop` (`model(x.view(-1, c, h, w)).view(bs, ncrops, -1).mean(1)`).

use candle_core::Tensor;
use wick_data::Batch;
use wick_nn::Layer;

/// The routing of a batch's inputs to a model.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    /// The dataset's input for each model input (empty: as they come).
    pub(crate) order: Vec<usize>,
    /// The rank of one sample of the model's single input, where crops may be stacked.
    pub(crate) sample_rank: Option<usize>,
}

impl Feed {
    /// The inputs of `batch` in the model's order.
    pub(crate) fn inputs(&self, batch: &Batch) -> Vec<Tensor> {
        let all = batch.inputs();
        if self.order.is_empty() {
            return all;
        }
        self.order.iter().map(|&i| all[i].clone()).collect()
    }

    /// The model's outputs on `batch`, averaged over stacked crops.
    pub(crate) fn forward<M: Layer + ?Sized>(
        &self,
        model: &M,
        batch: &Batch,
        train: bool,
    ) -> wick_nn::Result<Vec<Tensor>> {
        let inputs = self.inputs(batch);
        let crops = match (&inputs[..], self.sample_rank) {
            ([x], Some(rank)) if x.rank() == rank + 2 => Some(x.dims()[..2].to_vec()),
            _ => None,
        };
        let Some(bn) = crops else {
            return model.forward_outputs(&inputs, train);
        };
        let x = inputs[0].flatten(0, 1)?;
        let outs = model.forward_outputs(&[x], train)?;
        outs.into_iter()
            .map(|o| {
                let mut shape = bn.clone();
                shape.extend_from_slice(&o.dims()[1..]);
                Ok(o.reshape(shape)?.mean(1)?)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use wick_nn::{Epilogue, Result};

    /// `y = x · 2`, flattened per sample.
    struct Twice;
    impl Layer for Twice {
        fn type_name(&self) -> &'static str {
            "Twice"
        }
        fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
            Ok((x.flatten_from(1)? * 2.0)?)
        }
        fn forward_fused(&self, x: &Tensor, t: bool, e: &[Epilogue]) -> Result<Tensor> {
            Epilogue::apply_all(self.forward(x, t)?, e, t)
        }
        fn describe(&self) -> String {
            "Twice()".into()
        }
    }

    fn batch(x: Tensor) -> Batch {
        let n = x.dim(0).unwrap();
        Batch {
            input: x,
            extra: Vec::new(),
            target: Tensor::zeros(n, DType::U32, &Device::Cpu).unwrap(),
            len: n,
        }
    }

    #[test]
    fn stacked_crops_are_averaged_per_sample() {
        // 2 samples of 3 crops of [1, 1, 2]: crop k of sample b holds b·10 + k
        let v: Vec<f32> = (0..2)
            .flat_map(|b| (0..3).flat_map(move |k| [(b * 10 + k) as f32; 2]))
            .collect();
        let x = Tensor::from_vec(v, (2, 3, 1, 1, 2), &Device::Cpu).unwrap();
        let feed = Feed {
            order: Vec::new(),
            sample_rank: Some(3),
        };
        let out = feed.forward(&Twice, &batch(x.clone()), false).unwrap();
        let got: Vec<Vec<f32>> = out[0].to_vec2().unwrap();
        // mean over k of 2·(b·10 + k) = 2·b·10 + 2
        assert_eq!(got, vec![vec![2.0, 2.0], vec![22.0, 22.0]]);
        // without a sample rank the input goes through as it is
        let plain = Feed::default().forward(&Twice, &batch(x), false).unwrap();
        assert_eq!(plain[0].dims(), &[2, 6]);
    }
}
