//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `wick` with `WICK_DATA` set to `data` (or to a folder that does not exist).
pub fn wick(args: &[&str], data: Option<&Path>, cwd: &Path) -> Output {
    wick_with(args, data, cwd, &[])
}

pub fn wick_with(args: &[&str], data: Option<&Path>, cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wick"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("WICK_MIRRORS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    match data {
        Some(d) => cmd.env("WICK_DATA", d),
        None => cmd.env("WICK_DATA", cwd.join("no-data-here")),
    };
    cmd.output().expect("run wick")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tiny MNIST in torchvision layout: a horizontal bar whose row is the label.
pub fn write_tiny_mnist(dir: &Path, n_train: usize, n_test: usize) {
    write_tiny_idx(dir, "MNIST", n_train, n_test);
}

/// A tiny IDX dataset under `dir/<class_name>/raw` (`MNIST`, `FashionMNIST`).
pub fn write_tiny_idx(dir: &Path, class_name: &str, n_train: usize, n_test: usize) {
    use std::io::Write;
    let raw = dir.join(class_name).join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let make = |n: usize, seed: u64| {
        let mut imgs = Vec::with_capacity(n * 784);
        let mut labels = Vec::with_capacity(n);
        let mut s = seed;
        for i in 0..n {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let label = (i % 10) as u8;
            let col = ((s >> 33) % 20) as usize;
            let mut img = vec![0u8; 784];
            for r in 0..3 {
                for c in 0..6 {
                    img[(label as usize * 2 + r + 3) * 28 + col + c] = 255;
                }
            }
            imgs.extend_from_slice(&img);
            labels.push(label);
        }
        (imgs, labels)
    };
    let write = |name: &str, dims: &[u32], data: &[u8]| {
        let mut f = std::fs::File::create(raw.join(name)).unwrap();
        f.write_all(&[0, 0, 8, dims.len() as u8]).unwrap();
        for d in dims {
            f.write_all(&d.to_be_bytes()).unwrap();
        }
        f.write_all(data).unwrap();
    };
    let (ti, tl) = make(n_train, 1);
    write("train-images-idx3-ubyte", &[n_train as u32, 28, 28], &ti);
    write("train-labels-idx1-ubyte", &[n_train as u32], &tl);
    let (si, sl) = make(n_test, 2);
    write("t10k-images-idx3-ubyte", &[n_test as u32, 28, 28], &si);
    write("t10k-labels-idx1-ubyte", &[n_test as u32], &sl);
}

/// The one run directory under `runs` (`runs/<name>/<timestamp>`).
pub fn only_run_dir(runs: &Path) -> PathBuf {
    let name = std::fs::read_dir(runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut stamps: Vec<_> = std::fs::read_dir(name)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(stamps.len(), 1, "{stamps:?}");
    stamps.pop().unwrap()
}
