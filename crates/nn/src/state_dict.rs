//! `model.load_state_dict(...)` for any [`Layer`], built-in or a user's: the strict
//! copy PyTorch does, through the trait's `parameters`, `buffers` and `load_buffer`, so
//! that a model of any type (not only a `Sequential`) can be restored from a checkpoint.

use crate::{Error, Layer, Result};
use candle_core::Tensor;
use std::collections::HashMap;

/// Copies tensors into `layer`'s parameters and buffers by `state_dict` name, as
/// `model.load_state_dict(state_dict)` with `strict=True`: every parameter and buffer
/// must be present with its shape, and no key may be left over. Values are converted
/// to each parameter's dtype and device.
pub fn load_state_dict(layer: &dyn Layer, state: &HashMap<String, Tensor>) -> Result<()> {
    let params = layer.parameters();
    let buffers = layer.buffers();
    let known = |k: &str| params.iter().any(|p| p.name == k) || buffers.iter().any(|(n, _)| n == k);
    let missing: Vec<&str> = params
        .iter()
        .map(|p| p.name.as_str())
        .chain(buffers.iter().map(|(n, _)| n.as_str()))
        .filter(|n| !state.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        return Err(Error::shape(format!(
            "Missing key(s) in state_dict: {}",
            quoted(missing.into_iter())
        )));
    }
    let mut unexpected: Vec<&str> = state
        .keys()
        .map(String::as_str)
        .filter(|k| !known(k))
        .collect();
    if !unexpected.is_empty() {
        unexpected.sort_unstable();
        return Err(Error::shape(format!(
            "Unexpected key(s) in state_dict: {}",
            quoted(unexpected.into_iter())
        )));
    }
    for p in &params {
        let t = &state[&p.name];
        if t.dims() != p.var.dims() {
            return Err(Error::shape(format!(
                "size mismatch for {}: copying a param with shape {:?}, the shape in the \
                 current model is {:?}",
                p.name,
                t.dims(),
                p.var.dims()
            )));
        }
        p.var
            .set(&t.to_dtype(p.var.dtype())?.to_device(p.var.device())?)?;
    }
    for (n, _) in &buffers {
        layer.load_buffer(n, &state[n])?;
    }
    Ok(())
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
