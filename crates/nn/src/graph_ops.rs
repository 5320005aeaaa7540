//! The parameter-free operations of a graph's `forward()`: `torch.add`, `torch.cat`,
//! `x.mean(dim)`, … as nodes `{ op = "cat", dim = 1, from = ["a", "b"] }`.
//!
//! Dimensions are numbered as PyTorch numbers them on the batched tensor (dim 0 is the
//! batch, negative dims count from the end), so `torch.cat([a, b], dim=1)` is
//! `{ op = "cat", dim = 1 }`. An op may not work across the batch dimension. Shapes are
//! inferred per sample, like the layers'.

use crate::shape::show_batched;
use crate::{Epilogue, Error, Result, Shape};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

impl AddConfig {
    /// A following `ReLU` of a sum of two: `relu(a + b)` as one op (a residual
    /// block's end, as [`crate::Residual`] runs it).
    pub fn fuses(&self, next: &[Epilogue]) -> usize {
        usize::from(next.first() == Some(&Epilogue::Relu))
    }

    /// The sum and the epilogue: two inputs and a leading ReLU in one kernel.
    pub fn apply_fused(&self, xs: &[Tensor], epilogue: &[Epilogue], train: bool) -> Result<Tensor> {
        match (xs, Epilogue::leading_relu(epilogue)) {
            ([a, b], (true, rest)) => Epilogue::apply_all(crate::ops::add_relu(a, b)?, rest, train),
            _ => Epilogue::apply_all(self.apply(xs)?, epilogue, train),
        }
    }
}

/// `[-1, 3, 4], [-1, 4]` for messages.
fn shapes(inputs: &[Shape]) -> String {
    inputs
        .iter()
        .map(|s| show_batched(s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks the number of inputs: `min..=max`.
fn arity(op: &str, inputs: &[Shape], min: usize, max: Option<usize>) -> Result<()> {
    let n = inputs.len();
    let ok = n >= min && max.is_none_or(|m| n <= m);
    if ok {
        return Ok(());
    }
    let want = match max {
        Some(m) if m == min => format!("{min}"),
        Some(m) => format!("{min} to {m}"),
        None => format!("at least {min}"),
    };
    Err(Error::field(
        "from",
        format!("`{op}` takes {want} input(s), {n} given"),
    ))
}

/// PyTorch's `dim` on a batched tensor of per-sample rank `rank` (`rank + 1` dims in
/// all) as a dimension of the batched tensor, refusing the batch dimension.
pub(crate) fn batched_dim(op: &str, dim: i64, rank: usize) -> Result<usize> {
    let full = rank as i64 + 1;
    let d = if dim < 0 { dim + full } else { dim };
    if !(0..full).contains(&d) {
        return Err(Error::field(
            "dim",
            format!(
                "`{op}`: dim {dim} is out of range for a batched input of {full} dimensions \
                 (expected -{full} to {})",
                full - 1
            ),
        ));
    }
    if d == 0 {
        return Err(Error::field(
            "dim",
            format!("`{op}`: dim {dim} is the batch dimension; samples are kept apart"),
        ));
    }
    Ok(d as usize)
}

/// The broadcast of per-sample shapes of one rank (each dimension equal, or 1).
fn broadcast(op: &str, inputs: &[Shape]) -> Result<Shape> {
    let mut out = inputs[0].clone();
    for s in &inputs[1..] {
        let clash = || {
            Error::shape(format!(
                "`{op}` cannot broadcast its inputs {} (each dimension must be equal or 1)",
                shapes(inputs)
            ))
        };
        if s.len() != out.len() {
            return Err(clash());
        }
        for (o, &d) in out.iter_mut().zip(s) {
            match (*o, d) {
                (a, b) if a == b => {}
                (1, b) => *o = b,
                (_, 1) => {}
                _ => return Err(clash()),
            }
        }
    }
    Ok(out)
}

/// Declares an elementwise op of two or more inputs, folded left to right.
macro_rules! elementwise {
    ($(#[$doc:meta])* $cfg:ident, $name:literal, $method:ident, $max:expr, $py:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $cfg {}

        impl $cfg {
            /// The broadcast shape of the inputs.
            pub fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
                arity($name, inputs, 2, $max)?;
                broadcast($name, inputs)
            }
            /// Applies the op, left to right.
            pub fn apply(&self, xs: &[Tensor]) -> Result<Tensor> {
                let mut acc = xs[0].clone();
                for x in &xs[1..] {
                    acc = if acc.dims() == x.dims() {
                        acc.$method(x)?
                    } else {
                        paste_broadcast!($method, acc, x)?
                    };
                }
                Ok(acc)
            }
            /// The Python expression.
            pub fn python(&self, args: &[String]) -> String {
                args.join($py)
            }
        }
    };
}

macro_rules! paste_broadcast {
    (add, $a:expr, $b:expr) => {
        $a.broadcast_add($b)
    };
    (sub, $a:expr, $b:expr) => {
        $a.broadcast_sub($b)
    };
    (mul, $a:expr, $b:expr) => {
        $a.broadcast_mul($b)
    };
    (div, $a:expr, $b:expr) => {
        $a.broadcast_div($b)
    };
}

elementwise!(
    /// `a + b + …` (`torch.add`, broadcasting dimensions of size 1).
    AddConfig, "add", add, None, " + "
);
elementwise!(
    /// `a - b` (`torch.sub`).
    SubConfig, "sub", sub, Some(2), " - "
);
elementwise!(
    /// `a * b * …` (`torch.mul`, elementwise).
    MulConfig, "mul", mul, None, " * "
);
elementwise!(
    /// `a / b` (`torch.div`).
    DivConfig, "div", div, Some(2), " / "
);

/// `torch.cat(tensors, dim)`: the inputs joined along `dim`, every other dimension equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatConfig {
    /// The dimension of the batched tensors (1 is the first after the batch).
    pub dim: i64,
}

impl CatConfig {
    /// Sums the sizes along `dim`; the other dimensions must agree.
    pub fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
        arity("cat", inputs, 1, None)?;
        let d = batched_dim("cat", self.dim, inputs[0].len())? - 1;
        let mut out = inputs[0].clone();
        for s in &inputs[1..] {
            let fits = s.len() == out.len()
                && s.iter()
                    .zip(&out)
                    .enumerate()
                    .all(|(i, (a, b))| i == d || a == b);
            if !fits {
                return Err(Error::shape(format!(
                    "`cat` along dim {} needs every other dimension equal; the inputs are {}",
                    self.dim,
                    shapes(inputs)
                )));
            }
            out[d] += s[d];
        }
        Ok(out)
    }
    /// Joins the inputs.
    pub fn apply(&self, xs: &[Tensor]) -> Result<Tensor> {
        let d = batched_dim("cat", self.dim, xs[0].rank() - 1)?;
        Ok(Tensor::cat(xs, d)?)
    }
    /// The Python expression.
    pub fn python(&self, args: &[String]) -> String {
        format!("torch.cat([{}], dim={})", args.join(", "), self.dim)
    }
}

/// `torch.stack(tensors, dim)`: the inputs (all of one shape) along a new dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackConfig {
    /// Where the new dimension goes in the batched result (1 or more).
    pub dim: i64,
}

impl StackConfig {
    /// The common shape with the new dimension inserted.
    pub fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
        arity("stack", inputs, 1, None)?;
        if inputs.iter().any(|s| s != &inputs[0]) {
            return Err(Error::shape(format!(
                "`stack` needs inputs of one shape; they are {}",
                shapes(inputs)
            )));
        }
        let d = batched_dim("stack", self.dim, inputs[0].len() + 1)? - 1;
        let mut out = inputs[0].clone();
        out.insert(d, inputs.len());
        Ok(out)
    }
    /// Stacks the inputs.
    pub fn apply(&self, xs: &[Tensor]) -> Result<Tensor> {
        let d = batched_dim("stack", self.dim, xs[0].rank())?;
        Ok(Tensor::stack(xs, d)?)
    }
    /// The Python expression.
    pub fn python(&self, args: &[String]) -> String {
        format!("torch.stack([{}], dim={})", args.join(", "), self.dim)
    }
}

/// One dimension or several, as PyTorch's `dim` argument of a reduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dims {
    /// One dimension.
    One(i64),
    /// Several.
    Many(Vec<i64>),
}

impl Dims {
    fn list(&self) -> Vec<i64> {
        match self {
            Self::One(d) => vec![*d],
            Self::Many(v) => v.clone(),
        }
    }
    fn python(&self) -> String {
        match self {
            Self::One(d) => d.to_string(),
            Self::Many(v) => {
                let list: Vec<String> = v.iter().map(ToString::to_string).collect();
                let comma = if v.len() == 1 { "," } else { "" };
                format!("({}{comma})", list.join(", "))
            }
        }
    }
}

/// Declares a reduction over `dim` (`x.mean(dim, keepdim)`, `x.sum(dim, keepdim)`).
macro_rules! reduction {
    ($(#[$doc:meta])* $cfg:ident, $name:literal, $keep:ident, $drop:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $cfg {
            /// The dimension(s) reduced, of the batched tensor.
            pub dim: Dims,
            /// Keep the reduced dimensions with size 1 (default false).
            #[serde(default)]
            pub keepdim: bool,
        }

        impl $cfg {
            fn dims(&self, rank: usize) -> Result<Vec<usize>> {
                let mut d = self
                    .dim
                    .list()
                    .into_iter()
                    .map(|d| batched_dim($name, d, rank))
                    .collect::<Result<Vec<_>>>()?;
                d.sort_unstable();
                if d.windows(2).any(|w| w[0] == w[1]) {
                    return Err(Error::field("dim", format!("`{}`: a dimension is listed twice", $name)));
                }
                Ok(d)
            }
            /// The shape without (or with size 1 at) the reduced dimensions.
            pub fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
                arity($name, inputs, 1, Some(1))?;
                let dims = self.dims(inputs[0].len())?;
                let mut out = Vec::new();
                for (i, &s) in inputs[0].iter().enumerate() {
                    if !dims.contains(&(i + 1)) {
                        out.push(s);
                    } else if self.keepdim {
                        out.push(1);
                    }
                }
                Ok(out)
            }
            /// Reduces.
            pub fn apply(&self, xs: &[Tensor]) -> Result<Tensor> {
                let dims = self.dims(xs[0].rank() - 1)?;
                Ok(if self.keepdim {
                    xs[0].$keep(dims)?
                } else {
                    xs[0].$drop(dims)?
                })
            }
            /// The Python expression.
            pub fn python(&self, args: &[String]) -> String {
                format!("{}.{}(dim={}, keepdim={})", args[0], $name, self.dim.python(),
                    crate::layer::py_bool(self.keepdim))
            }
        }
    };
}

reduction!(
    /// `x.mean(dim, keepdim=False)`.
    MeanConfig, "mean", mean_keepdim, mean
);
reduction!(
    /// `x.sum(dim, keepdim=False)`.
    SumConfig, "sum", sum_keepdim, sum
);

fn minus_one() -> i64 {
    -1
}

fn one() -> i64 {
    1
}

/// `torch.flatten(x, start_dim=1, end_dim=-1)` (start_dim 1 by default: the batch stays).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlattenOpConfig {
    /// First dimension flattened (default 1).
    #[serde(default = "one")]
    pub start_dim: i64,
    /// Last dimension flattened (default -1).
    #[serde(default = "minus_one")]
    pub end_dim: i64,
}

impl FlattenOpConfig {
    fn range(&self, rank: usize) -> Result<(usize, usize)> {
        let s = batched_dim("flatten", self.start_dim, rank)?;
        let e = batched_dim("flatten", self.end_dim, rank)?;
        if s > e {
            return Err(Error::field(
                "start_dim",
                "`flatten`: start_dim comes after end_dim",
            ));
        }
        Ok((s, e))
    }
    /// The shape with `start_dim..=end_dim` multiplied into one.
    pub fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
        arity("flatten", inputs, 1, Some(1))?;
        let (s, e) = self.range(inputs[0].len())?;
        let x = &inputs[0];
        let mut out = x[..s - 1].to_vec();
        out.push(x[s - 1..e].iter().product());
        out.extend_from_slice(&x[e..]);
        Ok(out)
    }
    /// Flattens.
    pub fn apply(&self, xs: &[Tensor]) -> Result<Tensor> {
        let (s, e) = self.range(xs[0].rank() - 1)?;
        Ok(xs[0].flatten(s, e)?)
    }
    /// The Python expression.
    pub fn python(&self, args: &[String]) -> String {
        format!(
            "torch.flatten({}, {}, {})",
            args[0], self.start_dim, self.end_dim
        )
    }
}

/// `torch.matmul(a, b)` on batches of matrices: `[*, n, k] @ [*, k, m] → [*, n, m]`
/// per sample (leading dimensions equal). For a dot product of vectors use `mul` then
/// `sum`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatmulConfig {}

impl MatmulConfig {
    /// `[*, n, m]`.
    pub fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
        arity("matmul", inputs, 2, Some(2))?;
        let (a, b) = (&inputs[0], &inputs[1]);
        let fits = a.len() >= 2
            && a.len() == b.len()
            && a[..a.len() - 2] == b[..b.len() - 2]
            && a[a.len() - 1] == b[b.len() - 2];
        if !fits {
            return Err(Error::shape(format!(
                "`matmul` multiplies per-sample matrices [*, n, k] and [*, k, m]; the inputs \
                 are {} (for vectors use `mul` then `sum`)",
                shapes(inputs)
            )));
        }
        let mut out = a.clone();
        let last = out.len() - 1;
        out[last] = b[b.len() - 1];
        Ok(out)
    }
    /// Multiplies.
    pub fn apply(&self, xs: &[Tensor]) -> Result<Tensor> {
        Ok(xs[0].contiguous()?.matmul(&xs[1].contiguous()?)?)
    }
    /// The Python expression.
    pub fn python(&self, args: &[String]) -> String {
        format!("torch.matmul({}, {})", args[0], args[1])
    }
}

/// Checks a position `index` (negative from the end) along a dimension of `size`.
fn position(op: &str, field: &'static str, index: i64, size: usize) -> Result<usize> {
    let i = if index < 0 {
        index + size as i64
    } else {
        index
    };
    if !(0..size as i64).contains(&i) {
        return Err(Error::field(
            field,
            format!("`{op}`: {field} {index} is out of range for a dimension of size {size}"),
        ));
    }
    Ok(i as usize)
}

/// `x.select(dim, index)` (`x[:, index]` for dim 1): one position, the dimension dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectConfig {
    /// The dimension of the batched tensor.
    pub dim: i64,
    /// The position (negative from the end).
    pub index: i64,
}

impl SelectConfig {
    /// The shape without `dim`.
    pub fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
        arity("select", inputs, 1, Some(1))?;
        let d = batched_dim("select", self.dim, inputs[0].len())? - 1;
        position("select", "index", self.index, inputs[0][d])?;
        let mut out = inputs[0].clone();
        out.remove(d);
        Ok(out)
    }
    /// Selects.
    pub fn apply(&self, xs: &[Tensor]) -> Result<Tensor> {
        let d = batched_dim("select", self.dim, xs[0].rank() - 1)?;
        let i = position("select", "index", self.index, xs[0].dim(d)?)?;
        Ok(xs[0].narrow(d, i, 1)?.squeeze(d)?.contiguous()?)
    }
    /// The Python expression.
    pub fn python(&self, args: &[String]) -> String {
        format!("{}.select({}, {})", args[0], self.dim, self.index)
    }
}

/// `x.narrow(dim, start, length)`: `length` positions from `start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NarrowConfig {
    /// The dimension of the batched tensor.
    pub dim: i64,
    /// The first position (negative from the end).
    pub start: i64,
    /// How many positions.
    pub length: usize,
}

impl NarrowConfig {
    fn bounds(&self, size: usize) -> Result<usize> {
        let s = position("narrow", "start", self.start, size)?;
        if s + self.length > size {
            return Err(Error::field(
                "length",
                format!(
                    "`narrow`: start {s} + length {} is past the end of a dimension of size {size}",
                    self.length
                ),
            ));
        }
        Ok(s)
    }
    /// The shape with `dim` of size `length`.
    pub fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
        arity("narrow", inputs, 1, Some(1))?;
        let d = batched_dim("narrow", self.dim, inputs[0].len())? - 1;
        self.bounds(inputs[0][d])?;
        let mut out = inputs[0].clone();
        out[d] = self.length;
        Ok(out)
    }
    /// Narrows.
    pub fn apply(&self, xs: &[Tensor]) -> Result<Tensor> {
        let d = batched_dim("narrow", self.dim, xs[0].rank() - 1)?;
        let s = self.bounds(xs[0].dim(d)?)?;
        Ok(xs[0].narrow(d, s, self.length)?.contiguous()?)
    }
    /// The Python expression.
    pub fn python(&self, args: &[String]) -> String {
        format!(
            "{}.narrow({}, {}, {})",
            args[0], self.dim, self.start, self.length
        )
    }
}

/// `x.transpose(dim0, dim1)`: two dimensions swapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransposeConfig {
    /// One dimension of the batched tensor.
    pub dim0: i64,
    /// The other.
    pub dim1: i64,
}

impl TransposeConfig {
    fn dims(&self, rank: usize) -> Result<(usize, usize)> {
        Ok((
            batched_dim("transpose", self.dim0, rank)?,
            batched_dim("transpose", self.dim1, rank)?,
        ))
    }
    /// The shape with the two dimensions swapped.
    pub fn infer(&mut self, inputs: &[Shape]) -> Result<Shape> {
        arity("transpose", inputs, 1, Some(1))?;
        let (a, b) = self.dims(inputs[0].len())?;
        let mut out = inputs[0].clone();
        out.swap(a - 1, b - 1);
        Ok(out)
    }
    /// Transposes (into a contiguous tensor).
    pub fn apply(&self, xs: &[Tensor]) -> Result<Tensor> {
        let (a, b) = self.dims(xs[0].rank() - 1)?;
        Ok(xs[0].transpose(a, b)?.contiguous()?)
    }
    /// The Python expression.
    pub fn python(&self, args: &[String]) -> String {
        format!("{}.transpose({}, {})", args[0], self.dim0, self.dim1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_inferred_per_sample_with_pytorch_dims() {
        let s = |v: &[usize]| v.to_vec();
        assert_eq!(
            CatConfig { dim: 1 }
                .infer(&[s(&[3, 4]), s(&[5, 4])])
                .unwrap(),
            s(&[8, 4])
        );
        assert_eq!(
            CatConfig { dim: -1 }
                .infer(&[s(&[3, 4]), s(&[3, 2])])
                .unwrap(),
            s(&[3, 6])
        );
        assert!(CatConfig { dim: 0 }.infer(&[s(&[3])]).is_err());
        assert!(CatConfig { dim: 1 }
            .infer(&[s(&[3, 4]), s(&[3, 5])])
            .is_err());
        assert_eq!(
            StackConfig { dim: 1 }
                .infer(&[s(&[4]), s(&[4]), s(&[4])])
                .unwrap(),
            s(&[3, 4])
        );
        assert_eq!(
            AddConfig {}.infer(&[s(&[3, 1]), s(&[3, 4])]).unwrap(),
            s(&[3, 4])
        );
        assert!(AddConfig {}.infer(&[s(&[3, 2]), s(&[3, 4])]).is_err());
        assert!(AddConfig {}.infer(&[s(&[3])]).is_err());
        let mut m = MeanConfig {
            dim: Dims::Many(vec![2, 3]),
            keepdim: false,
        };
        assert_eq!(m.infer(&[s(&[8, 5, 5])]).unwrap(), s(&[8]));
        m.keepdim = true;
        assert_eq!(m.infer(&[s(&[8, 5, 5])]).unwrap(), s(&[8, 1, 1]));
        assert_eq!(
            MatmulConfig {}.infer(&[s(&[2, 3]), s(&[3, 5])]).unwrap(),
            s(&[2, 5])
        );
        assert!(MatmulConfig {}.infer(&[s(&[3]), s(&[3])]).is_err());
        let mut f = FlattenOpConfig {
            start_dim: 1,
            end_dim: -1,
        };
        assert_eq!(f.infer(&[s(&[2, 3, 4])]).unwrap(), s(&[24]));
        f.start_dim = 2;
        assert_eq!(f.infer(&[s(&[2, 3, 4])]).unwrap(), s(&[2, 12]));
        let mut n = NarrowConfig {
            dim: 1,
            start: -2,
            length: 2,
        };
        assert_eq!(n.infer(&[s(&[5, 3])]).unwrap(), s(&[2, 3]));
        n.length = 3;
        assert!(n.infer(&[s(&[5, 3])]).is_err());
        assert_eq!(
            SelectConfig { dim: 2, index: -1 }
                .infer(&[s(&[5, 3])])
                .unwrap(),
            s(&[5])
        );
        assert_eq!(
            TransposeConfig { dim0: 1, dim1: 2 }
                .infer(&[s(&[5, 3])])
                .unwrap(),
            s(&[3, 5])
        );
    }
}
