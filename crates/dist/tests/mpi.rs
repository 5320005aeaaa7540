//! The MPI process group under a real `mpirun`: the test re-runs this test binary as 3
//! ranks (`mpi_child`), which check every collective against what each rank knows the
//! others sent.
#![cfg(feature = "mpi")]

use candle_core::{DType, Device, Tensor, Var};
use std::process::Command;
use wick_dist::{average_gradients, Mpi, ProcessGroup};

const CHILD: &str = "WICK_DIST_MPI_CHILD";

#[test]
fn collectives_under_mpirun() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("mpirun")
        .args(["--oversubscribe", "-n", "3"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env(CHILD, "1")
        .arg(exe)
        .args(["--exact", "mpi_child", "--nocapture", "--test-threads", "1"])
        .output()
        .expect("mpirun (Debian: openmpi-bin) must be on PATH for the mpi feature's tests");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("rank ok").count(), 3, "{text}");
}

#[test]
fn mpi_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let g = Mpi::init().unwrap();
    let (r, w) = (g.rank(), g.world_size());
    assert_eq!(w, 3);
    assert_eq!(g.hosts().len(), 3);
    let dev = Device::Cpu;
    // all-reduce: Σ over ranks of (rank + 1) · [1, 2, 3, 4], shape and dtype kept
    let t = (Tensor::new(&[[1f32, 2.], [3., 4.]], &dev).unwrap() * (r + 1) as f64).unwrap();
    let s = g.all_reduce_sum(&t).unwrap();
    assert_eq!(s.dims(), &[2, 2]);
    assert_eq!(
        s.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        vec![6., 12., 18., 24.]
    );
    let d = g.all_reduce_sum(&t.to_dtype(DType::F64).unwrap()).unwrap();
    assert_eq!(d.dtype(), DType::F64);
    // broadcast from rank 2
    let b = g.broadcast(&t, 2).unwrap();
    assert_eq!(
        b.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        vec![3., 6., 9., 12.]
    );
    let bytes = g
        .broadcast_bytes(format!("from rank {r}").as_bytes(), 1)
        .unwrap();
    assert_eq!(bytes, b"from rank 1");
    // gradients: rank r's gradient of Σ (r+1)·x² at x = [1, 2] is 2(r+1)x; the average
    // over 3 ranks is 2·2·x = [4, 8]; the extras come back summed
    let x = Var::new(&[1f32, 2.], &dev).unwrap();
    let loss = (x.as_tensor().sqr().unwrap().sum_all().unwrap() * (r + 1) as f64).unwrap();
    let mut grads = loss.backward().unwrap();
    let extras = average_gradients(
        &g,
        &mut grads,
        &[x.as_tensor().clone()],
        1 << 20,
        &[r as f32, 1.0],
    )
    .unwrap();
    assert_eq!(extras, vec![3.0, 3.0]);
    let avg: Vec<f32> = grads.get(x.as_tensor()).unwrap().to_vec1().unwrap();
    assert!(
        (avg[0] - 4.0).abs() < 1e-6 && (avg[1] - 8.0).abs() < 1e-6,
        "{avg:?}"
    );
    g.barrier().unwrap();
    println!("rank ok");
}
