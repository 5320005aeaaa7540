use super::tensor_dataset::{Labels, TensorDataset};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A number or a nested list of numbers, as written inline in TOML (`[[1.0], [2.0]]`).
/// Integers and floats are told apart, as `torch.tensor` tells them apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Nested {
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A list.
    List(Vec<Nested>),
}

/// A rectangular array read from a [`Nested`] value.
#[derive(Debug, Clone, PartialEq)]
pub struct Flat {
    /// The full shape, `[N, …]`.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f64>,
    /// Whether every value was written as an integer.
    pub all_int: bool,
}

impl Nested {
    /// Flattens into a rectangular array, or says (naming `field` and the position)
    /// where a row has the wrong length.
    pub fn flatten(&self, field: &'static str) -> Result<Flat> {
        let mut shape = Vec::new();
        let mut probe = self;
        while let Self::List(l) = probe {
            shape.push(l.len());
            match l.first() {
                Some(first) => probe = first,
                None => break,
            }
        }
        let mut out = Flat {
            shape,
            data: Vec::new(),
            all_int: true,
        };
        self.walk(field, 0, &mut String::from(field), &mut out)?;
        Ok(out)
    }

    fn walk(
        &self,
        field: &'static str,
        depth: usize,
        at: &mut String,
        out: &mut Flat,
    ) -> Result<()> {
        match self {
            Self::Int(i) if depth == out.shape.len() => out.data.push(*i as f64),
            Self::Float(f) if depth == out.shape.len() => {
                out.all_int = false;
                out.data.push(*f)
            }
            Self::List(l) if depth < out.shape.len() && l.len() == out.shape[depth] => {
                for (i, v) in l.iter().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("[{i}]"));
                    v.walk(field, depth + 1, at, out)?;
                    at.truncate(len);
                }
            }
            _ => {
                let what = match self {
                    Self::List(l) => format!("a list of {}", l.len()),
                    _ => "a number".into(),
                };
                let want = match out.shape.get(depth) {
                    Some(n) => format!("a list of {n}"),
                    None => "a number".into(),
                };
                return Err(Error::config(
                    field,
                    format!(
                        "{at} is {what}, but {want} is expected: nested lists must be \
                         rectangular (shape {:?})",
                        out.shape
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// `Tensors`: a dataset given inline, as `TensorDataset(torch.tensor(x),
/// torch.tensor(y))` — the course's tiny regression sets:
/// `{ type = "Tensors", x = [[1.0], [2.0], [3.0]], y = [[2.0], [4.0], [6.0]] }`.
///
/// `x` is `[N, …]` (any numbers, as f32). `y` is `[N, …]`: written as integers in a
/// flat list (`y = [0, 1, 1]`) it holds class indices (`torch.tensor` gives int64,
/// what `CrossEntropyLoss` takes); otherwise float values of shape `y.shape[1:]`
/// (`y = [[2.0], [4.0]]` gives targets of shape `[1]`, `y = [2.0, 4.0]` scalars `[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorsConfig {
    /// Inputs, `[N, …]`.
    pub x: Nested,
    /// Targets, `[N]` class indices or `[N, …]` floats.
    pub y: Nested,
}

impl TensorsConfig {
    /// Checks the shapes and builds the dataset.
    pub fn build(&self) -> Result<TensorDataset> {
        let x = self.x.flatten("x")?;
        let y = self.y.flatten("y")?;
        if x.shape.is_empty() {
            return Err(Error::config(
                "x",
                "x must be a list of samples, not a number",
            ));
        }
        if y.shape.is_empty() {
            return Err(Error::config(
                "y",
                "y must be a list of targets, not a number",
            ));
        }
        if x.shape[0] != y.shape[0] {
            return Err(Error::config(
                "y",
                format!(
                    "Size mismatch between tensors: x has {} samples (shape {:?}) but y has {} \
                     (shape {:?})",
                    x.shape[0], x.shape, y.shape[0], y.shape
                ),
            ));
        }
        if x.shape[0] == 0 {
            return Err(Error::config("x", "x and y hold no samples"));
        }
        let labels = if y.all_int && y.shape.len() == 1 {
            let classes = y
                .data
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if v < 0.0 || v > f64::from(u32::MAX) {
                        Err(Error::config(
                            "y",
                            format!("y[{i}] = {v} is not a class index (expected >= 0)"),
                        ))
                    } else {
                        Ok(v as u32)
                    }
                })
                .collect::<Result<_>>()?;
            Labels::Class(classes)
        } else {
            Labels::Values {
                shape: y.shape[1..].to_vec(),
                data: y.data.iter().map(|&v| v as f32).collect(),
            }
        };
        TensorDataset::new(
            x.data.iter().map(|&v| v as f32).collect(),
            if x.shape.len() == 1 {
                Vec::new()
            } else {
                x.shape[1..].to_vec()
            },
            labels,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dataset, Target};

    fn parse(s: &str) -> TensorsConfig {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn regression_set_from_toml() {
        let ds = parse("x = [[1.0], [2.0], [3.0]]\ny = [[2.0], [4.0], [6.0]]")
            .build()
            .unwrap();
        assert_eq!(ds.len(), 3);
        let s = ds.get(2).unwrap();
        assert_eq!(s.input.shape(), vec![1]);
        assert_eq!(s.target, Target::scalar(6.0));
    }

    #[test]
    fn integer_labels_are_classes() {
        let ds = parse("x = [[0, 0], [1, 1]]\ny = [0, 1]").build().unwrap();
        assert_eq!(ds.get(1).unwrap().target, Target::Class(1));
        let ds = parse("x = [[0, 0], [1, 1]]\ny = [0.0, 1.5]")
            .build()
            .unwrap();
        assert_eq!(ds.get(1).unwrap().target.shape(), Vec::<usize>::new());
    }

    #[test]
    fn shape_errors() {
        let e = parse("x = [[1.0], [2.0, 3.0]]\ny = [1.0, 2.0]")
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x[1] is a list of 2, but a list of 1 is expected"),
            "{e}"
        );
        let e = parse("x = [[1.0], [2.0]]\ny = [1.0, 2.0, 3.0]")
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x has 2 samples (shape [2, 1]) but y has 3"),
            "{e}"
        );
        let e = parse("x = [[1.0], 2.0]\ny = [1.0, 2.0]")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("x[1] is a number, but a list of 1"), "{e}");
        assert!(parse("x = [[1.0]]\ny = [-1]").build().is_err());
    }
}
