//! A pickle reader for data files, that runs nothing: the opcodes of protocols 0–5 that
//! build plain values (numbers, strings, bytes, lists, tuples, dicts) and the few
//! class references a NumPy array needs, as a tree of [`Value`]s; any other class a
//! file asks for is refused by name. This is what `pickle.load(f, encoding='latin1')`
//! returns for CIFAR's python batches, without executing the file.
//!
//! candle's `candle_core::pickle` reads PyTorch checkpoints but not Python 2 strings
//! (`BINSTRING`) or `bytes` (`BINBYTES`), which CIFAR's files are made of; hence this
//! module.
//!
//! Every length is checked against the bytes left before anything is allocated, so a
//! file that claims a huge string is refused, not obeyed.

use std::collections::HashMap;

/// A value a pickle builds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A text string.
    Str(String),
    /// `bytes`, or a Python 2 `str` (as `encoding='latin1'` reads it, byte for byte).
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Value>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A dict, in file order.
    Dict(Vec<(Value, Value)>),
    /// A class or function reference (`module`, `name`), one of [`ALLOWED`].
    Global(String, String),
    /// `callable(*args)` (REDUCE, NEWOBJ), not called.
    Call(Box<Value>, Box<Value>),
    /// `obj.__setstate__(state)` (BUILD), not called.
    Build(Box<Value>, Box<Value>),
}

/// The class references a data pickle may make: what a NumPy array and a `bytes`
/// object pickled by Python 3 at protocol 2 need.
pub const ALLOWED: [(&str, &str); 5] = [
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
];

impl Value {
    /// The text of a `Str`, or of `Bytes` read as Latin-1.
    pub fn text(&self) -> Option<String> {
        match self {
            Self::Str(s) => Some(s.clone()),
            Self::Bytes(b) => Some(b.iter().map(|&c| char::from(c)).collect()),
            _ => None,
        }
    }

    /// The entry of a dict whose key reads as `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Self::Dict(items) => items
                .iter()
                .find(|(k, _)| k.text().as_deref() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The items of a list or tuple.
    pub fn items(&self) -> Option<&[Value]> {
        match self {
            Self::List(v) | Self::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// A `bytes` pickled by Python 3 at protocol 2 (`_codecs.encode(text, 'latin1')`)
    /// as its bytes; any other value as it is.
    fn resolve_bytes(self) -> Self {
        if let Self::Call(f, args) = &self {
            if **f == Self::Global("_codecs".into(), "encode".into()) {
                if let Some([Self::Str(s), Self::Str(enc)]) = args.items() {
                    if enc == "latin1" || enc == "latin-1" {
                        return Self::Bytes(s.chars().map(|c| c as u32 as u8).collect());
                    }
                }
            }
        }
        self
    }
}

/// Why a pickle cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pickle at byte {at}: {message}")]
pub struct PickleError {
    /// Where.
    pub at: usize,
    /// What.
    pub message: String,
}

/// Reads one pickled value from `data`.
pub fn load(data: &[u8]) -> Result<Value, PickleError> {
    Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    }
    .run()
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
}

impl Machine<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, PickleError> {
        Err(PickleError {
            at: self.pos,
            message: message.into(),
        })
    }

    fn take(&mut self, n: u64) -> Result<&[u8], PickleError> {
        let left = (self.data.len() - self.pos) as u64;
        if n > left {
            return self.err(format!(
                "{n} bytes asked for, {left} left: the file is cut short"
            ));
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, PickleError> {
        let b = self.take(n as u64)?;
        Ok(b.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let Some(end) = rest.iter().position(|&c| c == b'\n') else {
            return self.err("a GLOBAL without its newline");
        };
        let s = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        match self.stack.pop() {
            Some(v) => Ok(v),
            None => self.err("the stack is empty"),
        }
    }

    /// The values above the newest mark, the mark removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let Some(m) = self.marks.pop() else {
            return self.err("no MARK");
        };
        if m > self.stack.len() {
            return self.err("a MARK above the stack");
        }
        Ok(self.stack.split_off(m))
    }

    fn top(&mut self) -> Result<&mut Value, PickleError> {
        let at = self.pos;
        self.stack.last_mut().ok_or(PickleError {
            at,
            message: "the stack is empty".into(),
        })
    }

    fn global(&mut self, module: String, name: String) -> Result<(), PickleError> {
        if !ALLOWED.contains(&(module.as_str(), name.as_str())) {
            return self.err(format!(
                "it asks for {module}.{name}, which is code, not data: refused"
            ));
        }
        self.stack.push(Value::Global(module, name));
        Ok(())
    }

    fn text(&mut self, n: u64) -> Result<(), PickleError> {
        let b = self.take(n)?.to_vec();
        match String::from_utf8(b) {
            Ok(s) => self.stack.push(Value::Str(s)),
            Err(_) => return self.err("a string that is not UTF-8"),
        }
        Ok(())
    }

    fn bytes(&mut self, n: u64) -> Result<(), PickleError> {
        let b = self.take(n)?.to_vec();
        self.stack.push(Value::Bytes(b));
        Ok(())
    }

    fn run(mut self) -> Result<Value, PickleError> {
        loop {
            let op = self.uint(1)? as u8;
            if op == b'.' {
                return self.pop();
            }
            self.step(op)?;
        }
    }

    fn step(&mut self, op: u8) -> Result<(), PickleError> {
        match op {
            0x80 => {
                self.uint(1)?; // PROTO
            }
            0x95 => {
                self.uint(8)?; // FRAME
            }
            b'(' => self.marks.push(self.stack.len()), // MARK
            b'N' => self.stack.push(Value::None),
            0x88 => self.stack.push(Value::Bool(true)),
            0x89 => self.stack.push(Value::Bool(false)),
            b'J' => {
                let v = self.uint(4)? as u32 as i32;
                self.stack.push(Value::Int(i64::from(v)));
            }
            b'K' => {
                let v = self.uint(1)?;
                self.stack.push(Value::Int(v as i64));
            }
            b'M' => {
                let v = self.uint(2)?;
                self.stack.push(Value::Int(v as i64));
            }
            0x8a => self.long1()?,
            b'G' => {
                let b = self.take(8)?;
                let v = f64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
                self.stack.push(Value::Float(v));
            }
            _ => return self.step_strings(op),
        }
        Ok(())
    }

    fn long1(&mut self) -> Result<(), PickleError> {
        let n = self.uint(1)?;
        if n > 8 {
            return self.err("an integer wider than 64 bits");
        }
        let b = self.take(n)?;
        let mut v: i64 = 0;
        for (i, &x) in b.iter().enumerate() {
            v |= i64::from(x) << (8 * i);
        }
        if n > 0 && n < 8 && b[n as usize - 1] & 0x80 != 0 {
            v -= 1i64 << (8 * n);
        }
        self.stack.push(Value::Int(v));
        Ok(())
    }

    fn step_strings(&mut self, op: u8) -> Result<(), PickleError> {
        match op {
            b'U' | b'C' => {
                let n = self.uint(1)?;
                self.bytes(n)?;
            }
            b'T' => {
                let n = self.uint(4)? as u32 as i32;
                if n < 0 {
                    return self.err("a string of negative length");
                }
                self.bytes(n as u64)?;
            }
            b'B' => {
                let n = self.uint(4)?;
                self.bytes(n)?;
            }
            0x8e => {
                let n = self.uint(8)?;
                self.bytes(n)?;
            }
            0x8c => {
                let n = self.uint(1)?;
                self.text(n)?;
            }
            b'X' => {
                let n = self.uint(4)?;
                self.text(n)?;
            }
            0x8d => {
                let n = self.uint(8)?;
                self.text(n)?;
            }
            _ => return self.step_memo(op),
        }
        Ok(())
    }

    fn step_memo(&mut self, op: u8) -> Result<(), PickleError> {
        match op {
            b'q' | b'r' | 0x94 => {
                let key = match op {
                    b'q' => self.uint(1)?,
                    b'r' => self.uint(4)?,
                    _ => self.memo.len() as u64,
                };
                let v = self.top()?.clone();
                self.memo.insert(key, v);
            }
            b'h' | b'j' => {
                let key = if op == b'h' {
                    self.uint(1)?
                } else {
                    self.uint(4)?
                };
                match self.memo.get(&key) {
                    Some(v) => self.stack.push(v.clone()),
                    None => return self.err(format!("memo {key} was never stored")),
                }
            }
            b'c' => {
                let (module, name) = (self.line()?, self.line()?);
                self.global(module, name)?;
            }
            0x93 => {
                let name = self.pop()?.text();
                let module = self.pop()?.text();
                match (module, name) {
                    (Some(m), Some(n)) => self.global(m, n)?,
                    _ => return self.err("STACK_GLOBAL without two strings"),
                }
            }
            _ => return self.step_containers(op),
        }
        Ok(())
    }

    fn step_containers(&mut self, op: u8) -> Result<(), PickleError> {
        match op {
            b'}' => self.stack.push(Value::Dict(Vec::new())),
            b']' => self.stack.push(Value::List(Vec::new())),
            b')' => self.stack.push(Value::Tuple(Vec::new())),
            b'l' => {
                let items = self.pop_mark()?;
                self.stack.push(Value::List(items));
            }
            b't' => {
                let items = self.pop_mark()?;
                self.stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < n {
                    return self.err("a TUPLE of missing values");
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.stack.push(Value::Tuple(items));
            }
            b'd' => {
                let items = self.pop_mark()?;
                self.stack.push(Value::Dict(Vec::new()));
                self.set_items(items)?;
            }
            b'a' => {
                let v = self.pop()?;
                self.append(vec![v])?;
            }
            b'e' => {
                let items = self.pop_mark()?;
                self.append(items)?;
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.set_items(vec![k, v])?;
            }
            b'u' => {
                let items = self.pop_mark()?;
                self.set_items(items)?;
            }
            _ => return self.step_objects(op),
        }
        Ok(())
    }

    fn append(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        match self.top()? {
            Value::List(l) => {
                l.extend(items);
                Ok(())
            }
            _ => self.err("APPEND to something that is not a list"),
        }
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return self.err("SETITEMS with a key and no value");
        }
        let mut it = items.into_iter();
        let mut pairs = Vec::new();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            pairs.push((k, v));
        }
        match self.top()? {
            Value::Dict(d) => {
                d.extend(pairs);
                Ok(())
            }
            _ => self.err("SETITEM on something that is not a dict"),
        }
    }

    fn step_objects(&mut self, op: u8) -> Result<(), PickleError> {
        match op {
            b'R' | 0x81 => {
                let args = self.pop()?;
                let f = self.pop()?;
                let v = Value::Call(Box::new(f), Box::new(args)).resolve_bytes();
                self.stack.push(v);
            }
            b'b' => {
                let state = self.pop()?;
                let obj = self.pop()?;
                self.stack
                    .push(Value::Build(Box::new(obj), Box::new(state)));
            }
            other => return self.err(format!("opcode 0x{other:02x} is not one data files use")),
        }
        Ok(())
    }
}

/// A NumPy `uint8` array (`numpy.core.multiarray._reconstruct` with its state): its
/// shape and bytes, C order.
pub fn ndarray_u8(v: &Value) -> Result<(Vec<usize>, Vec<u8>), String> {
    let Value::Build(obj, state) = v else {
        return Err("not a NumPy array".into());
    };
    match &**obj {
        Value::Call(f, _) if matches!(&**f, Value::Global(_, n) if n == "_reconstruct") => {}
        _ => return Err("not a NumPy array".into()),
    }
    let Some([_version, shape, dtype, fortran, raw]) = state.items() else {
        return Err("a NumPy array state that is not (version, shape, dtype, order, data)".into());
    };
    let shape: Vec<usize> = shape
        .items()
        .ok_or("a NumPy shape that is not a tuple")?
        .iter()
        .map(|d| match d {
            Value::Int(n) if *n >= 0 => Ok(*n as usize),
            _ => Err("a NumPy dimension that is not a size".to_string()),
        })
        .collect::<Result<_, _>>()?;
    let kind = match dtype {
        Value::Build(d, _) => match &**d {
            Value::Call(_, args) => args.items().and_then(|a| a.first()).and_then(Value::text),
            _ => None,
        },
        _ => None,
    };
    if kind.as_deref() != Some("u1") {
        return Err(format!("a NumPy array of {kind:?}, not uint8"));
    }
    if *fortran == Value::Bool(true) && shape.len() > 1 {
        return Err("a NumPy array in Fortran order".into());
    }
    let Value::Bytes(bytes) = raw else {
        return Err("a NumPy array without its bytes".into());
    };
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if n != Some(bytes.len()) {
        return Err(format!("shape {shape:?} but {} bytes", bytes.len()));
    }
    Ok((shape, bytes.clone()))
}
