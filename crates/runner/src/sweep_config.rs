//! What a sweep varies: `[sweep]` in the experiment file or `--grid` on the command
//! line, and the trials it expands to.
//!
//! ```toml
//! [sweep]
//! method = "grid"                       # every combination (default); or "random"
//! seeds = 3                             # each configuration with seeds seed, seed+1, seed+2
//! [sweep.parameters]
//! "optimizer.type" = ["SGD", "Adam"]    # a list: the values (grid) or a choice (random)
//! "optimizer.lr" = [0.1, 0.01]
//! # random search (method = "random", n_trials = 20) also takes distributions:
//! # "optimizer.lr" = { distribution = "loguniform", low = 1e-4, high = 0.1 }
//! # "optimizer.momentum" = { distribution = "uniform", low = 0.0, high = 0.99 }
//! # "data.train.batch_size" = { distribution = "int", low = 16, high = 128 }   # inclusive
//! # "optimizer.type" = { distribution = "choice", values = ["SGD", "Adam"] }
//! # prune = "median"                   # stop hopeless trials early (see driver)
//! ```
//! The keys are the key paths `--set` takes. A random search draws its trials from the
//! experiment's `seed`, so the same file gives the same trials.

use crate::diagnostic::{suggest, Diagnostic};
use crate::keypath::KeyPath;
use crate::overrides::Override;
use rand::{Rng, SeedableRng};

/// How the configurations are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Every combination of the values (`method = "grid"`).
    Grid,
    /// `n_trials` draws from the distributions (`method = "random"`).
    Random {
        /// How many configurations.
        n_trials: usize,
    },
}

/// One swept key's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// These values (a grid's axis, or a uniform choice).
    List(Vec<toml::Value>),
    /// Uniform on `[low, high)`.
    Uniform(f64, f64),
    /// Log-uniform on `[low, high)`: `exp(uniform(ln low, ln high))`.
    LogUniform(f64, f64),
    /// A uniform integer in `[low, high]`.
    Int(i64, i64),
}

/// `[sweep]`, or the command line's `--grid` and `--seeds`.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepConfig {
    /// Grid or random.
    pub method: Method,
    /// The swept keys (`--set` key paths) and their values, in order.
    pub parameters: Vec<(String, Values)>,
    /// Seeds per configuration (default 1: the experiment's own seed).
    pub seeds: usize,
    /// `prune = "median"`: stop a trial whose monitored metric is worse than the median
    /// of the finished trials' at the same epoch (see the sweep driver).
    pub prune: bool,
}

/// One configuration: the `--set` overrides that make it.
pub type Configuration = Vec<Override>;

impl SweepConfig {
    /// Decodes `[sweep]` (`value` at `path`).
    pub fn decode(value: &toml::Value, path: &KeyPath) -> Result<Self, Diagnostic> {
        let table = value.as_table().ok_or_else(|| {
            Diagnostic::value(path.clone(), "`sweep` is a table").with_label("not a table")
        })?;
        const KEYS: [&str; 5] = ["method", "parameters", "seeds", "n_trials", "prune"];
        if let Some(k) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
            let d = Diagnostic::key(path.key(k), format!("unknown field `{k}`"));
            return Err(d.with_nearest(k, KEYS, || format!("[sweep] takes {}", KEYS.join(", "))));
        }
        let seeds = match table.get("seeds") {
            None => 1,
            Some(v) => positive(v, &path.key("seeds"))?,
        };
        let method = match table.get("method").map(|m| (m.as_str(), m)) {
            None | Some((Some("grid"), _)) => Method::Grid,
            Some((Some("random"), _)) => {
                let at = path.key("n_trials");
                let n = table.get("n_trials").ok_or_else(|| {
                    Diagnostic::value(path.key("method"), "a random search needs `n_trials`")
                        .with_help("add `n_trials = 20` to [sweep]")
                })?;
                Method::Random {
                    n_trials: positive(n, &at)?,
                }
            }
            Some(_) => {
                return Err(Diagnostic::value(
                    path.key("method"),
                    "`method` is \"grid\" or \"random\"",
                )
                .with_label("unknown method"))
            }
        };
        let prune = match table.get("prune") {
            None => false,
            Some(toml::Value::String(r)) if r == "median" => true,
            Some(_) => {
                return Err(Diagnostic::value(path.key("prune"), "`prune` is \"median\"")
                    .with_help("the median rule: a trial worse than the finished trials' median at an epoch stops"))
            }
        };
        let parameters =
            decode_parameters(table.get("parameters"), &path.key("parameters"), method)?;
        Ok(Self {
            method,
            parameters,
            seeds,
            prune,
        })
    }

    /// The configurations: the grid's combinations (the last key varying fastest) or
    /// the random draws from `seed`.
    pub fn configurations(&self, seed: u64) -> Vec<Configuration> {
        match self.method {
            Method::Grid => self.grid(),
            Method::Random { n_trials } => {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                (0..n_trials)
                    .map(|_| {
                        self.parameters
                            .iter()
                            .map(|(k, v)| set(k, &v.draw(&mut rng)))
                            .collect()
                    })
                    .collect()
            }
        }
    }

    fn grid(&self) -> Vec<Configuration> {
        let mut out: Vec<Configuration> = vec![Vec::new()];
        for (k, v) in &self.parameters {
            let Values::List(list) = v else { continue };
            out = out
                .iter()
                .flat_map(|c| {
                    list.iter().map(move |x| {
                        let mut c = c.clone();
                        c.push(set(k, x));
                        c
                    })
                })
                .collect();
        }
        out
    }
}

/// `[sweep.parameters]`: each key a `--set` key path, each value a list or (random
/// search) a distribution.
fn decode_parameters(
    params: Option<&toml::Value>,
    params_path: &KeyPath,
    method: Method,
) -> Result<Vec<(String, Values)>, Diagnostic> {
    let params = params.and_then(toml::Value::as_table).ok_or_else(|| {
        Diagnostic::value(
            params_path.clone(),
            "[sweep.parameters] names the swept keys",
        )
        .with_help("e.g. `\"optimizer.lr\" = [0.1, 0.01]`")
    })?;
    let mut parameters = Vec::new();
    for (k, v) in params {
        let at = params_path.key(k);
        let key: Override = format!("{k}=0")
            .parse()
            .map_err(|e: crate::OverrideError| Diagnostic::key(at.clone(), e.message))?;
        let values = Values::decode(v, &at)?;
        if method == Method::Grid && !matches!(values, Values::List(_)) {
            return Err(Diagnostic::value(at, "a grid takes a list of values")
                .with_help("distributions are for `method = \"random\"`"));
        }
        parameters.push((key.path.to_string(), values));
    }
    if parameters.is_empty() {
        return Err(Diagnostic::value(params_path.clone(), "no swept key"));
    }
    Ok(parameters)
}

/// `--set key=value` for a TOML value (strings written bare, as `--set` takes them).
fn set(key: &str, value: &toml::Value) -> Override {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        // 1e-05 and 1e+30 as `1e-5` and `1e30`, not 0.00001 and thirty zeros
        toml::Value::Float(x) if *x != 0.0 && (x.abs() >= 1e6 || x.abs() < 1e-4) => {
            format!("{x:e}")
        }
        v => v.to_string(),
    };
    // the key was parsed when the sweep was decoded
    format!("{key}={text}")
        .parse()
        .unwrap_or_else(|_| Override {
            path: KeyPath::root().key(key),
            value: text,
        })
}

impl Values {
    fn decode(v: &toml::Value, at: &KeyPath) -> Result<Self, Diagnostic> {
        match v {
            toml::Value::Array(a) => list_of(a, at),
            toml::Value::Table(t) => Self::distribution(t, at),
            _ => Err(
                Diagnostic::value(at.clone(), "a swept key takes a list of values")
                    .with_help("`[0.1, 0.01]`, or a distribution table for a random search"),
            ),
        }
    }

    /// A distribution table: `{ distribution = "loguniform", low = 1e-4, high = 0.1 }`.
    fn distribution(t: &toml::Table, at: &KeyPath) -> Result<Self, Diagnostic> {
        const DISTS: [&str; 4] = ["choice", "uniform", "loguniform", "int"];
        let dist = t.get("distribution").and_then(toml::Value::as_str);
        let allowed: &[&str] = match dist {
            Some("choice") => &["distribution", "values"],
            Some(_) => &["distribution", "low", "high"],
            None => &["distribution"],
        };
        if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
            let d = Diagnostic::key(at.key(k), format!("unknown field `{k}`"));
            return Err(d.with_nearest(k, allowed.iter().copied(), || {
                format!("this table takes {}", allowed.join(", "))
            }));
        }
        match dist {
            Some("choice") => match t.get("values") {
                Some(toml::Value::Array(a)) => list_of(a, &at.key("values")),
                _ => Err(Diagnostic::value(
                    at.clone(),
                    "`choice` takes `values = [...]`",
                )),
            },
            Some(d @ ("uniform" | "loguniform")) => Self::continuous(t, at, d == "loguniform"),
            Some("int") => Self::int(t, at),
            other => {
                let d = Diagnostic::value(
                    at.key("distribution"),
                    format!("unknown distribution {other:?}"),
                );
                Err(match other.and_then(|o| suggest(o, DISTS)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help("choice, uniform, loguniform or int"),
                })
            }
        }
    }

    /// `uniform` or `loguniform` on `[low, high)`.
    fn continuous(t: &toml::Table, at: &KeyPath, log: bool) -> Result<Self, Diagnostic> {
        let num = |k: &str| number(t.get(k), &at.key(k), k);
        let (low, high) = (num("low")?, num("high")?);
        let ordered = low.partial_cmp(&high) == Some(std::cmp::Ordering::Less);
        if !ordered || (log && low <= 0.0) {
            return Err(Diagnostic::value(at.key("high"), "the range is empty")
                .with_help("low < high, and 0 < low for a log-uniform"));
        }
        Ok(if log {
            Values::LogUniform(low, high)
        } else {
            Values::Uniform(low, high)
        })
    }

    /// `int` on `[low, high]`.
    fn int(t: &toml::Table, at: &KeyPath) -> Result<Self, Diagnostic> {
        let int = |k: &str| {
            t.get(k)
                .and_then(toml::Value::as_integer)
                .ok_or_else(|| Diagnostic::value(at.key(k), format!("`{k}` is an integer")))
        };
        let (low, high) = (int("low")?, int("high")?);
        if low > high {
            return Err(Diagnostic::value(at.key("high"), "the range is empty"));
        }
        Ok(Values::Int(low, high))
    }

    fn draw(&self, rng: &mut impl Rng) -> toml::Value {
        match *self {
            Values::List(ref l) => l[rng.random_range(0..l.len())].clone(),
            Values::Uniform(a, b) => toml::Value::Float(a + (b - a) * rng.random::<f64>()),
            Values::LogUniform(a, b) => {
                let (la, lb) = (a.ln(), b.ln());
                toml::Value::Float((la + (lb - la) * rng.random::<f64>()).exp())
            }
            Values::Int(a, b) => toml::Value::Integer(rng.random_range(a..=b)),
        }
    }
}

/// The values of a list (not empty).
fn list_of(a: &[toml::Value], at: &KeyPath) -> Result<Values, Diagnostic> {
    if a.is_empty() {
        Err(Diagnostic::value(at.clone(), "no values to sweep"))
    } else {
        Ok(Values::List(a.to_vec()))
    }
}

fn positive(v: &toml::Value, at: &KeyPath) -> Result<usize, Diagnostic> {
    v.as_integer()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| Diagnostic::value(at.clone(), "a positive integer").with_label("here"))
}

fn number(v: Option<&toml::Value>, at: &KeyPath, k: &str) -> Result<f64, Diagnostic> {
    match v {
        Some(toml::Value::Float(x)) => Ok(*x),
        Some(toml::Value::Integer(i)) => Ok(*i as f64),
        _ => Err(Diagnostic::value(at.clone(), format!("`{k}` is a number"))),
    }
}

/// `--grid KEY=V1,V2,...`: one key and its values, split at the commas outside
/// brackets and quotes (`--grid model.input=[1,28,28],[784]`).
pub fn parse_grid(arg: &str) -> Result<(String, Values), String> {
    let (key, values) = arg
        .split_once('=')
        .ok_or_else(|| format!("--grid {arg}: expected KEY=V1,V2,..."))?;
    let key = format!("{}=0", key.trim())
        .parse::<Override>()
        .map_err(|e| format!("--grid {arg}: {}", e.message))?
        .path
        .to_string();
    let mut items = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in values.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                items.push(&values[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&values[start..]);
    let list: Vec<toml::Value> = items
        .into_iter()
        .map(|s| {
            let s = s.trim();
            toml::from_str::<toml::Table>(&format!("v = {s}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(s.to_string()))
        })
        .collect();
    if list.iter().any(|v| v.as_str() == Some("")) {
        return Err(format!("--grid {arg}: an empty value"));
    }
    Ok((key, Values::List(list)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<SweepConfig, Diagnostic> {
        let t: toml::Table = toml::from_str(s).unwrap();
        SweepConfig::decode(&t["sweep"], &KeyPath::root().key("sweep"))
    }

    fn texts(c: &[Configuration]) -> Vec<String> {
        c.iter()
            .map(|c| {
                c.iter()
                    .map(|o| o.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn a_grid_is_every_combination_the_last_key_fastest() {
        let s = decode(
            "[sweep]\nseeds = 2\n[sweep.parameters]\n\"optimizer.type\" = [\"SGD\", \"Adam\"]\n\
             \"optimizer.lr\" = [0.1, 0.01]\n",
        )
        .unwrap();
        assert_eq!(s.seeds, 2);
        // in the file's order, the last key fastest
        assert_eq!(
            texts(&s.configurations(0)),
            [
                "optimizer.type=SGD optimizer.lr=0.1",
                "optimizer.type=SGD optimizer.lr=0.01",
                "optimizer.type=Adam optimizer.lr=0.1",
                "optimizer.type=Adam optimizer.lr=0.01",
            ]
        );
    }

    #[test]
    fn random_draws_stay_in_range_and_repeat_with_the_seed() {
        let s = decode(
            "[sweep]\nmethod = \"random\"\nn_trials = 50\n[sweep.parameters]\n\
             lr = { distribution = \"loguniform\", low = 1e-4, high = 1e-1 }\n\
             n = { distribution = \"int\", low = 1, high = 3 }\n\
             m = { distribution = \"uniform\", low = 0.5, high = 0.9 }\n\
             o = { distribution = \"choice\", values = [\"SGD\", \"Adam\"] }\n",
        )
        .unwrap();
        let a = s.configurations(7);
        assert_eq!(a.len(), 50);
        assert_eq!(texts(&a), texts(&s.configurations(7)));
        assert_ne!(texts(&a), texts(&s.configurations(8)));
        for c in &a {
            let v = |k: &str| {
                c.iter()
                    .find(|o| o.path.to_string() == k)
                    .unwrap()
                    .value
                    .clone()
            };
            let lr: f64 = v("lr").parse().unwrap();
            assert!((1e-4..1e-1).contains(&lr), "{lr}");
            let n: i64 = v("n").parse().unwrap();
            assert!((1..=3).contains(&n));
            let m: f64 = v("m").parse().unwrap();
            assert!((0.5..0.9).contains(&m));
            assert!(["SGD", "Adam"].contains(&v("o").as_str()));
        }
    }

    #[test]
    fn mistakes_are_diagnostics_at_their_key() {
        let e = decode("[sweep]\nseed = 2\n[sweep.parameters]\na = [1]\n").unwrap_err();
        assert_eq!(e.path.to_string(), "sweep.seed");
        assert!(e.help.unwrap().contains("seeds"));
        let e = decode(
            "[sweep.parameters]\na = { distribution = \"loguniform\", low = 1e-4, high = 1 }\n",
        )
        .unwrap_err();
        assert!(e.message.contains("grid takes a list"), "{}", e.message);
        let e = decode(
            "[sweep]\nmethod = \"random\"\nn_trials = 2\n[sweep.parameters]\n\
             a = { distribution = \"logunifrom\", low = 1, high = 2 }\n",
        )
        .unwrap_err();
        assert!(e.help.unwrap().contains("loguniform"));
        let e = decode("[sweep]\nmethod = \"random\"\n[sweep.parameters]\na = [1]\n").unwrap_err();
        assert!(e.message.contains("n_trials"));
    }

    #[test]
    fn grid_arguments_split_outside_brackets() {
        let (k, v) = parse_grid("model.input=[1,28,28],[784]").unwrap();
        assert_eq!(k, "model.input");
        assert_eq!(
            v,
            Values::List(vec![
                toml::Value::Array(vec![1.into(), 28.into(), 28.into()]),
                toml::Value::Array(vec![784.into()]),
            ])
        );
        let (_, v) = parse_grid("optimizer.lr=1e-5,0.001,1e30").unwrap();
        let Values::List(l) = v else { panic!() };
        let texts: Vec<String> = l.iter().map(|x| set("optimizer.lr", x).value).collect();
        assert_eq!(texts, ["1e-5", "0.001", "1e30"]);
        let (_, v) = parse_grid("optimizer.type=SGD,Adam").unwrap();
        assert_eq!(v, Values::List(vec!["SGD".into(), "Adam".into()]));
        assert!(parse_grid("optimizer.lr").is_err());
        assert!(parse_grid("optimizer.lr=0.1,").is_err());
    }
}
