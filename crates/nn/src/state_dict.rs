//! `model.load_state_dict(...)` for any [`Layer`], built-in or a user's: the strict
//! copy PyTorch does, through the trait's `parameters`, `buffers` and `load_buffer`, so
//! that a model of any type (not only a `Sequential`) can be restored from a checkpoint.

use crate::{Error, Layer, Result};
use candle_core::Tensor;
use std::collections::HashMap;

/// The keys that did not match in a `load_state_dict(..., strict=False)`, as PyTorch's
/// `_IncompatibleKeys`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncompatibleKeys {
    /// Parameters and buffers of the model the state dict does not have.
    pub missing_keys: Vec<String>,
    /// Keys of the state dict the model does not have (sorted).
    pub unexpected_keys: Vec<String>,
}

impl IncompatibleKeys {
    /// Whether every key matched.
    pub fn is_empty(&self) -> bool {
        self.missing_keys.is_empty() && self.unexpected_keys.is_empty()
    }
}

impl std::fmt::Display for IncompatibleKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.missing_keys.is_empty() {
            parts.push(format!(
                "Missing key(s) in state_dict: {}.",
                quoted(self.missing_keys.iter().map(String::as_str))
            ));
        }
        if !self.unexpected_keys.is_empty() {
            parts.push(format!(
                "Unexpected key(s) in state_dict: {}.",
                quoted(self.unexpected_keys.iter().map(String::as_str))
            ));
        }
        f.write_str(&parts.join(" "))
    }
}

/// Copies tensors into `layer`'s parameters and buffers by `state_dict` name, as
/// `model.load_state_dict(state_dict)` with `strict=True`: every parameter and buffer
/// must be present with its shape, and no key may be left over. Values are converted
/// to each parameter's dtype and device.
pub fn load_state_dict(layer: &dyn Layer, state: &HashMap<String, Tensor>) -> Result<()> {
    load_state_dict_with(layer, state, true).map(|_| ())
}

/// `model.load_state_dict(state_dict, strict=strict)`: copies every key the model and
/// the state dict share, and returns the keys that did not match. With `strict`, any
/// such key is an error and nothing is copied. A shared key whose shape differs is an
/// error either way, as in PyTorch ("size mismatch for …"), and nothing is copied.
pub fn load_state_dict_with(
    layer: &dyn Layer,
    state: &HashMap<String, Tensor>,
    strict: bool,
) -> Result<IncompatibleKeys> {
    let params = layer.parameters();
    let buffers = layer.buffers();
    let known = |k: &str| params.iter().any(|p| p.name == k) || buffers.iter().any(|(n, _)| n == k);
    let missing_keys: Vec<String> = params
        .iter()
        .map(|p| p.name.clone())
        .chain(buffers.iter().map(|(n, _)| n.clone()))
        .filter(|n| !state.contains_key(n))
        .collect();
    let mut unexpected_keys: Vec<String> = state.keys().filter(|k| !known(k)).cloned().collect();
    unexpected_keys.sort_unstable();
    let report = IncompatibleKeys {
        missing_keys,
        unexpected_keys,
    };
    if strict && !report.is_empty() {
        return Err(Error::shape(report.to_string()));
    }
    for p in &params {
        if let Some(t) = state.get(&p.name) {
            if t.dims() != p.var.dims() {
                return Err(Error::shape(format!(
                    "size mismatch for {}: copying a param with shape {:?}, the shape in the \
                     current model is {:?}",
                    p.name,
                    t.dims(),
                    p.var.dims()
                )));
            }
        }
    }
    for (n, b) in &buffers {
        if let Some(t) = state.get(n) {
            if t.dims() != b.dims() {
                return Err(Error::shape(format!(
                    "size mismatch for {n}: copying a buffer with shape {:?}, the shape in the \
                     current model is {:?}",
                    t.dims(),
                    b.dims()
                )));
            }
        }
    }
    for p in &params {
        if let Some(t) = state.get(&p.name) {
            p.var
                .set(&t.to_dtype(p.var.dtype())?.to_device(p.var.device())?)?;
        }
    }
    for (n, _) in &buffers {
        if let Some(t) = state.get(n) {
            layer.load_buffer(n, t)?;
        }
    }
    Ok(report)
}

/// Restores the random streams' counters saved from [`Layer::rng_counters`].
pub fn set_rng_counters(layer: &dyn Layer, counters: &[(String, u64)]) -> Result<()> {
    for (n, v) in counters {
        layer.set_rng_counter(n, *v)?;
    }
    Ok(())
}

fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
