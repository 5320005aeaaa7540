//! `wick run --nproc N` with the NCCL backend: this program as torchrun, on one machine —
//! `N` copies of the command line (without `--nproc`), each with torchrun's variables
//! (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`,
//! `MASTER_PORT`), waited for; the first that fails ends the others (they would wait
//! for it in their next collective forever), and its status is the launcher's.

use std::ffi::OsString;
use std::process::{Child, Command, ExitCode};
use std::time::Duration;

/// Starts `nproc` ranks of this command line and waits for them.
pub(crate) fn torchrun(nproc: usize) -> ExitCode {
    if !cfg!(feature = "nccl") {
        eprintln!(
            "error: --nproc {nproc} with [distributed] backend = \"nccl\" starts {nproc} ranks \
             on GPUs, but this wick was built without NCCL: build it with `--features nccl`"
        );
        return ExitCode::from(1);
    }
    let port = match std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => {
            eprintln!("error: no free port for the ranks to meet on: {e}");
            return ExitCode::from(1);
        }
    };
    let mut children = Vec::with_capacity(nproc);
    for rank in 0..nproc {
        match spawn(rank, nproc, port) {
            Ok(c) => children.push(c),
            Err(e) => {
                eprintln!("error: cannot start rank {rank}: {e}");
                end_all(&mut children);
                return ExitCode::from(1);
            }
        }
    }
    wait_all(children)
}

fn spawn(rank: usize, world: usize, port: u16) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    let args = without_nproc(std::env::args_os().skip(1));
    Command::new(exe)
        .args(args)
        .env("RANK", rank.to_string())
        .env("LOCAL_RANK", rank.to_string())
        .env("WORLD_SIZE", world.to_string())
        .env("LOCAL_WORLD_SIZE", world.to_string())
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", port.to_string())
        .spawn()
}

/// Waits until every rank has exited, or one has failed (then ends the rest).
fn wait_all(mut children: Vec<Child>) -> ExitCode {
    let mut done = vec![false; children.len()];
    loop {
        for (rank, child) in children.iter_mut().enumerate() {
            if done[rank] {
                continue;
            }
            match child.try_wait() {
                Ok(Some(status)) if status.success() => done[rank] = true,
                Ok(Some(status)) => {
                    eprintln!("error: rank {rank} exited with {status}: ending the other ranks");
                    end_all(&mut children);
                    return ExitCode::from(
                        status
                            .code()
                            .and_then(|c| u8::try_from(c).ok())
                            .unwrap_or(1),
                    );
                }
                Ok(None) => {}
                Err(e) => {
                    eprintln!("error: cannot wait for rank {rank}: {e}");
                    end_all(&mut children);
                    return ExitCode::from(1);
                }
            }
        }
        if done.iter().all(|&d| d) {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn end_all(children: &mut [Child]) {
    for c in children.iter_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// The arguments without `--nproc N` / `--nproc=N`.
pub(crate) fn without_nproc(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a == "--nproc" {
            skip = true;
        } else if !a.to_string_lossy().starts_with("--nproc=") {
            out.push(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ranks_get_the_command_line_without_nproc() {
        let args =
            ["run", "x.toml", "--nproc", "2", "--set", "a=1", "--nproc=3"].map(OsString::from);
        let got = without_nproc(args.into_iter());
        assert_eq!(got, ["run", "x.toml", "--set", "a=1"].map(OsString::from));
    }
}
