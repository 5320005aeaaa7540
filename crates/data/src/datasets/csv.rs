use super::tensor_dataset::{Labels, TensorDataset};
use crate::{idx::read_maybe_gz, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A column, by 0-based index (negative counts from the end, as in Python:
/// `-1` is the last) or by its header name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Column {
    /// 0-based index; negative from the end.
    Index(i64),
    /// Header name (needs `header = true`).
    Name(String),
}

/// Named groups of columns, in the order written (a TOML table keeps it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnGroups(pub Vec<(String, Vec<Column>)>);

impl Serialize for ColumnGroups {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for ColumnGroups {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Groups;
        impl<'de> serde::de::Visitor<'de> for Groups {
            type Value = ColumnGroups;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of input names to lists of columns")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<ColumnGroups, A::Error> {
                let mut groups = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Vec<Column>>()? {
                    groups.push((k, v));
                }
                Ok(ColumnGroups(groups))
            }
        }
        d.deserialize_map(Groups)
    }
}

/// How the label column is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelDtype {
    /// A float target of shape `[1]` (what `BCELoss`/`MSELoss` take; the course's
    /// `y = xy[:, [-1]]`).
    #[default]
    Float,
    /// A class index (a non-negative integer; what `CrossEntropyLoss` takes).
    Class,
}

/// `CSV`: a table of numbers, as the course reads it with `np.loadtxt(path,
/// delimiter=",", dtype=np.float32)` and slices `x = xy[:, :-1]`, `y = xy[:, [-1]]`.
///
/// The file may be gzipped (detected by content). Every row must have every column
/// used; values are parsed as f32. Errors name the place: `file:line` for a missing
/// column, `file:line:column` (1-based) for a value that is not a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvConfig {
    /// The file (`.csv` or `.csv.gz`).
    pub path: PathBuf,
    /// Field delimiter, one ASCII character (default `","`).
    #[serde(default = "comma")]
    pub delimiter: String,
    /// Whether the first row holds column names (default `false`, as `np.loadtxt`).
    #[serde(default)]
    pub header: bool,
    /// Feature columns (default: every column but the label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<Column>>,
    /// Instead of `features`: named groups of columns, each a separate input of the
    /// model (`inputs = { user = [0, 1], item = ["price", "weight"] }`), in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<ColumnGroups>,
    /// The label column (default `-1`, the last).
    #[serde(default = "last")]
    pub label: Column,
    /// `"float"` (default) or `"class"`.
    #[serde(default)]
    pub label_dtype: LabelDtype,
}

fn comma() -> String {
    ",".into()
}
fn last() -> Column {
    Column::Index(-1)
}

impl CsvConfig {
    /// A config for `path` with the defaults.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            delimiter: comma(),
            header: false,
            features: None,
            inputs: None,
            label: last(),
            label_dtype: LabelDtype::Float,
        }
    }

    /// What the arguments tell: the features' count (when listed), the input groups.
    pub fn info(&self) -> super::DataInfo {
        let widths: Option<Vec<Vec<usize>>> = self
            .inputs
            .as_ref()
            .map(|g| g.0.iter().map(|(_, c)| vec![c.len()]).collect());
        super::DataInfo {
            shape: match &widths {
                Some(w) => w.first().cloned(),
                None => self.features.as_ref().map(|f| vec![f.len()]),
            },
            classes: None,
            images: false,
            sizes_vary: false,
            class_targets: Some(self.label_dtype == LabelDtype::Class),
            inputs: match &self.inputs {
                Some(g) => g.0.iter().map(|(n, _)| n.clone()).collect(),
                None => super::info::one_input(),
            },
            input_shapes: widths,
        }
    }

    /// Reads the file at `self.path` (see [`CsvConfig::load`]).
    pub fn build(&self) -> Result<TensorDataset> {
        self.load(&self.path)
    }

    /// The delimiter as a byte.
    fn delimiter_byte(&self) -> Result<u8> {
        match self.delimiter.as_bytes() {
            [b] if b.is_ascii() => Ok(*b),
            _ => Err(Error::config(
                "delimiter",
                format!(
                    "delimiter = {:?}: expected a single ASCII character",
                    self.delimiter
                ),
            )),
        }
    }

    /// Reads `path` (the config's `path` resolved by the caller) into a dataset whose
    /// samples are `[n_features]` f32 arrays.
    pub fn load(&self, path: &Path) -> Result<TensorDataset> {
        let bytes = read_maybe_gz(path)?;
        let mut rows = Rows::new(path, &bytes, self.delimiter_byte()?);
        let (names, first) = rows.first(self.header)?;
        let table = Table {
            name: rows.name.clone(),
            width: first.1.len(),
            line: first.0,
            names: names.as_deref(),
        };
        let label = table.resolve(&self.label, "label")?;
        let groups = self.groups(&table, label)?;
        let features: Vec<usize> = groups.iter().flat_map(|(_, c)| c.iter().copied()).collect();
        let (name, width) = (table.name.clone(), table.width);
        if features.is_empty() {
            return Err(Error::config(
                "features",
                format!("no feature columns: {name} has {width} column(s), one is the label"),
            ));
        }
        let needed = features.iter().copied().chain([label]).max().unwrap_or(0) + 1;
        let mut x = Vec::new();
        let mut classes = Vec::new();
        let mut values = Vec::new();
        let mut row = Some(first);
        while let Some((line, r)) = row {
            if r.len() < needed {
                return Err(Error::Parse {
                    location: format!("{name}:{line}"),
                    message: format!(
                        "the row has {} column(s), but column {} ({}) is used",
                        r.len(),
                        needed,
                        if needed - 1 == label {
                            "the label"
                        } else {
                            "a feature"
                        }
                    ),
                });
            }
            let num = |c: usize| -> Result<f32> {
                let s = &r[c];
                s.parse::<f32>().map_err(|_| Error::Parse {
                    location: format!("{name}:{line}:{}", c + 1),
                    message: format!("{s:?} is not a number"),
                })
            };
            for &c in &features {
                x.push(num(c)?);
            }
            match self.label_dtype {
                LabelDtype::Float => values.push(num(label)?),
                LabelDtype::Class => {
                    let v = num(label)?;
                    if v < 0.0 || v.fract() != 0.0 || v > u32::MAX as f32 {
                        return Err(Error::Parse {
                            location: format!("{name}:{line}:{}", label + 1),
                            message: format!(
                                "{:?} is not a class index (a non-negative integer; \
                                 or set `label_dtype = \"float\"`)",
                                &r[label]
                            ),
                        });
                    }
                    classes.push(v as u32);
                }
            }
            row = rows.next()?;
        }
        let labels = match self.label_dtype {
            LabelDtype::Float => Labels::Values {
                shape: vec![1],
                data: values,
            },
            LabelDtype::Class => Labels::Class(classes),
        };
        let ds = TensorDataset::new(x, vec![features.len()], labels)?;
        match self.inputs {
            Some(_) => ds.with_inputs(groups.into_iter().map(|(n, c)| (n, c.len())).collect()),
            None => Ok(ds),
        }
    }
}

impl CsvConfig {
    /// The input groups' columns: `inputs`, else one group `input` of `features`, else
    /// every column but the label.
    fn groups(&self, table: &Table<'_>, label: usize) -> Result<Vec<(String, Vec<usize>)>> {
        let cols = |list: &[Column], field| {
            list.iter()
                .map(|c| table.resolve(c, field))
                .collect::<Result<Vec<_>>>()
        };
        match (&self.features, &self.inputs) {
            (Some(_), Some(_)) => Err(Error::config(
                "inputs",
                "give `features` (one input) or `inputs` (named groups), not both",
            )),
            (_, Some(g)) => {
                g.0.iter()
                    .map(|(n, c)| Ok((n.clone(), cols(c, "inputs")?)))
                    .collect()
            }
            (Some(f), None) => Ok(vec![("input".into(), cols(f, "features")?)]),
            (None, None) => Ok(vec![(
                "input".into(),
                (0..table.width).filter(|&c| c != label).collect(),
            )]),
        }
    }
}

impl CsvConfig {
    /// The feature rows of a file of new inputs (`wick predict`), read as this
    /// dataset's files are (delimiter, quoting, header, `features`): each
    /// `(line, values)`. Without `features`, a row holds the model's `n_features`
    /// values, or those and the label (in the `label` column). Without `header`, a
    /// first row that is not numbers is taken for one.
    ///
    /// # Errors
    /// A missing or unreadable file (named), rows of another width, values that are not
    /// numbers (`file:line:column`).
    pub fn load_inputs(&self, path: &Path, n_features: usize) -> Result<Vec<(u64, Vec<f32>)>> {
        let bytes = read_maybe_gz(path)?;
        let mut rows = Rows::new(path, &bytes, self.delimiter_byte()?);
        let header = self.header || rows.peek_is_header()?;
        let (names, first) = rows.first(header)?;
        let table = Table {
            name: rows.name.clone(),
            width: first.1.len(),
            line: first.0,
            names: names.as_deref(),
        };
        let columns: Vec<usize> = match &self.features {
            Some(f) => f
                .iter()
                .map(|c| table.resolve(c, "features"))
                .collect::<Result<_>>()?,
            None if table.width == n_features => (0..n_features).collect(),
            None if table.width == n_features + 1 => {
                let label = table.resolve(&self.label, "label")?;
                (0..table.width).filter(|&c| c != label).collect()
            }
            None => {
                return Err(Error::Parse {
                    location: format!("{}:{}", table.name, table.line),
                    message: format!(
                        "{} columns, but the model takes {n_features} features",
                        table.width
                    ),
                })
            }
        };
        let name = table.name.clone();
        let needed = columns.iter().copied().max().unwrap_or(0) + 1;
        let mut out = Vec::new();
        let mut row = Some(first);
        while let Some((line, r)) = row {
            if r.len() < needed {
                return Err(Error::Parse {
                    location: format!("{name}:{line}"),
                    message: format!("the row has {} column(s), but {needed} are used", r.len()),
                });
            }
            let values = columns
                .iter()
                .map(|&c| {
                    r[c].parse::<f32>().map_err(|_| Error::Parse {
                        location: format!("{name}:{line}:{}", c + 1),
                        message: format!("{:?} is not a number", &r[c]),
                    })
                })
                .collect::<Result<Vec<f32>>>()?;
            out.push((line, values));
            row = rows.next()?;
        }
        Ok(out)
    }
}

/// A row and its line number.
type Row = (u64, ::csv::StringRecord);

/// The non-blank rows of a CSV file, with their line numbers.
struct Rows<'a> {
    name: String,
    path: &'a Path,
    records: ::csv::StringRecordsIntoIter<&'a [u8]>,
    peeked: Option<Row>,
}

impl<'a> Rows<'a> {
    fn new(path: &'a Path, bytes: &'a [u8], delimiter: u8) -> Self {
        let reader = ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .trim(::csv::Trim::All)
            .from_reader(bytes);
        Self {
            name: path.display().to_string(),
            path,
            records: reader.into_records(),
            peeked: None,
        }
    }

    /// The next non-blank row.
    fn next(&mut self) -> Result<Option<Row>> {
        if let Some(p) = self.peeked.take() {
            return Ok(Some(p));
        }
        for r in self.records.by_ref() {
            let r = r.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                Error::Parse {
                    location: format!("{}:{line}", self.name),
                    message: format!("cannot read the row ({e})"),
                }
            })?;
            let line = r.position().map_or(0, |p| p.line());
            if r.iter().all(str::is_empty) {
                continue; // blank line
            }
            return Ok(Some((line, r)));
        }
        Ok(None)
    }

    /// Whether the first row holds something other than numbers.
    fn peek_is_header(&mut self) -> Result<bool> {
        let first = self.next()?;
        let header = first
            .as_ref()
            .is_some_and(|(_, r)| r.iter().any(|c| c.parse::<f32>().is_err()));
        self.peeked = first;
        Ok(header)
    }

    /// The column names (with `header`) and the first data row.
    fn first(&mut self, header: bool) -> Result<(Option<Vec<String>>, Row)> {
        let empty = |message: &str| Error::Corrupt {
            path: self.path.to_path_buf(),
            message: message.into(),
        };
        let Some(first) = self.next()? else {
            return Err(empty("the file is empty: no rows"));
        };
        if !header {
            return Ok((None, first));
        }
        let names = first.1.iter().map(str::to_string).collect();
        match self.next()? {
            Some(r) => Ok((Some(names), r)),
            None => Err(empty("the file holds a header but no data rows")),
        }
    }
}

/// A file's shape, for resolving columns.
struct Table<'a> {
    name: String,
    width: usize,
    /// The first data row's line.
    line: u64,
    names: Option<&'a [String]>,
}

impl Table<'_> {
    /// A column's 0-based index.
    fn resolve(&self, c: &Column, field: &'static str) -> Result<usize> {
        let (name, width) = (&self.name, self.width);
        match c {
            Column::Index(i) => {
                let w = width as i64;
                let j = if *i < 0 { w + i } else { *i };
                if j < 0 || j >= w {
                    return Err(Error::config(
                        field,
                        format!(
                            "column {i} is out of range: {name} has {width} columns (line {})",
                            self.line
                        ),
                    ));
                }
                Ok(j as usize)
            }
            Column::Name(n) => match self.names {
                None => Err(Error::config(
                    field,
                    format!("column {n:?} is named, but `header = false`; set `header = true` or give its index"),
                )),
                Some(names) => names.iter().position(|h| h == n).ok_or_else(|| {
                    Error::config(
                        field,
                        format!("{name} has no column {n:?}; its header is {names:?}"),
                    )
                }),
            },
        }
    }
}

#[cfg(test)]
mod group_tests {
    use super::*;
    use crate::{Dataset, Input};

    #[test]
    fn column_groups_are_separate_inputs_in_order() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.csv");
        std::fs::write(&p, "u1,u2,price,y\n1,2,3,0\n4,5,6,1\n").unwrap();
        let cfg: CsvConfig = toml::from_str(
            "path = \"t.csv\"\nheader = true\nlabel_dtype = \"class\"\n\
             inputs = { user = [\"u1\", \"u2\"], item = [\"price\"] }",
        )
        .unwrap();
        let info = cfg.info();
        assert_eq!(info.inputs, ["user", "item"]);
        assert_eq!(info.input_shapes, Some(vec![vec![2], vec![1]]));
        let ds = cfg.load(&p).unwrap();
        assert_eq!(ds.input_names(), ["user", "item"]);
        let s = ds.get(1).unwrap();
        let Input::Array(user) = &s.input else {
            panic!()
        };
        let Input::Array(item) = &s.extra[0] else {
            panic!()
        };
        assert_eq!(
            (user.data.as_slice(), item.data.as_slice()),
            (&[4.0, 5.0][..], &[6.0][..])
        );
        let text = toml::to_string(&cfg).unwrap();
        assert!(
            text.contains("[inputs]\nuser = [\"u1\", \"u2\"]\nitem = [\"price\"]"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dataset, Target};

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn defaults_read_like_loadtxt() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "a.csv", "1,2,3,0\n4,5,6,1\n\n");
        let ds = CsvConfig::new(&p).build().unwrap();
        assert_eq!(ds.len(), 2);
        let s = ds.get(1).unwrap();
        assert_eq!(s.input.shape(), vec![3]);
        assert_eq!(s.target, Target::scalar(1.0));
    }

    #[test]
    fn header_names_delimiter_and_class_labels() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "b.csv", "a;kind;b\n1.5;2;x3\n2.5;0;7\n");
        let cfg = CsvConfig {
            delimiter: ";".into(),
            header: true,
            features: Some(vec![Column::Name("a".into())]),
            label: Column::Name("kind".into()),
            label_dtype: LabelDtype::Class,
            ..CsvConfig::new(&p)
        };
        let ds = cfg.build().unwrap();
        assert_eq!(ds.get(0).unwrap().target, Target::Class(2));
        assert_eq!(ds.features(), &[1.5, 2.5]);
        let e = CsvConfig {
            features: Some(vec![Column::Name("c".into())]),
            ..cfg.clone()
        }
        .build()
        .unwrap_err()
        .to_string();
        assert!(e.contains("no column \"c\"") && e.contains("b.csv"), "{e}");
        let e = CsvConfig {
            features: Some(vec![Column::Index(0), Column::Index(2)]),
            ..cfg
        }
        .build()
        .unwrap_err()
        .to_string();
        assert!(e.contains("b.csv:2:3: \"x3\" is not a number"), "{e}");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "empty.csv", "\n\n");
        let e = CsvConfig::new(&p).build().unwrap_err().to_string();
        assert!(e.contains("empty.csv") && e.contains("empty"), "{e}");
        let p = write(d.path(), "short.csv", "1,2,3\n4,5,6\n7,8\n");
        let e = CsvConfig::new(&p).build().unwrap_err().to_string();
        assert!(e.contains("short.csv:3: the row has 2 column(s)"), "{e}");
        let p = write(d.path(), "cls.csv", "1,2,0.5\n");
        let cfg = CsvConfig {
            label_dtype: LabelDtype::Class,
            ..CsvConfig::new(&p)
        };
        let e = cfg.build().unwrap_err().to_string();
        assert!(
            e.contains("cls.csv:1:3") && e.contains("class index"),
            "{e}"
        );
        let cfg = CsvConfig {
            label: Column::Index(5),
            ..CsvConfig::new(&p)
        };
        assert!(cfg
            .build()
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        let cfg = CsvConfig {
            delimiter: "ab".into(),
            ..CsvConfig::new(&p)
        };
        assert!(cfg.build().is_err());
    }

    #[test]
    fn the_course_diabetes_file() {
        let Some(shared) = crate::testing::shared_datasets() else {
            eprintln!("skipped: the shared datasets are not found");
            return;
        };
        let p = shared.join("diabetes/diabetes.csv.gz");
        let ds = CsvConfig::new(&p).build().unwrap();
        assert_eq!(ds.len(), 759);
        assert_eq!(ds.feature_shape(), &[8]);
        let s = ds.get(0).unwrap();
        let Target::Values(y) = s.target else {
            panic!("float target expected")
        };
        assert_eq!(y.data, vec![0.0]);
        let crate::Input::Array(x) = s.input else {
            panic!()
        };
        assert!((x.data[0] + 0.294118).abs() < 1e-6);
    }
}
