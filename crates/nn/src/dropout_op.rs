//! Dropout's `y = x · mask` as a candle custom op whose backward is `g · mask`.
//!
//! With candle's `broadcast_mul` the backward also computes the gradient of the mask (a
//! constant): another product the size of the activation, its zero-filled accumulator
//! and add, and for `Dropout2d` a reduction over the broadcast planes, all thrown away.
//! This op computes the input's gradient only, in one parallel pass. CPU only: on other
//! devices the layer multiplies by the mask with candle ops.

use crate::kernel::{with_floats, Float};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

/// Runs of at least this many elements go to the pool's threads.
const PAR_MIN: usize = 1 << 15;

/// `x · mask`, each mask value covering a run of `per` consecutive elements (`per = 1`
/// for Dropout; the `H·W` plane of a channel for Dropout2d).
#[derive(Clone)]
pub(crate) struct MaskMul {
    mask: Arc<Vec<f32>>,
    per: usize,
}

impl MaskMul {
    /// The op for `mask` over runs of `per` elements.
    pub(crate) fn new(mask: Vec<f32>, per: usize) -> Self {
        Self {
            mask: Arc::new(mask),
            per: per.max(1),
        }
    }

    fn apply<T: Float>(&self, x: &[T]) -> Vec<T> {
        let per = self.per;
        let run = |(out, (x, &m)): (&mut [T], (&[T], &f32))| {
            let m = T::of(f64::from(m));
            for (o, &v) in out.iter_mut().zip(x) {
                *o = v * m;
            }
        };
        let mut out = vec![T::default(); x.len()];
        if x.len() >= PAR_MIN {
            out.par_chunks_mut(per)
                .zip(x.par_chunks(per).zip(self.mask.par_iter()))
                .with_min_len((PAR_MIN / 4 / per).max(1))
                .for_each(run);
        } else {
            out.chunks_mut(per)
                .zip(x.chunks(per).zip(self.mask.iter()))
                .for_each(run);
        }
        out
    }
}

impl CustomOp1 for MaskMul {
    fn name(&self) -> &'static str {
        "wick-dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let n = l.shape().elem_count();
        if n != self.mask.len() * self.per {
            candle_core::bail!(
                "dropout: {n} values for a mask of {} × {}",
                self.mask.len(),
                self.per
            )
        }
        let out = with_floats!("dropout", [(s, l) => x], self.apply(x));
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(self)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The op gives `broadcast_mul`'s values and input gradient, for Dropout and
    /// Dropout2d, large enough to run on the pool's threads.
    #[test]
    fn equals_broadcast_mul() {
        for (shape, mask_shape) in [
            (vec![64usize, 1024], vec![64usize, 1024]),
            (vec![16, 8, 30, 30], vec![16, 8, 1, 1]),
        ] {
            let n: usize = shape.iter().product();
            let m: usize = mask_shape.iter().product();
            let xs: Vec<f32> = (0..n)
                .map(|i| ((i * 7919) % 101) as f32 / 10.0 - 5.0)
                .collect();
            let mask: Vec<f32> = (0..m).map(|i| if i % 3 == 0 { 0.0 } else { 2.0 }).collect();
            let x = Var::from_vec(xs, shape.clone(), &Device::Cpu).unwrap();
            let up = Tensor::rand(0f32, 1.0, shape.clone(), &Device::Cpu).unwrap();
            let run = |fused: bool| {
                let y = if fused {
                    let op = MaskMul::new(mask.clone(), n / m);
                    x.as_tensor().apply_op1(op).unwrap()
                } else {
                    let mt = Tensor::from_vec(mask.clone(), mask_shape.clone(), &Device::Cpu);
                    x.as_tensor().broadcast_mul(&mt.unwrap()).unwrap()
                };
                let g = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
                let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                (v(&y), v(g.get(x.as_tensor()).unwrap()))
            };
            assert_eq!(run(true), run(false), "{shape:?}");
        }
    }
}
