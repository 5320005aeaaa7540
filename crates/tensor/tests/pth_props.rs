//! `load_pth` fed damaged files: PyTorch's own `small.pth` with its pickle truncated,
//! overwritten in places or replaced by arbitrary bytes, and its tensor records cut
//! short, each written back as a valid zip. Every outcome is tensors or an error naming
//! the file: never a panic, and nothing allocated beyond what the file justifies. The
//! `pth` fuzz target's property, in the normal suite.

use proptest::prelude::*;
use std::io::{Read, Write};
use std::path::Path;
use wick_tensor::pth::load_pth;

/// The entries of the fixture (name, bytes), in archive order.
fn entries() -> Vec<(String, Vec<u8>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/fixtures/pth/small.pth");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            (f.name().unwrap().to_string(), bytes)
        })
        .collect()
}

/// The entries as a stored (uncompressed) zip, as torch.save writes them.
fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap();
}

/// How the pickle (or a tensor record) is damaged.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(usize),
    Overwrite(Vec<(usize, u8)>),
    Replace(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0usize..4096).prop_map(Damage::Truncate),
        proptest::collection::vec((0usize..4096, any::<u8>()), 1..8).prop_map(Damage::Overwrite),
        proptest::collection::vec(any::<u8>(), 0..512).prop_map(Damage::Replace),
    ]
}

fn apply(bytes: &mut Vec<u8>, d: &Damage) {
    match d {
        Damage::Truncate(n) => bytes.truncate(n % (bytes.len() + 1)),
        Damage::Overwrite(edits) => {
            for &(i, b) in edits {
                if !bytes.is_empty() {
                    let n = bytes.len();
                    bytes[i % n] = b;
                }
            }
        }
        Damage::Replace(v) => *bytes = v.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_pth_gives_tensors_or_an_error_naming_the_file(
        d in damage(),
        in_pickle in any::<bool>(),
        which in 0usize..64,
    ) {
        let mut e = entries();
        let target = match in_pickle {
            true => e.iter().position(|(n, _)| n.ends_with("data.pkl")).unwrap(),
            false => {
                let data: Vec<usize> = e
                    .iter()
                    .enumerate()
                    .filter(|(_, (n, _))| n.contains("/data/"))
                    .map(|(i, _)| i)
                    .collect();
                data[which % data.len()]
            }
        };
        apply(&mut e[target].1, &d);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.pth");
        write_zip(&path, &e);
        if let Err(err) = load_pth(&path) {
            let msg = err.to_string();
            prop_assert!(msg.contains("damaged.pth"), "{}", msg);
        }
    }

    #[test]
    fn arbitrary_bytes_are_refused_naming_the_file(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("noise.pth");
        std::fs::write(&path, &bytes).unwrap();
        let err = load_pth(&path).unwrap_err().to_string();
        prop_assert!(err.contains("noise.pth"), "{}", err);
    }
}
