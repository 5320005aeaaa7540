//! `torch.load(f, weights_only=True)` for state dicts: PyTorch's `.pth` files (the zip
//! of a pickle and raw storages that `torch.save` writes since PyTorch 1.6) read
//! without running any code.
//!
//! candle-core's `pickle` module interprets the pickle: it is a data-only machine that
//! builds objects and calls nothing. What a file from elsewhere needs on top of it is
//! here, because candle's `read_all` skips what it does not understand, prints to
//! stderr and trusts every size it reads:
//! - the pickle is refused when it names any global other than the tensor rebuild
//!   functions, the storage classes and `collections.OrderedDict` (PyTorch's
//!   `weights_only=True` list for a state dict), naming the global;
//! - the objects it builds are bounded in number and nesting while they are built, so
//!   that memo copies cannot blow up and a deep nesting cannot overflow the stack;
//! - every tensor's bytes are checked to lie inside its archive entry, and the entry
//!   inside the file, before anything is allocated;
//! - every error names the file (and the key).

use crate::{Error, Result};
use candle_core::pickle::{Object, Stack, TensorInfo};
use candle_core::{Device, Tensor};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// The largest pickle read (a ResNet-152's is ~40 KB).
const MAX_PICKLE_BYTES: u64 = 256 << 20;
/// The most objects one pickle object may hold (a state dict of 10,000 tensors holds
/// ~200,000): memo copies of anything larger are refused.
const MAX_OBJECTS: usize = 1 << 21;
/// The most objects measured in all, which bounds the time spent building.
const MAX_WORK: usize = 1 << 27;
/// The deepest nesting of pickle objects.
const MAX_DEPTH: usize = 200;

/// The globals a state dict's pickle may name, as `torch.load(weights_only=True)`
/// allows them for tensors and plain containers.
const ALLOWED: &[(&str, &str)] = &[
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch.nn.parameter", "Parameter"),
    ("torch", "FloatStorage"),
    ("torch", "DoubleStorage"),
    ("torch", "HalfStorage"),
    ("torch", "BFloat16Storage"),
    ("torch", "ByteStorage"),
    ("torch", "LongStorage"),
];

/// Keys under which training scripts commonly keep the model's state dict inside a
/// larger checkpoint dict (`{"epoch": 3, "state_dict": {...}}`).
const NESTED_KEYS: &[&str] = &["state_dict", "model_state_dict", "model"];

type Archive = zip::ZipArchive<BufReader<File>>;

/// Reads the state dict saved in a `.pth` file by `torch.save(model.state_dict(), f)`
/// (or a checkpoint dict holding it under `state_dict`, `model_state_dict` or
/// `model`): its tensors by key, in file order, on the CPU in their saved dtype.
///
/// # Errors
/// Naming the file: not a zip archive (truncated, or PyTorch's legacy format), a pickle
/// that names any global other than tensors and plain containers (nothing is run), a
/// pickle too large or too deeply nested, no state dict in it, a tensor of an
/// unsupported dtype or layout (naming its key), or tensor bytes missing from the
/// archive.
pub fn load_pth(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>> {
    let path = path.as_ref();
    let bad = |msg: String| Error::File {
        path: path.to_path_buf(),
        msg,
    };
    let file = File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| bad(not_zip(path, e)))?;
    let entry = pickle_entry(&mut zip).map_err(&bad)?;
    let bytes = read_entry(&mut zip, &entry, file_len).map_err(&bad)?;
    let object = run_pickle(&bytes).map_err(|e| bad(format!("{entry}: {e}")))?;
    check_globals(&object).map_err(&bad)?;
    let dir = Path::new(entry.strip_suffix(".pkl").unwrap_or(&entry)).to_path_buf();
    let mut out = Vec::new();
    for (key, value) in in_file_order(state_dict(object).map_err(&bad)?) {
        let name = match &key {
            Object::Unicode(s) => s.clone(),
            _ => continue,
        };
        let info = match value.into_tensor_info(key, &dir) {
            Ok(Some(info)) => info,
            Ok(None) => continue,
            Err(e) => return Err(bad(format!("{name}: {e}"))),
        };
        let t = read_tensor(&mut zip, &info, file_len).map_err(|e| bad(format!("{name}: {e}")))?;
        out.push((name, t));
    }
    Ok(out)
}

fn not_zip(path: &Path, e: zip::result::ZipError) -> String {
    let mut head = [0u8; 2];
    let legacy = File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| head == [0x80, 0x02])
        .unwrap_or(false);
    if legacy {
        "saved in PyTorch's legacy format (before 1.6), which wick does not read: load it \
         in Python and save it again with torch.save"
            .into()
    } else {
        format!("not a PyTorch archive (the zip torch.save writes): {e}; is the file truncated?")
    }
}

/// The name of the archive's one `…/data.pkl` entry.
fn pickle_entry(zip: &mut Archive) -> std::result::Result<String, String> {
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok())
        .filter(|n| n.ends_with("data.pkl"))
        .map(|n| n.into_owned())
        .collect();
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("the archive holds no data.pkl: not written by torch.save".into()),
        [a, b, ..] => Err(format!("the archive holds two pickles ({a}, {b})")),
    }
}

/// An archive entry's bytes, refused when it claims more than the file holds.
fn read_entry(
    zip: &mut Archive,
    name: &str,
    file_len: u64,
) -> std::result::Result<Vec<u8>, String> {
    let mut entry = zip.by_name(name).map_err(|e| format!("{name}: {e}"))?;
    let size = entry.size();
    if size > MAX_PICKLE_BYTES || size > file_len.saturating_mul(64) {
        return Err(format!("{name} claims {size} bytes: refused"));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(bytes)
}

/// Runs candle's pickle machine over `bytes` one opcode at a time, measuring the
/// object each opcode leaves on top so that copies and nesting stay bounded.
fn run_pickle(mut r: &[u8]) -> std::result::Result<Object, String> {
    let mut stack = Stack::empty();
    let mut work = 0usize;
    loop {
        let Some(&op) = r.first() else {
            return Err("the pickle ends before its STOP opcode: truncated".into());
        };
        check_opcode(op, r)?;
        let stop = stack.read(&mut r).map_err(|e| e.to_string())?;
        if stop {
            break;
        }
        if let Some(top) = stack.stack().last() {
            work += measure(top)?;
            if work > MAX_WORK {
                return Err("the pickle takes too long to build: refused".into());
            }
        }
    }
    stack.finalize().map_err(|e| e.to_string())
}

/// Refuses, before candle's machine runs it, an opcode whose argument it would trust:
/// `BINUNICODE` allocates the length it reads (one past the end of the data is
/// refused), `LONG1` shifts each of its bytes into 64 bits (more than 8 overflow).
fn check_opcode(op: u8, r: &[u8]) -> std::result::Result<(), String> {
    match op {
        b'X' if r.len() >= 5 => {
            let len = u32::from_le_bytes([r[1], r[2], r[3], r[4]]) as usize;
            if len > r.len() - 5 {
                return Err(format!(
                    "a string of {len} bytes runs past the end of the pickle"
                ));
            }
        }
        0x8a if r.len() >= 2 && r[1] > 8 => {
            return Err(format!(
                "an integer of {} bytes (LONG1) does not fit 64 bits",
                r[1]
            ));
        }
        _ => {}
    }
    Ok(())
}

/// The number of objects in `obj`, refused past `MAX_OBJECTS` objects or `MAX_DEPTH`
/// levels (walked without recursion).
fn measure(obj: &Object) -> std::result::Result<usize, String> {
    let mut todo = vec![(obj, 1usize)];
    let mut n = 0usize;
    while let Some((o, depth)) = todo.pop() {
        n += 1;
        if n > MAX_OBJECTS {
            return Err(format!(
                "the pickle builds more than {MAX_OBJECTS} objects: refused"
            ));
        }
        if depth > MAX_DEPTH {
            return Err(format!(
                "the pickle nests objects deeper than {MAX_DEPTH}: refused"
            ));
        }
        match o {
            Object::Tuple(v) | Object::List(v) => todo.extend(v.iter().map(|c| (c, depth + 1))),
            Object::Dict(kv) => {
                for (k, v) in kv {
                    todo.push((k, depth + 1));
                    todo.push((v, depth + 1));
                }
            }
            Object::Reduce { callable, args } | Object::Build { callable, args } => {
                todo.push((callable, depth + 1));
                todo.push((args, depth + 1));
            }
            Object::PersistentLoad(p) => todo.push((p, depth + 1)),
            _ => {}
        }
    }
    Ok(n)
}

/// Refuses a pickle that names any global outside [`ALLOWED`].
fn check_globals(obj: &Object) -> std::result::Result<(), String> {
    let mut todo = vec![obj];
    while let Some(o) = todo.pop() {
        match o {
            Object::Class {
                module_name,
                class_name,
            } => {
                let ok = ALLOWED
                    .iter()
                    .any(|(m, c)| m == module_name && c == class_name);
                if !ok {
                    return Err(format!(
                        "the pickle asks for `{module_name}.{class_name}`, which a state dict \
                         never holds: refused, nothing was run (wick reads tensors and plain \
                         containers only, as torch.load(weights_only=True); if you trust the \
                         file, load it in Python and save its state_dict)"
                    ));
                }
            }
            Object::Tuple(v) | Object::List(v) => todo.extend(v),
            Object::Dict(kv) => todo.extend(kv.iter().flat_map(|(k, v)| [k, v])),
            Object::Reduce { callable, args } | Object::Build { callable, args } => {
                todo.push(callable);
                todo.push(args);
            }
            Object::PersistentLoad(p) => todo.push(p),
            _ => {}
        }
    }
    Ok(())
}

fn is_tensor(o: &Object) -> bool {
    matches!(o, Object::Reduce { .. })
}

fn key_is(k: &Object, name: &str) -> bool {
    matches!(k, Object::Unicode(s) if s == name)
}

/// The state dict: the top-level dict when it holds tensors, else the dict under one of
/// [`NESTED_KEYS`].
fn state_dict(obj: Object) -> std::result::Result<Vec<(Object, Object)>, String> {
    let Object::Dict(items) = obj else {
        return Err("the pickle holds no dict of tensors (a state_dict)".into());
    };
    if items.iter().any(|(_, v)| is_tensor(v)) {
        return Ok(items);
    }
    for name in NESTED_KEYS {
        if let Some((_, Object::Dict(inner))) = items.iter().find(|(k, _)| key_is(k, name)) {
            if inner.iter().any(|(_, v)| is_tensor(v)) {
                return Ok(inner.clone());
            }
        }
    }
    Err(format!(
        "the pickle holds no dict of tensors (a state_dict), at the top or under {}",
        NESTED_KEYS.join(", ")
    ))
}

/// The items in the order they were saved. Python's pickler writes a dict's items in
/// batches of 1000 (`SETITEMS`), and candle's machine appends each batch in reverse.
fn in_file_order(mut items: Vec<(Object, Object)>) -> Vec<(Object, Object)> {
    for batch in items.chunks_mut(1000) {
        batch.reverse();
    }
    items
}

/// One tensor's bytes from its storage entry, checked against the entry's size first.
fn read_tensor(
    zip: &mut Archive,
    info: &TensorInfo,
    file_len: u64,
) -> std::result::Result<Tensor, String> {
    let layout = &info.layout;
    let fortran = layout.dims().len() > 1 && layout.is_fortran_contiguous();
    if !layout.is_contiguous() && !fortran {
        return Err(format!(
            "a strided view ({:?}) is not supported: save .contiguous() tensors",
            layout.stride()
        ));
    }
    let bytes = layout.shape().elem_count() * info.dtype.size_in_bytes();
    let start = layout.start_offset() as u64;
    let mut entry = zip
        .by_name(&info.path)
        .map_err(|e| format!("{}: {e}", info.path))?;
    let size = entry.size();
    if size > file_len || start + bytes as u64 > size {
        return Err(format!(
            "its storage {} holds {size} bytes, the tensor needs {} from offset {start}: the file is corrupt",
            info.path, bytes
        ));
    }
    std::io::copy(&mut (&mut entry).take(start), &mut std::io::sink())
        .map_err(|e| e.to_string())?;
    let mut data = vec![0u8; bytes];
    entry
        .read_exact(&mut data)
        .map_err(|e| format!("{}: {e}", info.path))?;
    let t = if fortran {
        let rev: Vec<usize> = layout.dims().iter().rev().copied().collect();
        let perm: Vec<usize> = (0..rev.len()).rev().collect();
        Tensor::from_raw_buffer(&data, info.dtype, &rev, &Device::Cpu)
            .and_then(|t| t.permute(perm))
            .and_then(|t| t.contiguous())
    } else {
        Tensor::from_raw_buffer(&data, info.dtype, layout.dims(), &Device::Cpu)
    };
    t.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pickle that doubles one object 40 times through the memo.
    fn memo_bomb() -> Vec<u8> {
        let mut p = vec![0x80, 2, b']', b'q', 0];
        for _ in 0..40 {
            p.extend([b'h', 0, b'h', 0, 0x86, b'q', 0]);
        }
        p.push(b'.');
        p
    }

    #[test]
    fn memo_copies_are_bounded() {
        let e = run_pickle(&memo_bomb()).unwrap_err();
        assert!(e.contains("more than"), "{e}");
    }

    #[test]
    fn nesting_is_bounded() {
        let mut p = vec![0x80, 2, b']'];
        p.extend(std::iter::repeat_n(0x85, 100_000));
        p.push(b'.');
        let e = run_pickle(&p).unwrap_err();
        assert!(e.contains("deeper"), "{e}");
    }

    #[test]
    fn a_string_past_the_end_is_refused_before_allocation() {
        let p = [0x80, 2, b'X', 0xff, 0xff, 0xff, 0xff, b'a', b'.'];
        let e = run_pickle(&p).unwrap_err();
        assert!(e.contains("runs past the end"), "{e}");
    }

    #[test]
    fn truncated_pickle_is_refused() {
        let e = run_pickle(&[0x80, 2, b'}']).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn an_integer_wider_than_64_bits_is_refused() {
        // found by tests/pth_props.rs: candle shifts each byte of a LONG1 into an i64
        let mut p = vec![0x80, 2, 0x8a, 9];
        p.extend_from_slice(&[1; 9]);
        p.push(b'.');
        let e = run_pickle(&p).unwrap_err();
        assert!(e.contains("LONG1"), "{e}");
        let ok = run_pickle(&[0x80, 2, 0x8a, 2, 1, 1, b'.']).unwrap();
        assert!(matches!(ok, Object::Long(257)), "{ok:?}");
    }

    #[test]
    fn foreign_globals_are_refused() {
        let p = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.";
        let obj = run_pickle(p).unwrap();
        let e = check_globals(&obj).unwrap_err();
        assert!(e.contains("`os.system`"), "{e}");
    }
}
