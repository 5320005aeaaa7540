use crate::{BuildCtx, Error, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use wick_tensor::init::InitScheme;

/// Per-parameter `torch.nn.init` schemes of a layer, as an `init` key in its table:
///
/// ```toml
/// { type = "Linear", out_features = 10, init = { weight = { type = "kaiming_normal", mode = "fan_out", nonlinearity = "relu" }, bias = { type = "zeros" } } }
/// ```
///
/// This is the PyTorch program
/// `nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu");
/// nn.init.zeros_(layer.bias)` run after the layer is created. A parameter without a
/// scheme keeps PyTorch's default init. Schemes are listed in
/// [`wick_tensor::init::InitScheme`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamInit {
    /// Scheme for `weight`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<InitScheme>,
    /// Scheme for `bias`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<InitScheme>,
}

impl ParamInit {
    /// Checks the schemes against the parameter shapes (`bias` `None` when the layer has
    /// no bias: a scheme for it is then an error).
    pub fn validate(&self, weight: &[usize], bias: Option<&[usize]>) -> Result<()> {
        if let Some(s) = &self.weight {
            s.validate(weight)
                .map_err(|e| Error::field("init", format!("init.weight: {e}")))?;
        }
        match (&self.bias, bias) {
            (Some(s), Some(shape)) => s
                .validate(shape)
                .map_err(|e| Error::field("init", format!("init.bias: {e}")))?,
            (Some(_), None) => {
                return Err(Error::field(
                    "init",
                    "init.bias is given but the layer has no bias",
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// `default` (PyTorch's init, already drawn), or a fresh tensor from the scheme for
    /// `name` (`"weight"` or `"bias"`).
    pub fn apply(&self, name: &str, default: Tensor, ctx: &mut BuildCtx) -> Result<Tensor> {
        let scheme = match name {
            "weight" => &self.weight,
            _ => &self.bias,
        };
        match scheme {
            None => Ok(default),
            Some(s) => s
                .sample(default.dims(), ctx.dtype, ctx.device, ctx.rng)
                .map_err(|e| Error::field("init", format!("init.{name}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{BuildCtx, LayerConfig, Sequential};
    use candle_core::{DType, Device};
    use wick_tensor::SeedRng;

    fn build(json: &str) -> crate::Result<Sequential> {
        let mut cfgs: Vec<LayerConfig> = serde_json::from_str(json).unwrap();
        let mut rng = SeedRng::new(0);
        let mut ctx = BuildCtx {
            device: &Device::Cpu,
            dtype: DType::F32,
            rng: &mut rng,
        };
        Sequential::new(&[400], &mut cfgs, &mut ctx)
    }

    #[test]
    fn schemes_from_the_layer_table() {
        let m = build(
            r#"[{"type": "Linear", "out_features": 300,
                 "init": {"weight": {"type": "kaiming_normal", "mode": "fan_out",
                                     "nonlinearity": "relu"},
                          "bias": {"type": "constant", "val": 0.5}}},
                {"type": "BatchNorm1d", "init": {"weight": {"type": "uniform", "a": 2, "b": 3}}}]"#,
        )
        .unwrap();
        let p = m.parameters();
        let w: Vec<f32> = p[0].tensor().flatten_all().unwrap().to_vec1().unwrap();
        let n = w.len() as f64;
        let std = (w.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / n).sqrt();
        let want = (2.0f64 / 300.0).sqrt(); // gain √2, fan_out = 300
        assert!((std / want - 1.0).abs() < 0.02, "{std} vs {want}");
        let b: Vec<f32> = p[1].tensor().to_vec1().unwrap();
        assert!(b.iter().all(|&v| v == 0.5));
        let g: Vec<f32> = p[2].tensor().to_vec1().unwrap();
        assert!(g.iter().all(|&v| (2.0..3.0).contains(&v)));
        let bn_bias: Vec<f32> = p[3].tensor().to_vec1().unwrap();
        assert!(bn_bias.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn bad_schemes_are_errors() {
        let e = build(
            r#"[{"type": "Linear", "out_features": 3, "bias": false,
                 "init": {"bias": {"type": "zeros"}}}]"#,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("layer 0 (Linear): init.bias is given but the layer has no bias"),
            "{e}"
        );
        let e =
            build(r#"[{"type": "BatchNorm1d", "init": {"weight": {"type": "xavier_uniform"}}}]"#)
                .err()
                .unwrap()
                .to_string();
        assert!(e.contains("fewer than 2 dimensions"), "{e}");
        let e = serde_json::from_str::<LayerConfig>(
            r#"{"type": "Linear", "out_features": 3, "init": {"weight": {"type": "he"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown variant"), "{e}");
    }
}
