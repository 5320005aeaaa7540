//! What a launcher tells the processes it starts, through the environment.

use crate::{Error, Result};

/// Which kind of launcher started this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchKind {
    /// An MPI launcher: `mpirun`/`mpiexec` (Open MPI's `OMPI_COMM_WORLD_*`, MPICH's and
    /// Intel MPI's `PMI_*`) or SLURM's `srun` (`SLURM_PROCID` inside a job step).
    Mpi,
    /// torchrun's variables (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`,
    /// `MASTER_PORT`), as `torch.distributed.run`, SLURM scripts written for PyTorch and
    /// Kubernetes' `PyTorchJob` set them; `wick run --nproc N` sets them too.
    Torchrun,
}

/// This process's place in a job, as its launcher said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The launcher.
    pub kind: LaunchKind,
    /// This process, `0..world_size`.
    pub rank: usize,
    /// Processes in the job.
    pub world_size: usize,
    /// This process among those on its machine (its GPU under NCCL).
    pub local_rank: usize,
    /// Processes on this machine (they share its cores).
    pub local_size: usize,
    /// `MASTER_ADDR:MASTER_PORT` (torchrun only): where rank 0 hands out the NCCL id.
    pub master: Option<(String, u16)>,
}

/// torchrun's default `MASTER_PORT`.
pub const DEFAULT_MASTER_PORT: u16 = 29500;

impl Launch {
    /// The launcher's variables in this process's environment; `None` when no launcher
    /// started it (or one started it alone, a world of one).
    ///
    /// # Errors
    /// [`Error::Setup`] for a variable that is not a number, or a rank outside the world.
    pub fn detect() -> Result<Option<Self>> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// [`Launch::detect`] over the variables `var` gives.
    ///
    /// # Errors
    /// As [`Launch::detect`].
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let num = |k: &str| -> Result<Option<usize>> {
            var(k)
                .map(|v| {
                    v.trim().parse::<usize>().map_err(|_| {
                        Error::Setup(format!("{k}={v:?}: the launcher's {k} must be a number"))
                    })
                })
                .transpose()
        };
        let launch = if let Some(world) = num("OMPI_COMM_WORLD_SIZE")? {
            Self::mpi(
                num("OMPI_COMM_WORLD_RANK")?,
                world,
                num("OMPI_COMM_WORLD_LOCAL_RANK")?,
                num("OMPI_COMM_WORLD_LOCAL_SIZE")?,
            )
        } else if let Some(world) = num("PMI_SIZE")? {
            Self::mpi(
                num("PMI_RANK")?,
                world,
                num("MPI_LOCALRANKID")?,
                num("MPI_LOCALNRANKS")?,
            )
        } else if var("SLURM_STEP_ID").is_some() && num("SLURM_NTASKS")?.is_some() {
            Self::mpi(
                num("SLURM_PROCID")?,
                num("SLURM_NTASKS")?.unwrap_or(1),
                num("SLURM_LOCALID")?,
                None,
            )
        } else if let Some(world) = num("WORLD_SIZE")? {
            let port = match var("MASTER_PORT") {
                Some(p) => p.trim().parse::<u16>().map_err(|_| {
                    Error::Setup(format!("MASTER_PORT={p:?}: it must be a port number"))
                })?,
                None => DEFAULT_MASTER_PORT,
            };
            let addr = var("MASTER_ADDR").unwrap_or_else(|| "127.0.0.1".into());
            Self {
                kind: LaunchKind::Torchrun,
                rank: num("RANK")?.unwrap_or(0),
                world_size: world,
                local_rank: num("LOCAL_RANK")?.unwrap_or(0),
                local_size: num("LOCAL_WORLD_SIZE")?.unwrap_or(world),
                master: Some((addr, port)),
            }
        } else {
            return Ok(None);
        };
        launch.checked()
    }

    fn mpi(
        rank: Option<usize>,
        world: usize,
        local_rank: Option<usize>,
        local_size: Option<usize>,
    ) -> Self {
        let rank = rank.unwrap_or(0);
        Self {
            kind: LaunchKind::Mpi,
            rank,
            world_size: world,
            local_rank: local_rank.unwrap_or(rank),
            local_size: local_size.unwrap_or(world),
            master: None,
        }
    }

    fn checked(self) -> Result<Option<Self>> {
        if self.world_size == 0 || self.rank >= self.world_size {
            return Err(Error::Setup(format!(
                "the launcher says rank {} of {} processes: a rank must be below the world size",
                self.rank, self.world_size
            )));
        }
        Ok((self.world_size > 1).then_some(self))
    }
}

/// This machine's name (`/proc/sys/kernel/hostname`, else `$HOSTNAME` or
/// `$COMPUTERNAME`, else `localhost`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(pairs: &[(&str, &str)]) -> Result<Option<Launch>> {
        Launch::from_vars(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn open_mpi_variables_make_an_mpi_launch() {
        let l = of(&[
            ("OMPI_COMM_WORLD_SIZE", "3"),
            ("OMPI_COMM_WORLD_RANK", "2"),
            ("OMPI_COMM_WORLD_LOCAL_RANK", "0"),
            ("OMPI_COMM_WORLD_LOCAL_SIZE", "1"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (l.kind, l.rank, l.world_size, l.local_rank, l.local_size),
            (LaunchKind::Mpi, 2, 3, 0, 1)
        );
    }

    #[test]
    fn torchrun_variables_name_the_master() {
        let l = of(&[
            ("WORLD_SIZE", "4"),
            ("RANK", "1"),
            ("LOCAL_RANK", "1"),
            ("MASTER_ADDR", "10.0.0.1"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(l.kind, LaunchKind::Torchrun);
        assert_eq!(l.master, Some(("10.0.0.1".into(), DEFAULT_MASTER_PORT)));
        assert_eq!(l.local_size, 4);
    }

    #[test]
    fn no_launcher_or_a_world_of_one_is_none() {
        assert_eq!(of(&[]).unwrap(), None);
        assert_eq!(of(&[("WORLD_SIZE", "1"), ("RANK", "0")]).unwrap(), None);
        // SLURM's variables outside an `srun` step (an sbatch script) are no launch
        assert_eq!(
            of(&[("SLURM_NTASKS", "4"), ("SLURM_PROCID", "0")]).unwrap(),
            None
        );
    }

    #[test]
    fn bad_variables_are_named() {
        let e = of(&[("WORLD_SIZE", "two")]).unwrap_err().to_string();
        assert!(e.contains("WORLD_SIZE=\"two\""), "{e}");
        let e = of(&[("WORLD_SIZE", "2"), ("RANK", "2")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("rank 2 of 2"), "{e}");
        let e = of(&[("WORLD_SIZE", "2"), ("MASTER_PORT", "99999")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("MASTER_PORT"), "{e}");
    }
}
