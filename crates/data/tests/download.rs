//! Downloading against a local HTTP server on 127.0.0.1 that serves the shared MNIST
//! files (`../shared/datasets/mnist`), or small files the test makes when those are
//! absent: checksums, mirror fallback, atomic rename, and the error when all fail.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use wick_data::download::{download, md5_file, Resource};
use wick_data::testing::serve;
use wick_data::{Dataset, Mnist, MnistKind, Split};

fn shared_mnist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/mnist")
}

fn leaked(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn resource(dir: &Path, file: &str) -> Resource {
    Resource {
        file: leaked(file.to_string()),
        md5: leaked(md5_file(&dir.join(file)).unwrap()),
    }
}

#[test]
fn official_checksums_of_the_shared_test_set() {
    let dir = shared_mnist();
    if !dir.is_dir() {
        eprintln!("skipping: {} not present", dir.display());
        return;
    }
    // The shared t10k files are the official ones: their MD5s are torchvision's.
    for r in MnistKind::Mnist.resources(Split::Test) {
        assert_eq!(md5_file(&dir.join(r.file)).unwrap(), r.md5, "{}", r.file);
    }
}

#[test]
fn downloads_verifies_and_falls_back_to_the_next_mirror() {
    let made = tempfile::tempdir().unwrap();
    let src = if shared_mnist().is_dir() {
        shared_mnist()
    } else {
        let bytes = wick_data::idx::encode_u8(&[3], &[1, 2, 3]);
        std::fs::write(made.path().join("t10k-labels-idx1-ubyte.gz"), bytes).unwrap();
        made.path().to_path_buf()
    };
    let (base, count) = serve(src.clone(), 16).unwrap();
    let res = resource(&src, "t10k-labels-idx1-ubyte.gz");
    let out = tempfile::tempdir().unwrap();
    let dest_dir = out.path().join("MNIST/raw");
    // first mirror 404s, second serves a corrupted file, third a cut one, fourth is right
    let mirrors = vec![
        format!("{base}/missing-dir"),
        format!("{base}/broken/"),
        format!("{base}/cut"),
        format!("{base}/"),
    ];
    let path = download(&mirrors, &res, &dest_dir).unwrap();
    assert_eq!(path, dest_dir.join(res.file));
    assert_eq!(md5_file(&path).unwrap(), res.md5);
    assert_eq!(count.load(Ordering::SeqCst), 4);
    // no temporary file is left behind
    let names: Vec<String> = std::fs::read_dir(&dest_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![res.file.to_string()]);
}

#[test]
fn all_mirrors_failing_names_each_failure_and_leaves_nothing() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f.gz"), b"some bytes").unwrap();
    let (base, _) = serve(src.path().to_path_buf(), 8).unwrap();
    let res = Resource {
        file: "f.gz",
        md5: "00000000000000000000000000000000",
    };
    let out = tempfile::tempdir().unwrap();
    let err = download(
        &[format!("{base}/"), format!("{base}/nothing/")],
        &res,
        out.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains("404"), "{err}");
    assert!(err.contains("could not download f.gz"), "{err}");
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "nothing half-written is left"
    );
    // a server that is not there at all
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = download(&[format!("http://{dead}/")], &res, out.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&dead.to_string()), "{err}");
}

#[test]
fn mnist_load_downloads_into_the_torchvision_layout() {
    let src = shared_mnist();
    if !src.is_dir() {
        eprintln!("skipping: {} not present", src.display());
        return;
    }
    let (base, _) = serve(src.clone(), 8).unwrap();
    let root = tempfile::tempdir().unwrap();
    // The official test split, checked against torchvision's checksums.
    let ds = Mnist::load(
        MnistKind::Mnist,
        root.path(),
        Split::Test,
        true,
        Some(&[format!("{base}/")]),
    )
    .unwrap();
    assert_eq!(ds.len(), 10_000);
    assert!(root
        .path()
        .join("MNIST/raw/t10k-images-idx3-ubyte.gz")
        .is_file());
    assert_eq!(
        ds.get(0).unwrap().target,
        wick_data::Target::Class(7),
        "the first test digit is a 7"
    );
    // found again without a server
    let again = Mnist::load(MnistKind::Mnist, root.path(), Split::Test, false, None).unwrap();
    assert_eq!(again.len(), 10_000);
    // without download and without files: a message that says where files go
    let empty = tempfile::tempdir().unwrap();
    let err = Mnist::load(MnistKind::Mnist, empty.path(), Split::Test, false, None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("t10k-images-idx3-ubyte.gz") && err.contains("MNIST/raw"),
        "{err}"
    );
}

#[test]
fn flat_root_with_the_other_dataset_is_skipped() {
    let src = shared_mnist();
    if !src.is_dir() || !Path::new("/usr/share/datasets/fashion-mnist").is_dir() {
        eprintln!("skipping: needs the shared MNIST and Debian's Fashion-MNIST");
        return;
    }
    // MNIST digits flat in the root must not be taken for Fashion-MNIST: the search
    // goes on to the system-wide Fashion-MNIST.
    let ds = Mnist::load(MnistKind::FashionMnist, &src, Split::Test, false, None).unwrap();
    assert!(
        ds.images_path
            .starts_with("/usr/share/datasets/fashion-mnist"),
        "{}",
        ds.images_path.display()
    );
    let ds = Mnist::load(MnistKind::Mnist, &src, Split::Test, false, None).unwrap();
    assert!(ds.images_path.starts_with(&src));
}

#[test]
fn corrupt_files_name_the_file() {
    let root = tempfile::tempdir().unwrap();
    let raw = root.path().join("MNIST/raw");
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::write(
        raw.join("t10k-images-idx3-ubyte"),
        wick_data::idx::encode_u8(&[2, 2, 2], &[0; 8]),
    )
    .unwrap();
    std::fs::write(
        raw.join("t10k-labels-idx1-ubyte"),
        wick_data::idx::encode_u8(&[3], &[1, 2, 3]),
    )
    .unwrap();
    let err = Mnist::load(MnistKind::Mnist, root.path(), Split::Test, false, None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("t10k-labels-idx1-ubyte") && err.contains("3 labels for 2 images"),
        "{err}"
    );
    let small = wick_data::idx::encode_u8(&[3, 2, 2], &[0; 12]);
    std::fs::write(raw.join("t10k-images-idx3-ubyte"), small).unwrap();
    let err = Mnist::load(MnistKind::Mnist, root.path(), Split::Test, false, None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("t10k-images-idx3-ubyte") && err.contains("2x2"),
        "{err}"
    );
    std::fs::write(raw.join("t10k-labels-idx1-ubyte"), b"garbage").unwrap();
    let err = Mnist::load(MnistKind::Mnist, root.path(), Split::Test, false, None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("t10k-labels-idx1-ubyte") && err.contains("magic number"),
        "{err}"
    );
}
