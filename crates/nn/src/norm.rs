//! Pieces shared by the normalization layers: batch statistics composed from candle ops
//! whose gradients are checked (candle's fused norms have none), running statistics
//! behind a lock, and the `momentum = "None"` spelling.

use crate::layer::Buffer;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use std::sync::atomic::{AtomicI64, Ordering};

/// Mean and biased variance of `x` over `dims` (kept), and `x` normalized by them:
/// `(x − mean) / √(var + eps)`.
pub(crate) fn normalize(x: &Tensor, dims: &[usize], eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
    let mean = x.mean_keepdim(dims)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(dims)?;
    let xhat = xc.broadcast_mul(&(var.affine(1.0, eps)?.sqrt()?.recip()?))?;
    Ok((xhat, mean, var))
}

/// `x·w + b` with `w`, `b` of shape `[C]` broadcast along dimension 1 of `x`.
pub(crate) fn channel_affine(x: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>) -> Result<Tensor> {
    let shape = |t: &Tensor| -> Result<Tensor> {
        let mut s = vec![1usize; x.rank()];
        s[1] = t.elem_count();
        Ok(t.reshape(s)?)
    };
    let mut y = x.clone();
    if let Some(w) = w {
        y = y.broadcast_mul(&shape(w)?)?;
    }
    if let Some(b) = b {
        y = y.broadcast_add(&shape(b)?)?;
    }
    Ok(y)
}

/// `weight = ones`, `bias = zeros` of shape `shape`, as `reset_parameters` of the norms.
pub(crate) fn ones_zeros(shape: &[usize], dtype: DType, device: &Device) -> Result<(Var, Var)> {
    Ok((
        Var::ones(shape, dtype, device)?,
        Var::zeros(shape, dtype, device)?,
    ))
}

/// `running_mean` (zeros), `running_var` (ones) and `num_batches_tracked` (int64 0).
#[derive(Debug)]
pub(crate) struct RunningStats {
    pub(crate) mean: Buffer,
    pub(crate) var: Buffer,
    pub(crate) count: Buffer,
    /// `num_batches_tracked` on the host, so that counting a batch does not read the
    /// device buffer back (a device sync per layer and batch on a GPU).
    tracked: AtomicI64,
}

impl RunningStats {
    pub(crate) fn new(c: usize, dtype: DType, device: &Device) -> Result<Self> {
        Ok(Self {
            mean: Buffer::new(Tensor::zeros(c, dtype, device)?),
            var: Buffer::new(Tensor::ones(c, dtype, device)?),
            count: Buffer::new(Tensor::new(0i64, device)?),
            tracked: AtomicI64::new(0),
        })
    }

    pub(crate) fn buffers(&self) -> Vec<(String, Tensor)> {
        vec![
            ("running_mean".into(), self.mean.get()),
            ("running_var".into(), self.var.get()),
            ("num_batches_tracked".into(), self.count.get()),
        ]
    }

    pub(crate) fn load(&self, name: &str, value: &Tensor) -> Result<()> {
        match name {
            "running_mean" => self.mean.load(name, value),
            "running_var" => self.var.load(name, value),
            "num_batches_tracked" => {
                self.count.load(name, value)?;
                let n = self.count.get().to_dtype(DType::I64)?.to_scalar::<i64>()?;
                self.tracked.store(n, Ordering::Relaxed);
                Ok(())
            }
            _ => Err(Error::shape(format!(
                "unexpected key in state_dict: {name:?}"
            ))),
        }
    }

    /// `num_batches_tracked += 1`; returns the new count.
    pub(crate) fn bump(&self) -> Result<i64> {
        let n = self.tracked.fetch_add(1, Ordering::Relaxed) + 1;
        let c = self.count.get();
        self.count.set(Tensor::new(n, c.device())?);
        Ok(n)
    }

    /// `running = (1 − m)·running + m·batch` for mean and (unbiased) variance, without
    /// gradient.
    pub(crate) fn update(&self, m: f64, mean: &Tensor, var_unbiased: &Tensor) -> Result<()> {
        for (buf, new) in [(&self.mean, mean), (&self.var, var_unbiased)] {
            let cur = buf.get();
            let new = new.detach().flatten_all()?.to_dtype(cur.dtype())?;
            buf.set(((cur.affine(1.0 - m, 0.0)?) + new.affine(m, 0.0)?)?.detach());
        }
        Ok(())
    }

    /// The running mean and variance, shaped `[1, C, 1…]` for an input of rank `rank`.
    pub(crate) fn shaped(&self, rank: usize) -> Result<(Tensor, Tensor)> {
        let mut s = vec![1usize; rank];
        let m = self.mean.get();
        s[1] = m.elem_count();
        Ok((m.reshape(s.clone())?, self.var.get().reshape(s)?))
    }
}

/// `momentum` as written in a file: a number, or `"None"` for PyTorch's `momentum=None`
/// (a cumulative moving average).
pub(crate) mod momentum {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Num(f64),
        Word(String),
    }

    pub(crate) fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(m) => s.serialize_f64(*m),
            None => s.serialize_str("None"),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Num(m) => Ok(Some(m)),
            Repr::Word(w) if w == "None" || w == "none" => Ok(None),
            Repr::Word(w) => Err(serde::de::Error::custom(format!(
                "invalid momentum {w:?}: expected a number or \"None\""
            ))),
        }
    }
}

/// `Some(0.1)`.
pub(crate) fn default_momentum() -> Option<f64> {
    Some(0.1)
}

/// Checks `eps > 0` and `0 ≤ momentum ≤ 1`.
pub(crate) fn check_eps_momentum(eps: f64, momentum: Option<f64>) -> Result<()> {
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(Error::field(
            "eps",
            format!("Invalid eps: {eps} (expected eps > 0)"),
        ));
    }
    if let Some(m) = momentum {
        if !(0.0..=1.0).contains(&m) {
            return Err(Error::field(
                "momentum",
                format!("Invalid momentum: {m} (expected 0 <= momentum <= 1, or \"None\")"),
            ));
        }
    }
    Ok(())
}

/// Fills or checks `num_features`/`num_channels` against the channels `c` of the input.
pub(crate) fn infer_channels(
    field: &'static str,
    given: &mut Option<usize>,
    c: usize,
    input: &[usize],
) -> Result<()> {
    match *given {
        Some(n) if n != c => Err(Error::field(
            field,
            format!(
                "{field} = {n}, but the input to this layer has shape {} ({c} channels); set \
                 {field} = {c} or leave it out",
                crate::shape::show_batched(input)
            ),
        )),
        _ => {
            *given = Some(c);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wick_tensor::gradcheck::gradcheck;

    #[test]
    fn gradcheck_normalize_and_affine() {
        let x: Vec<f64> = (0..2 * 3 * 5)
            .map(|i| ((i * 37) % 17) as f64 / 8.0 - 1.0)
            .collect();
        let x = Tensor::from_vec(x, (2, 3, 5), &Device::Cpu).unwrap();
        for dims in [&[0usize, 2][..], &[2], &[1, 2]] {
            gradcheck(
                |v| {
                    Ok(normalize(&v[0], dims, 1e-5)
                        .map_err(candle_core::Error::wrap)?
                        .0)
                },
                std::slice::from_ref(&x),
            )
            .unwrap();
        }
        let w = Tensor::new(&[0.5f64, -1.0, 2.0], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0.1f64, 0.2, -0.3], &Device::Cpu).unwrap();
        gradcheck(
            |v| channel_affine(&v[0], Some(&v[1]), Some(&v[2])).map_err(candle_core::Error::wrap),
            &[x, w, b],
        )
        .unwrap();
    }
}
