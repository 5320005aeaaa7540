//! What a container does with its named children: their parameters, buffers,
//! `state_dict` entries and random streams under the child's name, and `repr()`.

use crate::layer::split_name;
use crate::{Error, Layer, Result};
use candle_core::Tensor;
use wick_tensor::Param;

/// Parameters of named children, prefixed with the child's name.
pub(crate) fn child_parameters(children: &[(String, &dyn Layer)]) -> Vec<Param> {
    children
        .iter()
        .flat_map(|(n, l)| l.parameters().into_iter().map(move |p| p.prefixed(n)))
        .collect()
}

/// Buffers of named children, prefixed.
pub(crate) fn child_buffers(children: &[(String, &dyn Layer)]) -> Vec<(String, Tensor)> {
    children
        .iter()
        .flat_map(|(n, l)| {
            l.buffers()
                .into_iter()
                .map(move |(b, t)| (format!("{n}.{b}"), t))
        })
        .collect()
}

/// `state_dict()` of named children in module order, prefixed.
pub(crate) fn child_state_dict(children: &[(String, &dyn Layer)]) -> Vec<(String, Tensor)> {
    children
        .iter()
        .flat_map(|(n, l)| {
            l.state_dict()
                .into_iter()
                .map(move |(b, t)| (format!("{n}.{b}"), t))
        })
        .collect()
}

/// Routes `"<child>.<rest>"` to the child.
pub(crate) fn child_load_buffer(
    children: &[(String, &dyn Layer)],
    name: &str,
    value: &Tensor,
) -> Result<()> {
    if let Some((head, rest)) = split_name(name) {
        if let Some((_, l)) = children.iter().find(|(n, _)| n == head) {
            return l.load_buffer(rest, value);
        }
    }
    Err(Error::shape(format!(
        "unexpected key in state_dict: {name:?}"
    )))
}

/// Random-stream counters of named children, prefixed.
pub(crate) fn child_counters(children: &[(String, &dyn Layer)]) -> Vec<(String, u64)> {
    children
        .iter()
        .flat_map(|(n, l)| {
            l.rng_counters()
                .into_iter()
                .map(move |(b, v)| (format!("{n}.{b}"), v))
        })
        .collect()
}

/// Routes a counter to the child.
pub(crate) fn child_set_counter(
    children: &[(String, &dyn Layer)],
    name: &str,
    value: u64,
) -> Result<()> {
    if let Some((head, rest)) = split_name(name) {
        if let Some((_, l)) = children.iter().find(|(n, _)| n == head) {
            return l.set_rng_counter(rest, value);
        }
    }
    Err(Error::shape(format!("no random stream named {name:?}")))
}

/// `repr()` of a container, children indented as PyTorch's `_addindent` does.
pub(crate) fn container_repr(ty: &str, children: &[(String, &dyn Layer)]) -> String {
    let mut s = format!("{ty}(\n");
    for (n, l) in children {
        let child = l.describe().replace('\n', "\n  ");
        s += &format!("  ({n}): {child}\n");
    }
    s + ")"
}
