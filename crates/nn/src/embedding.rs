use crate::{BuildCtx, Error, Layer, Result, Shape};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use wick_tensor::{init, Param, Parameter};

/// Arguments of `torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx=None)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// Size of the vocabulary.
    pub num_embeddings: usize,
    /// Size of each embedding vector.
    pub embedding_dim: usize,
    /// A row that starts at zero and gets no gradient (negative counts from the end;
    /// default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding_idx: Option<i64>,
    /// A `torch.nn.init` scheme for `weight` (default `N(0, 1)`); the padding row is
    /// zeroed after it, as PyTorch's `reset_parameters` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<crate::ParamInit>,
}

impl EmbeddingConfig {
    /// `Embedding(num_embeddings, embedding_dim)`.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Self {
        Self {
            num_embeddings,
            embedding_dim,
            padding_idx: None,
            init: None,
        }
    }

    fn padding(&self) -> Result<Option<usize>> {
        let Some(p) = self.padding_idx else {
            return Ok(None);
        };
        let n = self.num_embeddings as i64;
        if p >= n || p < -n {
            return Err(Error::field(
                "padding_idx",
                format!("Padding_idx must be within num_embeddings (padding_idx = {p}, num_embeddings = {n})"),
            ));
        }
        Ok(Some(if p < 0 { p + n } else { p } as usize))
    }

    /// Input `[*]` of indices, output `[*, embedding_dim]`.
    pub fn infer(&self, input: &[usize]) -> Result<Shape> {
        if self.num_embeddings == 0 || self.embedding_dim == 0 {
            return Err(Error::field(
                "num_embeddings",
                "num_embeddings and embedding_dim must be at least 1",
            ));
        }
        self.padding()?;
        crate::shape::check_param_count(
            "num_embeddings",
            &[self.num_embeddings, self.embedding_dim],
        )?;
        let mut out = input.to_vec();
        out.push(self.embedding_dim);
        Ok(out)
    }

    /// Creates the layer: weight `N(0, 1)`, the padding row zero.
    pub fn init(&self, ctx: &mut BuildCtx) -> Result<Embedding> {
        let pad = self.padding()?;
        let w = init::normal(
            (self.num_embeddings, self.embedding_dim),
            0.0,
            1.0,
            ctx.dtype,
            ctx.device,
            ctx.rng,
        )?;
        let schemes = self.init.clone().unwrap_or_default();
        schemes.validate(&[self.num_embeddings, self.embedding_dim], None)?;
        let mut w = schemes.apply("weight", w, ctx)?;
        if let Some(p) = pad {
            let mut keep = vec![1f32; self.num_embeddings];
            keep[p] = 0.0;
            let keep = Tensor::from_vec(keep, (self.num_embeddings, 1), ctx.device)?
                .to_dtype(ctx.dtype)?;
            w = w.broadcast_mul(&keep)?;
        }
        Ok(Embedding {
            weight: Parameter::new(&w)?,
            padding_idx: pad,
        })
    }
}

/// `torch.nn.Embedding`: row `i` of the weight for each index `i`.
///
/// The gradient of a row is the sum of the upstream gradients of its occurrences, and
/// zero for `padding_idx`, as in PyTorch (the padding row's value is still returned).
///
/// # Shapes
/// input `[*]` of integer indices (any integer dtype, or floats holding integers),
/// output `[*, embedding_dim]`, weight `[num_embeddings, embedding_dim]`.
///
/// # Errors
/// An index outside `0..num_embeddings` ("index out of range in self").
pub struct Embedding {
    weight: Parameter,
    padding_idx: Option<usize>,
}

impl Embedding {
    /// A layer from an existing weight.
    pub fn from_tensor(weight: &Tensor, padding_idx: Option<usize>) -> Result<Self> {
        Ok(Self {
            weight: Parameter::new(weight)?,
            padding_idx,
        })
    }
}

impl Layer for Embedding {
    fn type_name(&self) -> &'static str {
        "Embedding"
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let w = &self.weight.tensor();
        let (n, d) = w.dims2()?;
        let ids = x.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let mut idx = Vec::with_capacity(ids.len());
        for &i in &ids {
            if i.fract() != 0.0 || i < 0.0 || i >= n as f64 {
                return Err(Error::shape(format!(
                    "index out of range in self: index {i} for an Embedding of {n} rows"
                )));
            }
            idx.push(i as u32);
        }
        let t = idx.len();
        let index = Tensor::from_vec(idx.clone(), t, w.device())?;
        let mut rows = w.index_select(&index, 0)?;
        if let Some(p) = self.padding_idx {
            if idx.iter().any(|&i| i as usize == p) {
                // the padding row: its value, without gradient
                let keep: Vec<f32> = idx.iter().map(|&i| f32::from(i as usize != p)).collect();
                let keep = Tensor::from_vec(keep, (t, 1), w.device())?.to_dtype(w.dtype())?;
                let drop = keep.affine(-1.0, 1.0)?;
                rows = rows
                    .broadcast_mul(&keep)?
                    .add(&w.detach().index_select(&index, 0)?.broadcast_mul(&drop)?)?;
            }
        }
        let mut shape = x.dims().to_vec();
        shape.push(d);
        Ok(rows.reshape(shape)?)
    }

    fn parameters(&self) -> Vec<Param> {
        vec![Param::of("weight", &self.weight)]
    }

    fn describe(&self) -> String {
        let (n, d) = self.weight.var().dims2().unwrap_or((0, 0));
        match self.padding_idx {
            Some(p) => format!("Embedding({n}, {d}, padding_idx={p})"),
            None => format!("Embedding({n}, {d})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use wick_tensor::gradcheck::gradcheck;

    #[test]
    fn gradcheck_index_select_with_repeats() {
        let w: Vec<f64> = (0..15).map(|i| i as f64 / 7.0 - 1.0).collect();
        let w = Tensor::from_vec(w, (5, 3), &Device::Cpu).unwrap();
        let idx = Tensor::new(&[3u32, 0, 3, 4, 3], &Device::Cpu).unwrap();
        gradcheck(|v| v[0].index_select(&idx, 0), &[w]).unwrap();
    }

    #[test]
    fn padding_row_gets_no_gradient() {
        let cfg = EmbeddingConfig {
            padding_idx: Some(-1),
            ..EmbeddingConfig::new(4, 2)
        };
        let mut rng = wick_tensor::SeedRng::new(0);
        let mut ctx = BuildCtx {
            device: &Device::Cpu,
            dtype: DType::F32,
            rng: &mut rng,
        };
        let e = cfg.init(&mut ctx).unwrap();
        assert_eq!(e.describe(), "Embedding(4, 2, padding_idx=3)");
        let w: Vec<Vec<f32>> = e.weight.var().as_tensor().to_vec2().unwrap();
        assert_eq!(w[3], vec![0.0, 0.0]);
        e.weight
            .var()
            .set(&Tensor::ones((4, 2), DType::F32, &Device::Cpu).unwrap())
            .unwrap();
        let x = Tensor::new(&[[3i64, 1], [1, 3]], &Device::Cpu).unwrap();
        let y = e.forward(&x, true).unwrap();
        assert_eq!(y.dims(), &[2, 2, 2]);
        // the padding row's value is returned
        assert_eq!(y.sum_all().unwrap().to_scalar::<f32>().unwrap(), 8.0);
        let g = y.sum_all().unwrap().backward().unwrap();
        let g: Vec<Vec<f32>> = g
            .get(e.weight.var().as_tensor())
            .unwrap()
            .to_vec2()
            .unwrap();
        assert_eq!(
            g,
            vec![
                vec![0.0, 0.0],
                vec![2.0, 2.0],
                vec![0.0, 0.0],
                vec![0.0, 0.0]
            ]
        );
        let bad = Tensor::new(&[4i64], &Device::Cpu).unwrap();
        assert!(e
            .forward(&bad, true)
            .unwrap_err()
            .to_string()
            .contains("out of range"));
    }
}
