//! CIFAR's python version: the batches Python's `pickle` writes (committed fixtures from
//! `scripts/cifar_pickle_fixture.py`, protocols 2 and 4, NumPy 2) and the Python 2
//! form the original archives have (written here opcode by opcode) read to the same
//! pixels and labels; a damaged, cut or hostile file is an error naming it.

use proptest::prelude::*;
use std::path::{Path, PathBuf};
use wick_data::pickle::{self, Value};
use wick_data::{Cifar, CifarKind, Dataset, Error, Input, Split, Target};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/fixtures/cifar-pickle")
}

/// Pixel `(row, col, channel)` of fixture image `k`: byte `ch·1024 + row·32 + col` of
/// its CHW record is `(k·7 + that index) mod 256`.
fn check_image(ds: &Cifar, i: usize, k: usize) {
    let s = ds.get(i).unwrap();
    let Input::Image(img) = s.input else {
        panic!("not an image")
    };
    assert_eq!((img.height, img.width, img.channels), (32, 32, 3));
    for (r, c, ch) in [(0, 0, 0), (5, 17, 1), (31, 31, 2)] {
        let chw = ch * 1024 + r * 32 + c;
        let want = ((k * 7 + chw) % 256) as u8;
        assert_eq!(
            img.data[(r * 32 + c) * 3 + ch],
            want,
            "image {i} at {r},{c},{ch}"
        );
    }
}

#[test]
fn the_python_batches_read_as_torchvision_reads_them() {
    let root = fixtures();
    let train = Cifar::load(CifarKind::Cifar10, &root, Split::Train, false, None).unwrap();
    assert_eq!(train.len(), 10);
    assert_eq!(train.classes()[0], "airplane");
    assert_eq!(train.classes()[9], "truck");
    for i in 0..10 {
        check_image(&train, i, i);
        assert_eq!(train.get(i).unwrap().target, Target::Class(i as u32 % 10));
    }
    let test = Cifar::load(CifarKind::Cifar10, &root, Split::Test, false, None).unwrap();
    assert_eq!(test.len(), 3);
    check_image(&test, 2, 102);

    let c100 = Cifar::load(CifarKind::Cifar100, &root, Split::Test, false, None).unwrap();
    assert_eq!(c100.len(), 2);
    assert_eq!(c100.get(1).unwrap().target, Target::Class(201 % 100));
    assert_eq!(c100.coarse_labels(), [0, 1]);
    assert_eq!(c100.classes()[99], "fine99");
    check_image(&c100, 0, 200);
}

/// A Python 2 `cPickle.dump(batch, f, 2)` of a CIFAR-10 batch of `n` images, the form
/// of the original `cifar-10-batches-py` files: `str` keys and data as BINSTRING.
fn py2_batch(n: usize, data_len: u32) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'}', b'q', 1, b'('];
    let key = |p: &mut Vec<u8>, k: &str| {
        p.push(b'U');
        p.push(k.len() as u8);
        p.extend(k.as_bytes());
    };
    key(&mut p, "labels");
    p.extend([b']', b'(']);
    for i in 0..n {
        p.extend([b'K', (i % 10) as u8]);
    }
    p.push(b'e');
    key(&mut p, "data");
    p.extend(b"cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85");
    p.extend(b"U\x01b\x87R(K\x01");
    p.extend([b'M', n as u8, 0, b'M', 0x00, 0x0c, 0x86]);
    p.extend(b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb");
    p.push(0x89);
    p.push(b'T');
    p.extend(data_len.to_le_bytes());
    p.extend((0..n * 3072).map(|i| (i % 251) as u8));
    p.extend([b't', b'b', b'u', b'.']);
    p
}

#[test]
fn python_2_pickles_read_too() {
    let v = pickle::load(&py2_batch(2, 6144)).unwrap();
    let (shape, data) = pickle::ndarray_u8(v.get("data").unwrap()).unwrap();
    assert_eq!(shape, [2, 3072]);
    assert_eq!(data[3073], (3073 % 251) as u8);
    assert_eq!(
        v.get("labels"),
        Some(&Value::List(vec![Value::Int(0), Value::Int(1)]))
    );
}

/// A CIFAR-10 python folder in `dir` whose `test_batch` is `bytes`.
fn folder_with_test_batch(dir: &Path, bytes: &[u8]) -> PathBuf {
    let d = dir.join("cifar-10-batches-py");
    std::fs::create_dir_all(&d).unwrap();
    let meta = fixtures().join("cifar-10-batches-py/batches.meta");
    std::fs::copy(meta, d.join("batches.meta")).unwrap();
    std::fs::write(d.join("test_batch"), bytes).unwrap();
    d.join("test_batch")
}

fn names(e: &Error, path: &Path) -> bool {
    e.to_string().contains(&path.display().to_string())
}

#[test]
fn damaged_cut_or_hostile_files_are_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let good = py2_batch(2, 6144);
    let cases: [(&str, Vec<u8>); 4] = [
        ("cut short", good[..good.len() - 100].to_vec()),
        ("claims 4 GiB", py2_batch(2, u32::MAX)),
        ("data of another size", py2_batch(2, 6000)),
        ("runs code", b"cos\nsystem\n(S'echo hi'\ntR.".to_vec()),
    ];
    for (what, bytes) in cases {
        let file = folder_with_test_batch(tmp.path(), &bytes);
        let e = Cifar::load(CifarKind::Cifar10, tmp.path(), Split::Test, false, None)
            .err()
            .unwrap_or_else(|| panic!("{what}: read"));
        assert!(names(&e, &file), "{what}: {e}");
        if what == "runs code" {
            assert!(e.to_string().contains("os.system"), "{e}");
        }
    }
    let file = folder_with_test_batch(tmp.path(), &good);
    let ok = Cifar::load(CifarKind::Cifar10, tmp.path(), Split::Test, false, None).unwrap();
    assert_eq!(ok.len(), 2, "{}", file.display());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pickle_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = pickle::load(&bytes);
    }

    #[test]
    fn damaged_batches_never_panic(at in 0usize..6300, byte in any::<u8>(), cut in 0usize..6300) {
        let mut p = py2_batch(2, 6144);
        let at = at % p.len();
        p[at] = byte;
        p.truncate(p.len() - cut.min(p.len()));
        if let Ok(v) = pickle::load(&p) {
            if let Some(d) = v.get("data") {
                let _ = pickle::ndarray_u8(d);
            }
        }
    }
}
