//! The IDX format of MNIST and its relatives: a big-endian header
//! (`0x00 0x00 dtype ndim`, then `ndim` u32 dimensions) followed by the data.
//! Files may be gzipped (detected by content, not by name).

use crate::{Error, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

/// An unsigned-byte IDX array.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxU8 {
    /// The dimensions from the header.
    pub dims: Vec<usize>,
    /// The data, `∏dims` bytes.
    pub data: Vec<u8>,
}

/// Reads a whole file, gunzipping it if it starts with the gzip magic bytes.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| Error::Corrupt {
                path: path.to_path_buf(),
                message: format!("gzip stream is damaged ({e})"),
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an IDX file of unsigned bytes with `ndim` dimensions (3 for images, 1 for
/// labels), checking the magic number and that the size matches the header.
pub fn read_u8(path: &Path, ndim: usize) -> Result<IdxU8> {
    let bytes = read_maybe_gz(path)?;
    parse_u8(&bytes, ndim).map_err(|message| Error::Corrupt {
        path: path.to_path_buf(),
        message,
    })
}

/// [`read_u8`] on bytes already in memory; the error is a plain message.
pub fn parse_u8(bytes: &[u8], ndim: usize) -> std::result::Result<IdxU8, String> {
    if bytes.len() < 4 {
        return Err(format!(
            "{} bytes is too short for an IDX header",
            bytes.len()
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let expected = 0x0800 | ndim as u32;
    if magic != expected {
        return Err(format!(
            "magic number {magic:#010x} is not an IDX file of unsigned bytes with {ndim} \
             dimension(s) (expected {expected:#010x})"
        ));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err("the IDX header is cut short".into());
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let n = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("the header's dimensions {dims:?} are impossibly large"))?;
    let body = &bytes[header..];
    if body.len() != n {
        return Err(format!(
            "the header announces {dims:?} = {n} bytes of data, but the file holds {}",
            body.len()
        ));
    }
    Ok(IdxU8 {
        dims,
        data: body.to_vec(),
    })
}

/// Encodes an unsigned-byte IDX file (for tests and tools).
pub fn encode_u8(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_checks() {
        let enc = encode_u8(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let idx = parse_u8(&enc, 3).unwrap();
        assert_eq!(idx.dims, vec![2, 2, 3]);
        assert_eq!(idx.data[11], 12);
        assert!(parse_u8(&enc, 1).unwrap_err().contains("magic number"));
        assert!(parse_u8(&enc[..enc.len() - 1], 3)
            .unwrap_err()
            .contains("holds 11"));
        assert!(parse_u8(&enc[..2], 3).unwrap_err().contains("too short"));
    }

    #[test]
    fn gz_detected_by_content() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let enc = encode_u8(&[3], &[7, 8, 9]);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&enc).unwrap();
        let p = dir.path().join("labels-no-gz-suffix");
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        assert_eq!(read_u8(&p, 1).unwrap().data, vec![7, 8, 9]);
        let mut bad = std::fs::read(&p).unwrap();
        bad.truncate(bad.len() / 2);
        std::fs::write(&p, bad).unwrap();
        let e = read_u8(&p, 1).unwrap_err().to_string();
        assert!(
            e.contains("labels-no-gz-suffix") && e.contains("corrupt"),
            "{e}"
        );
    }
}
