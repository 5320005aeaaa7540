//! Floats printed as NumPy prints an array (`print(np.array(...))` with the default
//! print options: `precision=8`, `floatmode='maxprec'`, `threshold=1000`,
//! `edgeitems=3`, `linewidth=75`), so that a grid wick computes reads as the course's
//! printed NumPy output: `[[210.   199.34 188.96 ...   1.76   1.74   2.  ]`.
//!
//! Positional notation only: arrays NumPy would print in scientific notation (values
//! at or above 1e8, or spanning more than three orders of magnitude with one below
//! 1e-4) are printed with `{:e}` instead.

/// One value as `np.format_float_positional(v, precision=8, unique=True, trim='.')`:
/// the shortest repr that reads back, rounded to at most 8 decimals, trailing zeros
/// dropped (`2.` for 2.0).
fn positional(v: f64) -> (String, String) {
    if !v.is_finite() {
        let s = if v.is_nan() {
            "nan"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        return (s.to_string(), String::new());
    }
    let mut s = format!("{v}");
    if let Some(dot) = s.find('.') {
        if s.len() - dot - 1 > 8 {
            s = format!("{v:.8}");
        }
    }
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let frac = frac.trim_end_matches('0');
    let int = if int == "-0" && frac.is_empty() {
        "-0"
    } else {
        int
    };
    (int.to_string(), frac.to_string())
}

/// Whether NumPy would switch to scientific notation for these values.
fn scientific(values: &[f64]) -> bool {
    let finite: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v != 0.0)
        .map(f64::abs)
        .collect();
    let (Some(max), Some(min)) = (
        finite.iter().copied().reduce(f64::max),
        finite.iter().copied().reduce(f64::min),
    ) else {
        return false;
    };
    max >= 1e8 || (min < 1e-4 && max / min > 1e3)
}

/// A formatter fitted to `values` (all elements get the same width, as NumPy pads).
struct Format {
    sci: bool,
    left: usize,
    right: usize,
}

impl Format {
    fn new(values: &[f64]) -> Self {
        let sci = scientific(values);
        let parts: Vec<(String, String)> = values.iter().map(|&v| positional(v)).collect();
        Self {
            sci,
            left: parts.iter().map(|p| p.0.len()).max().unwrap_or(0),
            right: parts.iter().map(|p| p.1.len()).max().unwrap_or(0),
        }
    }

    fn fmt(&self, v: f64) -> String {
        if self.sci {
            return format!("{v:e}");
        }
        let (int, frac) = positional(v);
        if !v.is_finite() {
            return format!("{int:>w$}", w = self.left + 1 + self.right);
        }
        format!("{int:>l$}.{frac:<r$}", l = self.left, r = self.right)
    }
}

const EDGE: usize = 3;
const LINE_WIDTH: usize = 75;

/// The indices shown of `n` (all, or the first and last three with `None` between).
fn shown(n: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && n > 2 * EDGE {
        (0..EDGE)
            .map(Some)
            .chain([None])
            .chain((n - EDGE..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    }
}

/// One row's words joined by spaces and wrapped at NumPy's line width, continuation
/// lines indented by `indent`.
fn row(words: &[String], indent: usize, close: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for (k, w) in words.iter().enumerate() {
        let word = if k + 1 == words.len() {
            format!("{w}{close}")
        } else {
            w.clone()
        };
        let sep = if line.trim().is_empty() { "" } else { " " };
        if !line.trim().is_empty() && line.len() + sep.len() + word.len() > LINE_WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
            line.push_str(&word);
        } else {
            line.push_str(sep);
            line.push_str(&word);
        }
    }
    out.push_str(&line);
    out
}

/// `print(grid)` for a 2-D array given as rows.
pub fn matrix(rows: &[Vec<f64>]) -> String {
    let (n, m) = (rows.len(), rows.first().map_or(0, Vec::len));
    let summarize = n * m > 1000;
    let (ri, ci) = (shown(n, summarize), shown(m, summarize));
    let visible: Vec<f64> = ri
        .iter()
        .flatten()
        .flat_map(|&i| ci.iter().flatten().map(move |&j| rows[i][j]))
        .collect();
    let f = Format::new(&visible);
    let mut lines = Vec::new();
    for (k, r) in ri.iter().enumerate() {
        let Some(i) = r else {
            lines.push(" ...".to_string());
            continue;
        };
        let words: Vec<String> = ci
            .iter()
            .map(|c| c.map_or_else(|| "...".to_string(), |j| f.fmt(rows[*i][j])))
            .collect();
        let open = if k == 0 { "[[" } else { " [" };
        let close = if k + 1 == ri.len() { "]]" } else { "]" };
        let mut first = words.clone();
        first[0] = format!("{open}{}", first[0]);
        lines.push(row(&first, 2, close));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_numpy_prints_them() {
        assert_eq!(positional(2.0), ("2".into(), String::new()));
        assert_eq!(positional(199.34), ("199".into(), "34".into()));
        assert_eq!(positional(0.1 + 0.2), ("0".into(), "3".into()));
        assert_eq!(positional(1.0 / 3.0), ("0".into(), "33333333".into()));
        assert_eq!(matrix(&[vec![1.0, 2.5, 10.0]]), "[[ 1.   2.5 10. ]]");
        assert_eq!(
            matrix(&[vec![1.0, 2.0], vec![3.5, 4.0]]),
            "[[1.  2. ]\n [3.5 4. ]]"
        );
    }

    #[test]
    fn long_rows_wrap_at_75_columns() {
        // np.arange(20.).reshape(1, 20) prints on two lines
        let v: Vec<f64> = (0..20).map(f64::from).collect();
        assert_eq!(
            matrix(&[v]),
            "[[ 0.  1.  2.  3.  4.  5.  6.  7.  8.  9. 10. 11. 12. 13. 14. 15. 16. 17.\n  18. 19.]]"
        );
    }
}
