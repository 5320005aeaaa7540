//! The arithmetic of block arguments: `"$planes * 4"`, `"$stride != 1 or $downsample"`.
//!
//! A string value of a block's body that starts with `$` is an expression over the
//! block's arguments, evaluated when the block is used: `"$planes"` alone is the
//! argument's value, whatever its type; anything longer is Python arithmetic on
//! integers, floats and booleans (`+ - * / // % ** == != < <= > >= and or not`,
//! parentheses; names with or without `$`), with Python's results (`7 // 2` is 3,
//! `7 / 2` is 3.5, `-7 // 2` is -4).

use std::fmt;

/// A value of an expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Val {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl Val {
    fn num(self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(i as f64),
            Self::Float(f) => Some(f),
            Self::Bool(_) => None,
        }
    }
    fn truth(self) -> bool {
        match self {
            Self::Int(i) => i != 0,
            Self::Float(f) => f != 0.0,
            Self::Bool(b) => b,
        }
    }
    /// The TOML value.
    pub(crate) fn to_toml(self) -> toml::Value {
        match self {
            Self::Int(i) => toml::Value::Integer(i),
            Self::Float(f) => toml::Value::Float(f),
            Self::Bool(b) => toml::Value::Boolean(b),
        }
    }
    /// The value of a TOML argument, if it is a number or a boolean.
    pub(crate) fn of_toml(v: &toml::Value) -> Option<Self> {
        match v {
            toml::Value::Integer(i) => Some(Self::Int(*i)),
            toml::Value::Float(f) => Some(Self::Float(*f)),
            toml::Value::Boolean(b) => Some(Self::Bool(*b)),
            _ => None,
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Val),
    Name(String),
    Op(&'static str),
    Open,
    Close,
}

const OPS: [&str; 15] = [
    "**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "<", ">", "(", ")",
];

fn number(s: &str) -> Result<(Val, usize), String> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let text = s[..end].replace('_', "");
    let v = if text.contains('.') {
        text.parse()
            .map(Val::Float)
            .map_err(|_| format!("bad number `{text}`"))?
    } else {
        text.parse()
            .map(Val::Int)
            .map_err(|_| format!("bad number `{text}`"))?
    };
    Ok((v, end))
}

fn tokens(src: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut s = src.trim_start();
    while !s.is_empty() {
        let c = s.chars().next().unwrap_or(' ');
        let used = if c.is_ascii_digit() {
            let (v, n) = number(s)?;
            out.push(Tok::Num(v));
            n
        } else if c == '$' || c.is_alphabetic() || c == '_' {
            let body = s.strip_prefix('$').unwrap_or(s);
            let n = body
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(body.len());
            if n == 0 {
                return Err("`$` must be followed by an argument name".into());
            }
            out.push(Tok::Name(body[..n].to_string()));
            n + (s.len() - body.len())
        } else if let Some(op) = OPS.iter().find(|o| s.starts_with(**o)) {
            out.push(match *op {
                "(" => Tok::Open,
                ")" => Tok::Close,
                o => Tok::Op(o),
            });
            op.len()
        } else {
            return Err(format!("unexpected `{c}`"));
        };
        s = s[used..].trim_start();
    }
    Ok(out)
}

/// A recursive-descent evaluator over the tokens, looking names up in `env`.
struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    env: &'a dyn Fn(&str) -> Option<Val>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn eat_op(&mut self, ops: &[&str]) -> Option<&'static str> {
        match self.peek() {
            Some(Tok::Op(o)) if ops.contains(o) => {
                let o = *o;
                self.pos += 1;
                Some(o)
            }
            _ => None,
        }
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Name(n)) if n == w) {
            self.pos += 1;
            return true;
        }
        false
    }
    fn or(&mut self) -> Result<Val, String> {
        let mut v = self.and()?;
        while self.eat_word("or") {
            let r = self.and()?;
            v = Val::Bool(v.truth() || r.truth());
        }
        Ok(v)
    }
    fn and(&mut self) -> Result<Val, String> {
        let mut v = self.not()?;
        while self.eat_word("and") {
            let r = self.not()?;
            v = Val::Bool(v.truth() && r.truth());
        }
        Ok(v)
    }
    fn not(&mut self) -> Result<Val, String> {
        if self.eat_word("not") {
            return Ok(Val::Bool(!self.not()?.truth()));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> Result<Val, String> {
        let a = self.sum()?;
        let Some(op) = self.eat_op(&["==", "!=", "<=", ">=", "<", ">"]) else {
            return Ok(a);
        };
        let b = self.sum()?;
        let (x, y) = match (a, b) {
            (Val::Bool(x), Val::Bool(y)) => (f64::from(u8::from(x)), f64::from(u8::from(y))),
            _ => (num(a)?, num(b)?),
        };
        Ok(Val::Bool(match op {
            "==" => x == y,
            "!=" => x != y,
            "<=" => x <= y,
            ">=" => x >= y,
            "<" => x < y,
            _ => x > y,
        }))
    }
    fn sum(&mut self) -> Result<Val, String> {
        let mut v = self.prod()?;
        while let Some(op) = self.eat_op(&["+", "-"]) {
            let r = self.prod()?;
            v = arith(op, v, r)?;
        }
        Ok(v)
    }
    fn prod(&mut self) -> Result<Val, String> {
        let mut v = self.unary()?;
        while let Some(op) = self.eat_op(&["*", "//", "/", "%"]) {
            let r = self.unary()?;
            v = arith(op, v, r)?;
        }
        Ok(v)
    }
    fn unary(&mut self) -> Result<Val, String> {
        if self.eat_op(&["-"]).is_some() {
            return arith("-", Val::Int(0), self.unary()?);
        }
        let base = self.atom()?;
        if self.eat_op(&["**"]).is_some() {
            return arith("**", base, self.unary()?);
        }
        Ok(base)
    }
    fn atom(&mut self) -> Result<Val, String> {
        let tok = self
            .peek()
            .cloned()
            .ok_or("the expression ends too early")?;
        self.pos += 1;
        match tok {
            Tok::Num(v) => Ok(v),
            Tok::Name(n) if n == "true" || n == "True" => Ok(Val::Bool(true)),
            Tok::Name(n) if n == "false" || n == "False" => Ok(Val::Bool(false)),
            Tok::Name(n) => (self.env)(&n).ok_or(format!("no argument named `{n}`")),
            Tok::Open => {
                let v = self.or()?;
                match self.peek() {
                    Some(Tok::Close) => {
                        self.pos += 1;
                        Ok(v)
                    }
                    _ => Err("a `(` is not closed".into()),
                }
            }
            Tok::Close => Err("unexpected `)`".into()),
            Tok::Op(o) => Err(format!("unexpected `{o}`")),
        }
    }
}

fn num(v: Val) -> Result<f64, String> {
    v.num().ok_or_else(|| format!("`{v}` is not a number"))
}

/// `a op b` with Python's rules for integers and floats.
fn arith(op: &str, a: Val, b: Val) -> Result<Val, String> {
    if let (Val::Int(x), Val::Int(y)) = (a, b) {
        let overflow = || format!("`{x} {op} {y}` overflows");
        let zero = || format!("`{x} {op} {y}` divides by zero");
        return match op {
            "+" => x.checked_add(y).map(Val::Int).ok_or_else(overflow),
            "-" => x.checked_sub(y).map(Val::Int).ok_or_else(overflow),
            "*" => x.checked_mul(y).map(Val::Int).ok_or_else(overflow),
            "/" if y == 0 => Err(zero()),
            "/" => Ok(Val::Float(x as f64 / y as f64)),
            "//" | "%" if y == 0 => Err(zero()),
            "//" => Ok(Val::Int(
                x.div_euclid(y) - i64::from(y < 0 && x.rem_euclid(y) != 0),
            )),
            "%" => Ok(Val::Int(
                x - y * (x.div_euclid(y) - i64::from(y < 0 && x.rem_euclid(y) != 0)),
            )),
            _ => u32::try_from(y)
                .ok()
                .and_then(|e| x.checked_pow(e))
                .map(Val::Int)
                .ok_or_else(overflow),
        };
    }
    let (x, y) = (num(a)?, num(b)?);
    Ok(Val::Float(match op {
        "+" => x + y,
        "-" => x - y,
        "*" => x * y,
        "/" => x / y,
        "//" => (x / y).floor(),
        "%" => x - y * (x / y).floor(),
        _ => x.powf(y),
    }))
}

/// The longest expression (a bound on the parser's recursion).
const MAX_LEN: usize = 1000;

/// Evaluates `src` (without its leading `$`), looking names up in `env`.
pub(crate) fn eval(src: &str, env: &dyn Fn(&str) -> Option<Val>) -> Result<Val, String> {
    // the parser recurses per parenthesis and prefix operator: bound its depth
    if src.len() > MAX_LEN {
        return Err(format!("an expression is at most {MAX_LEN} characters"));
    }
    let toks = tokens(src)?;
    let mut p = Parser { toks, pos: 0, env };
    let v = p.or()?;
    match p.peek() {
        None => Ok(v),
        Some(t) => Err(format!("unexpected {t:?} after a complete expression")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Result<Val, String> {
        let env = |n: &str| match n {
            "planes" => Some(Val::Int(64)),
            "stride" => Some(Val::Int(2)),
            "p" => Some(Val::Float(0.5)),
            "down" => Some(Val::Bool(false)),
            _ => None,
        };
        eval(s, &env)
    }

    #[test]
    fn python_arithmetic() {
        assert_eq!(ev("planes * 4"), Ok(Val::Int(256)));
        assert_eq!(ev("$planes // 3"), Ok(Val::Int(21)));
        assert_eq!(ev("-7 // 2"), Ok(Val::Int(-4)));
        assert_eq!(ev("-7 % 3"), Ok(Val::Int(2)));
        assert_eq!(ev("7 % -3"), Ok(Val::Int(-2)));
        assert_eq!(ev("7 / 2"), Ok(Val::Float(3.5)));
        assert_eq!(ev("2 ** 3 ** 2"), Ok(Val::Int(512)));
        assert_eq!(ev("(1 + 2) * 3"), Ok(Val::Int(9)));
        assert_eq!(ev("p * 2"), Ok(Val::Float(1.0)));
        assert_eq!(ev("$stride != 1 or down"), Ok(Val::Bool(true)));
        assert_eq!(ev("not down and stride == 2"), Ok(Val::Bool(true)));
        assert!(ev("planes +").is_err());
        assert!(ev("plane * 2")
            .unwrap_err()
            .contains("no argument named `plane`"));
        assert!(ev("1 / 0").is_err());
        assert!(ev("(1").is_err());
        assert!(ev("9223372036854775807 + 1").is_err());
        assert!(ev(&format!("{}1{}", "(".repeat(2000), ")".repeat(2000))).is_err());
        assert_eq!(
            ev(&format!("{}1{}", "(".repeat(400), ")".repeat(400))),
            Ok(Val::Int(1))
        );
    }
}
