//! The columns of a hub dataset's parquet files that make samples: images (kept
//! encoded), numeric features, and labels, with the class names `datasets` writes in
//! the files' `huggingface` metadata.

use super::HuggingFaceConfig;
use crate::{Error, Result};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;
use std::path::PathBuf;
use std::sync::Arc;

/// The inputs of every row.
pub(crate) enum Inputs {
    /// Encoded images (PNG, JPEG, …), decoded when a sample is read.
    Images(Vec<Vec<u8>>),
    /// `width` floats a row, row after row.
    Features {
        /// Floats per row.
        width: usize,
        /// The values.
        data: Vec<f32>,
    },
}

/// The targets of every row.
pub(crate) enum Labels {
    /// Class indices.
    Classes(Vec<u32>),
    /// One float a row.
    Values(Vec<f32>),
}

/// The rows of a split's files, in file order.
pub(crate) struct Table {
    pub inputs: Inputs,
    pub labels: Labels,
    /// Class names (`ClassLabel` names, or the sorted values of a string column).
    pub classes: Vec<String>,
    /// Each file's name in the repository and its first row.
    pub starts: Vec<(String, usize)>,
}

/// A label as stored.
enum Raw {
    Int(i64),
    Float(f64),
    Str(String),
}

/// Reads the columns `cfg` names from `files` (repository name, local path).
///
/// # Errors
/// [`Error::Corrupt`] for a file that is not parquet, a missing column (the message
/// lists the columns there are), or a value of the wrong kind, naming the file and
/// row.
pub(crate) fn read(files: &[(String, PathBuf)], cfg: &HuggingFaceConfig) -> Result<Table> {
    let mut inputs = match &cfg.feature_columns {
        None => Inputs::Images(Vec::new()),
        Some(_) => Inputs::Features {
            width: 0,
            data: Vec::new(),
        },
    };
    let mut raw = Vec::new();
    let mut class_names: Option<Vec<String>> = None;
    let mut starts = Vec::new();
    for (name, path) in files {
        starts.push((name.clone(), raw.len()));
        let corrupt = |message: String| Error::Corrupt {
            path: path.clone(),
            message,
        };
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let reader = SerializedFileReader::new(file)
            .map_err(|e| corrupt(format!("not a readable parquet file: {e}")))?;
        if class_names.is_none() {
            class_names = class_label_names(&reader, &cfg.label_column);
        }
        let wanted: Vec<&str> = match &cfg.feature_columns {
            None => vec![cfg.image_column.as_str(), cfg.label_column.as_str()],
            Some(f) => f
                .iter()
                .map(String::as_str)
                .chain([cfg.label_column.as_str()])
                .collect(),
        };
        let projection = project(&reader, &wanted, cfg).map_err(&corrupt)?;
        let rows = reader
            .get_row_iter(Some(projection))
            .map_err(|e| corrupt(e.to_string()))?;
        for (i, row) in rows.enumerate() {
            let at = |m: String| corrupt(format!("row {i}: {m}"));
            let row = row.map_err(|e| at(e.to_string()))?;
            let get = |col: &str| {
                row.get_column_iter()
                    .find(|(n, _)| n.as_str() == col)
                    .map(|(_, f)| f)
                    .ok_or_else(|| at(format!("no column {col:?}")))
            };
            raw.push(
                label(get(&cfg.label_column)?)
                    .map_err(|m| at(format!("{:?} {m}", cfg.label_column)))?,
            );
            match &mut inputs {
                Inputs::Images(images) => images.push(
                    image_bytes(get(&cfg.image_column)?)
                        .map_err(|m| at(format!("{:?} {m}", cfg.image_column)))?,
                ),
                Inputs::Features { width, data } => {
                    let before = data.len();
                    for c in cfg.feature_columns.iter().flatten() {
                        numbers(get(c)?, data).map_err(|m| at(format!("{c:?} {m}")))?;
                    }
                    let n = data.len() - before;
                    if raw.len() == 1 {
                        *width = n;
                    } else if n != *width {
                        return Err(at(format!(
                            "{n} feature values, but the first row has {width}"
                        )));
                    }
                }
            }
        }
    }
    let (labels, classes) = labels(raw, class_names, &starts, files)?;
    Ok(Table {
        inputs,
        labels,
        classes,
        starts,
    })
}

/// The schema of the top-level columns `wanted`, in the file's order.
fn project(
    reader: &SerializedFileReader<std::fs::File>,
    wanted: &[&str],
    cfg: &HuggingFaceConfig,
) -> Result<Type, String> {
    let schema = reader.metadata().file_metadata().schema();
    let fields = schema.get_fields();
    let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
    for w in wanted {
        if !names.contains(w) {
            let which = if *w == cfg.label_column {
                "label_column"
            } else if cfg.feature_columns.is_some() {
                "feature_columns"
            } else {
                "image_column"
            };
            return Err(format!(
                "no column {w:?} ({which}); its columns: {}",
                names.join(", ")
            ));
        }
    }
    let keep: Vec<Arc<Type>> = fields
        .iter()
        .filter(|f| wanted.contains(&f.name()))
        .cloned()
        .collect();
    Type::group_type_builder(schema.name())
        .with_fields(keep)
        .build()
        .map_err(|e| e.to_string())
}

/// The `ClassLabel` names of `column` from the `huggingface` metadata `datasets`
/// writes: `{"info": {"features": {"label": {"names": [...], "_type": "ClassLabel"}}}}`.
fn class_label_names(
    reader: &SerializedFileReader<std::fs::File>,
    column: &str,
) -> Option<Vec<String>> {
    let kv = reader.metadata().file_metadata().key_value_metadata()?;
    let json = kv.iter().find(|k| k.key == "huggingface")?.value.as_ref()?;
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let f = v.get("info")?.get("features")?.get(column)?;
    if f.get("_type")?.as_str()? != "ClassLabel" {
        return None;
    }
    f.get("names")?
        .as_array()?
        .iter()
        .map(|n| n.as_str().map(String::from))
        .collect()
}

/// The encoded bytes of an image cell: a struct `{bytes, path}` or plain bytes.
fn image_bytes(f: &Field) -> Result<Vec<u8>, String> {
    match f {
        Field::Bytes(b) => Ok(b.data().to_vec()),
        Field::Group(g) => {
            let mut path = None;
            for (n, v) in g.get_column_iter() {
                match (n.as_str(), v) {
                    ("bytes", Field::Bytes(b)) => return Ok(b.data().to_vec()),
                    ("path", Field::Str(p)) => path = Some(p.clone()),
                    _ => {}
                }
            }
            Err(match path {
                Some(p) => format!(
                    "holds no image bytes, only a file path ({p}), which wick does not read"
                ),
                None => "is a struct without `bytes`".into(),
            })
        }
        Field::Null => Err("is null".into()),
        other => Err(format!("is not an image but {}", kind(other))),
    }
}

/// Appends a number, or the numbers of a (nested) list, to `out`.
fn numbers(f: &Field, out: &mut Vec<f32>) -> Result<(), String> {
    if let Some(x) = number(f) {
        out.push(x as f32);
        return Ok(());
    }
    match f {
        Field::ListInternal(l) => l.elements().iter().try_for_each(|e| numbers(e, out)),
        Field::Null => Err("is null".into()),
        other => Err(format!("is not a number but {}", kind(other))),
    }
}

fn number(f: &Field) -> Option<f64> {
    Some(match f {
        Field::Bool(b) => f64::from(u8::from(*b)),
        Field::Byte(x) => f64::from(*x),
        Field::Short(x) => f64::from(*x),
        Field::Int(x) => f64::from(*x),
        Field::Long(x) => *x as f64,
        Field::UByte(x) => f64::from(*x),
        Field::UShort(x) => f64::from(*x),
        Field::UInt(x) => f64::from(*x),
        Field::ULong(x) => *x as f64,
        Field::Float16(x) => f64::from(x.to_f32()),
        Field::Float(x) => f64::from(*x),
        Field::Double(x) => *x,
        _ => return None,
    })
}

fn label(f: &Field) -> Result<Raw, String> {
    Ok(match f {
        Field::Bool(b) => Raw::Int(i64::from(*b)),
        Field::Byte(x) => Raw::Int(i64::from(*x)),
        Field::Short(x) => Raw::Int(i64::from(*x)),
        Field::Int(x) => Raw::Int(i64::from(*x)),
        Field::Long(x) => Raw::Int(*x),
        Field::UByte(x) => Raw::Int(i64::from(*x)),
        Field::UShort(x) => Raw::Int(i64::from(*x)),
        Field::UInt(x) => Raw::Int(i64::from(*x)),
        Field::ULong(x) => Raw::Int(i64::try_from(*x).unwrap_or(i64::MAX)),
        Field::Str(s) => Raw::Str(s.clone()),
        Field::Null => return Err("is null".into()),
        other => match number(other) {
            Some(x) => Raw::Float(x),
            None => return Err(format!("is not a label but {}", kind(other))),
        },
    })
}

/// Labels of one kind: class indices (integers, checked against the `ClassLabel`
/// names), classes by name (strings, sorted), or float values.
fn labels(
    raw: Vec<Raw>,
    names: Option<Vec<String>>,
    starts: &[(String, usize)],
    files: &[(String, PathBuf)],
) -> Result<(Labels, Vec<String>)> {
    let at = |row: usize, m: String| {
        let f = starts.partition_point(|(_, s)| *s <= row).saturating_sub(1);
        Error::Corrupt {
            path: files[f].1.clone(),
            message: format!("row {}: {m}", row - starts[f].1),
        }
    };
    let strings = raw.iter().filter(|r| matches!(r, Raw::Str(_))).count();
    if strings > 0 && strings < raw.len() {
        let row = raw
            .iter()
            .position(|r| !matches!(r, Raw::Str(_)))
            .unwrap_or(0);
        return Err(at(row, "the labels mix strings and numbers".into()));
    }
    if strings > 0 {
        let mut classes: Vec<String> = raw
            .iter()
            .filter_map(|r| match r {
                Raw::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        classes.sort();
        classes.dedup();
        let idx = raw
            .iter()
            .map(|r| match r {
                Raw::Str(s) => classes.binary_search(s).unwrap_or(0) as u32,
                _ => 0,
            })
            .collect();
        return Ok((Labels::Classes(idx), classes));
    }
    if raw.iter().any(|r| matches!(r, Raw::Float(_))) {
        let v = raw
            .iter()
            .map(|r| match r {
                Raw::Int(x) => *x as f32,
                Raw::Float(x) => *x as f32,
                Raw::Str(_) => 0.0,
            })
            .collect();
        return Ok((Labels::Values(v), Vec::new()));
    }
    let mut idx = Vec::with_capacity(raw.len());
    for (row, r) in raw.iter().enumerate() {
        let Raw::Int(x) = r else { continue };
        let c = u32::try_from(*x).map_err(|_| {
            at(
                row,
                format!(
                    "label {x} is not a class index (the hub marks unlabelled rows, as in some \
                     test splits, with -1: pick a labelled split)"
                ),
            )
        })?;
        if let Some(n) = &names {
            if c as usize >= n.len() {
                return Err(at(
                    row,
                    format!("label {c} is past the {} ClassLabel names", n.len()),
                ));
            }
        }
        idx.push(c);
    }
    Ok((Labels::Classes(idx), names.unwrap_or_default()))
}

/// A value's kind, for error messages.
fn kind(f: &Field) -> &'static str {
    match f {
        Field::Str(_) => "a string",
        Field::Bytes(_) => "bytes",
        Field::Group(_) => "a struct",
        Field::ListInternal(_) => "a list",
        Field::MapInternal(_) => "a map",
        Field::Decimal(_) => "a decimal",
        Field::Date(_) | Field::TimeMillis(_) | Field::TimeMicros(_) => "a date or time",
        Field::TimestampMillis(_) | Field::TimestampMicros(_) => "a timestamp",
        Field::Null => "null",
        _ => "a number",
    }
}

/// The file and row within it of row `index` of the table.
pub(crate) fn locate(starts: &[(String, usize)], index: usize) -> (&str, usize) {
    let f = starts
        .partition_point(|(_, s)| *s <= index)
        .saturating_sub(1);
    match starts.get(f) {
        Some((name, s)) => (name.as_str(), index - s),
        None => ("", index),
    }
}
