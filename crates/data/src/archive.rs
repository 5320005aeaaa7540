//! Unpacking `.tar.gz` archives (CIFAR's), regular files only, never outside the
//! destination folder.

use crate::{Error, Result};
use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

fn octal(field: &[u8]) -> Option<u64> {
    let s: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Extracts the regular files of the (gzipped or plain) tar archive `archive` into
/// `dest`, returning their paths. Entries with absolute paths or `..` are refused;
/// links and special files are skipped.
pub fn extract_tar(archive: &Path, dest: &Path) -> Result<Vec<PathBuf>> {
    let f = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let mut head = BufReader::new(f);
    let mut magic = [0u8; 2];
    let gz = head.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    let f = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let mut r: Box<dyn Read> = if gz {
        Box::new(GzDecoder::new(BufReader::new(f)))
    } else {
        Box::new(BufReader::new(f))
    };
    let corrupt = |m: String| Error::Corrupt {
        path: archive.to_path_buf(),
        message: m,
    };
    let mut out = Vec::new();
    let mut long_name: Option<String> = None;
    let mut header = [0u8; 512];
    loop {
        if let Err(e) = r.read_exact(&mut header) {
            return Err(corrupt(format!(
                "the archive ends without its end marker ({e})"
            )));
        }
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let sum: u64 = header
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        if octal(&header[148..156]) != Some(sum) {
            return Err(corrupt("a tar header's checksum is wrong".into()));
        }
        let size = octal(&header[124..136])
            .ok_or_else(|| corrupt("a tar header's size is not a number".into()))?;
        let kind = header[156];
        let mut name = text(&header[0..100]);
        let prefix = text(&header[345..500]);
        if &header[257..262] == b"ustar" && !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        if let Some(n) = long_name.take() {
            name = n;
        }
        let padded = size.div_ceil(512) * 512;
        match kind {
            b'L' => {
                let mut buf = vec![0u8; padded as usize];
                r.read_exact(&mut buf)
                    .map_err(|e| corrupt(format!("cut short ({e})")))?;
                long_name = Some(text(&buf[..size as usize]));
                continue;
            }
            b'0' | 0 => {
                let rel = Path::new(&name);
                if rel.is_absolute()
                    || rel
                        .components()
                        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
                {
                    return Err(corrupt(format!(
                        "refusing to extract {name:?} outside the folder"
                    )));
                }
                let path = dest.join(rel);
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
                }
                let tmp = path.with_extension(format!("part-{}", std::process::id()));
                let mut w = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
                let mut left = size;
                let mut buf = vec![0u8; 1 << 16];
                while left > 0 {
                    let n = (left as usize).min(buf.len());
                    r.read_exact(&mut buf[..n])
                        .map_err(|e| corrupt(format!("{name} is cut short ({e})")))?;
                    w.write_all(&buf[..n]).map_err(|e| Error::io(&tmp, e))?;
                    left -= n as u64;
                }
                drop(w);
                std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
                std::io::copy(&mut (&mut r).take(padded - size), &mut std::io::sink())
                    .map_err(|e| Error::io(archive, e))?;
                out.push(path);
            }
            _ => {
                // directories are made as needed; links, pax headers and the like skipped
                std::io::copy(&mut (&mut r).take(padded), &mut std::io::sink())
                    .map_err(|e| Error::io(archive, e))?;
            }
        }
    }
    Ok(out)
}

/// Writes a gzipped tar archive of `(name, bytes)` files (for tests and tools).
pub fn write_tar_gz(path: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    let mut tar = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        tar.extend_from_slice(&h);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.resize(tar.len() + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).map_err(|e| Error::io(path, e))?;
    let bytes = gz.finish().map_err(|e| Error::io(path, e))?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_refuses_escapes() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.tar.gz");
        write_tar_gz(&a, &[("x/one.bin", b"hello"), ("x/two.txt", &[7u8; 1000])]).unwrap();
        let out = extract_tar(&a, &d.path().join("out")).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(
            std::fs::read(d.path().join("out/x/one.bin")).unwrap(),
            b"hello"
        );
        assert_eq!(std::fs::read(&out[1]).unwrap(), vec![7u8; 1000]);
        write_tar_gz(&a, &[("../evil", b"x")]).unwrap();
        let e = extract_tar(&a, &d.path().join("out"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside"), "{e}");
        let mut bytes = std::fs::read(&a).unwrap();
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&a, bytes).unwrap();
        assert!(extract_tar(&a, &d.path().join("out")).is_err());
    }
}
