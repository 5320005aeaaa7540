//! The model table of `wick check` and `summary.txt`, torchinfo-like.

use crate::shape::show_batched;
use crate::Shape;
use std::fmt;

/// One row of a [`Summary`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSummary {
    /// Position in its container.
    pub index: usize,
    /// The module's path, the prefix of its `state_dict` keys (`"3"`, `"3.layers.0"`).
    pub name: String,
    /// Nesting depth (0 for the model's own layers).
    pub depth: usize,
    /// PyTorch class name.
    pub ty: &'static str,
    /// `repr()` of the module (for containers, their class and path).
    pub repr: String,
    /// The names of its inputs when they are not the layer before it (in a graph).
    pub from: Vec<String>,
    /// Per-sample output shape.
    pub output_shape: Shape,
    /// Number of parameters (a container's include its children's).
    pub params: usize,
    /// How many of its parameters train (`requires_grad`).
    pub trainable: usize,
    /// Whether it is a container whose children follow.
    pub container: bool,
}

/// A model table like torchinfo's: one row per layer, then the totals and an estimate
/// of the memory a forward and backward pass takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The inputs' names and per-sample shapes.
    pub inputs: Vec<(String, Shape)>,
    /// One row per layer, nested layers after their container.
    pub rows: Vec<LayerSummary>,
    /// Batch size for the memory estimate (per sample when `None`).
    pub batch_size: Option<usize>,
}

impl Summary {
    /// The same table with memory estimated for batches of `n`.
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n);
        self
    }

    /// Total number of parameters.
    pub fn total_params(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.depth == 0)
            .map(|r| r.params)
            .sum()
    }

    /// Trainable parameters (`requires_grad`).
    pub fn trainable_params(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.depth == 0)
            .map(|r| r.trainable)
            .sum()
    }

    /// Bytes of activations a forward and backward pass keeps per sample (f32): every
    /// non-container layer's output, and its gradient, as torchinfo's "Forward/backward
    /// pass size".
    pub fn activation_bytes_per_sample(&self) -> usize {
        let outputs: usize = self
            .rows
            .iter()
            .filter(|r| !r.container)
            .map(|r| r.output_shape.iter().product::<usize>())
            .sum();
        2 * 4 * outputs
    }
}

/// `575050` → `575,050`.
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn mb(bytes: usize) -> String {
    format!("{:.2}", bytes as f64 / 1e6)
}

impl LayerSummary {
    /// The first column: indented name and `repr()`, and `← a, b` in a graph.
    fn label(&self) -> String {
        let from = if self.from.is_empty() {
            String::new()
        } else {
            format!("  ← {}", self.from.join(", "))
        };
        format!(
            "{}{:<4} {}{from}",
            "  ".repeat(self.depth),
            self.name,
            self.repr
        )
    }
}

impl Summary {
    fn write_rows(&self, f: &mut fmt::Formatter<'_>, layer_w: usize) -> fmt::Result {
        for (name, shape) in &self.inputs {
            let label = match self.inputs.len() {
                1 => "Input".to_string(),
                _ => format!("Input {name}"),
            };
            writeln!(
                f,
                "{label:<layer_w$} {:<24} {:>12} {:>11}",
                show_batched(shape),
                "",
                ""
            )?;
        }
        for r in &self.rows {
            let (count, trains) = match r.params {
                0 => ("--".to_string(), "--"),
                n => (
                    thousands(n),
                    match r.trainable {
                        0 => "False",
                        t if t == n => "True",
                        _ => "Partial",
                    },
                ),
            };
            writeln!(
                f,
                "{:<layer_w$} {:<24} {count:>12} {trains:>11}",
                r.label(),
                show_batched(&r.output_shape),
            )?;
        }
        Ok(())
    }

    fn write_sizes(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.batch_size.unwrap_or(1);
        let input_elems: usize = self
            .inputs
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        let input_bytes = 4 * n * input_elems;
        let act = n * self.activation_bytes_per_sample();
        let params = 4 * self.total_params();
        let per = match self.batch_size {
            Some(n) => format!("batch of {n}"),
            None => "sample".into(),
        };
        writeln!(f, "Input size per {per} (MB): {}", mb(input_bytes))?;
        writeln!(f, "Forward/backward pass size per {per} (MB): {}", mb(act))?;
        writeln!(f, "Params size (MB): {}", mb(params))?;
        write!(
            f,
            "Estimated total size per {per} (MB): {}",
            mb(input_bytes + act + params)
        )
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layer_w = self
            .rows
            .iter()
            .map(|r| r.label().chars().count())
            .chain([20])
            .max()
            .unwrap_or(20);
        let line = "=".repeat(layer_w + 50);
        writeln!(
            f,
            "{:<layer_w$} {:<24} {:>12} {:>11}",
            "Layer (type)", "Output Shape", "Param #", "Trainable"
        )?;
        writeln!(f, "{line}")?;
        self.write_rows(f, layer_w)?;
        writeln!(f, "{line}")?;
        let total = self.total_params();
        let trainable = self.trainable_params();
        writeln!(f, "Total params: {}", thousands(total))?;
        writeln!(f, "Trainable params: {}", thousands(trainable))?;
        writeln!(f, "Non-trainable params: {}", thousands(total - trainable))?;
        writeln!(f, "{line}")?;
        self.write_sizes(f)
    }
}
