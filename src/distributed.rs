//! The program's side of a distributed run: joining the job a launcher started (the
//! process group), sharing the machine's cores between the ranks on it, and
//! `wick run --nproc N`, which starts the ranks itself.

use std::process::{Command, ExitCode};
use std::sync::Arc;
use wick_dist::{Launch, LaunchKind, ProcessGroup};
use wick_runner::distributed::Backend;

/// This process's rank when a launcher started it in a job of several.
pub(crate) fn launched_rank() -> Option<usize> {
    Launch::detect().ok().flatten().map(|l| l.rank)
}

/// The threads this process computes with, out of `available` (the CPUs it may run
/// on): when `mpirun`/`srun` bound it to some of the machine's cores, those; when it
/// runs unbound beside other ranks on the same machine, an equal share of them.
pub(crate) fn threads(available: usize) -> usize {
    let Some(launch) = Launch::detect().ok().flatten() else {
        return available;
    };
    // SAFETY: sysconf only reads a system setting.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let online = usize::try_from(online).unwrap_or(available);
    if available < online {
        available
    } else {
        (available / launch.local_size.max(1)).max(1)
    }
}

/// The process group this process belongs to: a world of one, or the job its launcher
/// started (MPI under `mpirun`/`srun`).
pub(crate) fn join() -> anyhow::Result<Arc<dyn ProcessGroup>> {
    let Some(launch) = Launch::detect()? else {
        return Ok(Arc::new(wick_dist::Single));
    };
    match launch.kind {
        LaunchKind::Mpi => join_mpi(&launch),
        LaunchKind::Torchrun => join_nccl(launch),
    }
}

#[cfg(feature = "nccl")]
fn join_nccl(launch: Launch) -> anyhow::Result<Arc<dyn ProcessGroup>> {
    Ok(Arc::new(wick_dist::Nccl::new(launch)))
}

#[cfg(not(feature = "nccl"))]
fn join_nccl(launch: Launch) -> anyhow::Result<Arc<dyn ProcessGroup>> {
    anyhow::bail!(
        "started with torchrun's variables as rank {} of {}: that is the NCCL backend (one \
         process per GPU), and this wick was built without it (`--features nccl`); on CPUs \
         start it with `mpirun -n {}` or `wick run --nproc {}`",
        launch.rank,
        launch.world_size,
        launch.world_size,
        launch.world_size
    )
}

/// For a process that torchrun's variables place on GPU `LOCAL_RANK` of its machine:
/// that GPU alone made visible (`CUDA_VISIBLE_DEVICES`, or its `LOCAL_RANK`-th entry when
/// the launcher set a list), so that `device = "cuda"` is its own. Called before any
/// thread exists.
pub(crate) fn pin_gpu() {
    let Some(launch) = Launch::detect().ok().flatten() else {
        return;
    };
    if launch.kind != LaunchKind::Torchrun {
        return;
    }
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    let mine = match visible {
        Some(list) => list.split(',').nth(launch.local_rank).map(str::to_string),
        None => Some(launch.local_rank.to_string()),
    };
    if let Some(gpu) = mine {
        // SAFETY (set_var): called first thing in main, before any other thread exists.
        std::env::set_var("CUDA_VISIBLE_DEVICES", gpu);
    }
}

#[cfg(feature = "mpi")]
fn join_mpi(_launch: &Launch) -> anyhow::Result<Arc<dyn ProcessGroup>> {
    Ok(Arc::new(wick_dist::Mpi::init()?))
}

#[cfg(not(feature = "mpi"))]
fn join_mpi(launch: &Launch) -> anyhow::Result<Arc<dyn ProcessGroup>> {
    anyhow::bail!(
        "started by an MPI launcher as rank {} of {}, but this wick was built without MPI: \
         build it with `cargo build --release --features mpi` (Debian: apt-get install \
         libopenmpi-dev libclang-dev)",
        launch.rank,
        launch.world_size
    )
}

/// `wick run ... --nproc N` on one machine: this very command line, without `--nproc`,
/// run as `N` ranks by `mpirun` (`$MPIRUN`, else `mpirun` on the PATH), unbound so that
/// the ranks share the cores ([`threads`]), oversubscribed where `N` exceeds them.
pub(crate) fn launch(nproc: usize, backend: Backend) -> ExitCode {
    if backend == Backend::Nccl {
        return crate::launcher::torchrun(nproc);
    }
    if !cfg!(feature = "mpi") {
        eprintln!(
            "error: --nproc {nproc} starts {nproc} ranks over MPI, but this wick was built \
             without MPI: build it with `cargo build --release --features mpi`"
        );
        return ExitCode::from(1);
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot find this program's path to start its ranks: {e}");
            return ExitCode::from(1);
        }
    };
    let mpirun = std::env::var_os("MPIRUN").unwrap_or_else(|| "mpirun".into());
    let mut cmd = Command::new(&mpirun);
    cmd.args([
        "-n",
        &nproc.to_string(),
        "--oversubscribe",
        "--bind-to",
        "none",
    ])
    .arg(exe)
    .args(crate::launcher::without_nproc(std::env::args_os().skip(1)));
    // Open MPI refuses to start as root unless told twice (containers run as root)
    // SAFETY: geteuid only reads the process's user id.
    if unsafe { libc::geteuid() } == 0 {
        cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    }
    match cmd.status() {
        Ok(s) => ExitCode::from(s.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)),
        Err(e) => {
            eprintln!(
                "error: cannot start {}: {e} (install Open MPI: apt-get install openmpi-bin, or \
                 set MPIRUN)",
                mpirun.to_string_lossy()
            );
            ExitCode::from(1)
        }
    }
}
