//! Process groups for data-parallel training: the part of `torch.distributed` that
//! `DistributedDataParallel` stands on — a rank in a world of processes, all-reduce,
//! broadcast, barrier — on the engines clusters already have.
//!
//! - [`Single`]: a world of one (every collective is the identity), what a run without
//!   a launcher gets;
//! - `Mpi` (cargo feature `mpi`): MPI through the `mpi` crate (rsmpi) against the
//!   system's MPI, as `torch.distributed`'s `mpi` backend; `mpirun`/`srun` start it;
//! - `Nccl` (cargo feature `nccl`): NCCL through candle's `cudarc`, one process per
//!   GPU, its unique id handed from rank 0 over `MASTER_ADDR:MASTER_PORT` by
//!   [`rendezvous`], as torchrun does.
//!
//! [`Launch::detect`] reads what the launcher put in the environment; [`bucket`]
//! averages a step's gradients in a few large all-reduces (PyTorch's gradient buckets).
//!
//! Why wick has its own layer here: candle has NCCL bindings (through cudarc) but no
//! process group, no MPI and no data parallelism; burn's collective crate has no MPI.

pub mod bucket;
mod env;
mod error;
#[cfg(feature = "mpi")]
mod mpi_group;
#[cfg(feature = "nccl")]
mod nccl_group;
pub mod rendezvous;
mod single;

pub use bucket::{average_gradients, BucketPlan};
pub use env::{host_name, Launch, LaunchKind};
pub use error::{Error, Result};
#[cfg(feature = "mpi")]
pub use mpi_group::Mpi;
#[cfg(feature = "nccl")]
pub use nccl_group::Nccl;
pub use single::Single;

use candle_core::{Device, Tensor};

/// A group of processes that train one model together (`torch.distributed`'s default
/// process group): each knows its rank and the world size, and the collectives are
/// called by every rank in the same order.
pub trait ProcessGroup: Send + Sync + std::fmt::Debug {
    /// This process, `0..world_size` (`dist.get_rank()`).
    fn rank(&self) -> usize;
    /// Processes in the group (`dist.get_world_size()`).
    fn world_size(&self) -> usize;
    /// The engine: `"single"`, `"mpi"` or `"nccl"` (`dist.get_backend()`).
    fn backend(&self) -> &'static str;
    /// The host each rank runs on, by rank.
    fn hosts(&self) -> Vec<String>;
    /// Ties the group to the device the run computes on, before any collective (NCCL
    /// meets the other ranks there, waiting at most `timeout`); MPI and a world of one
    /// need nothing.
    ///
    /// # Errors
    /// The ranks could not meet, or the device does not suit the engine.
    fn bind(&self, device: &Device, timeout: std::time::Duration) -> Result<()> {
        let _ = (device, timeout);
        Ok(())
    }
    /// `dist.all_reduce(t, op=SUM)`: the element-wise sum of every rank's `t` (same
    /// shape everywhere), as a new tensor of `t`'s dtype on `t`'s device.
    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor>;
    /// `dist.broadcast(t, src=root)`: rank `root`'s `t` on every rank.
    fn broadcast(&self, t: &Tensor, root: usize) -> Result<Tensor>;
    /// Rank `root`'s bytes on every rank (the others' `bytes` are ignored): a run
    /// directory's path, a file's contents.
    fn broadcast_bytes(&self, bytes: &[u8], root: usize) -> Result<Vec<u8>>;
    /// `dist.barrier()`: returns once every rank has called it.
    fn barrier(&self) -> Result<()>;
    /// Ends every rank of the job at once with exit status `code`, where one rank
    /// cannot go on (the others would wait for it in their next collective forever):
    /// `MPI_Abort`; a world of one just exits.
    fn abort(&self, code: i32) -> !;
}

/// Whether `group` has more than one rank (a distributed run).
pub fn is_distributed(group: &dyn ProcessGroup) -> bool {
    group.world_size() > 1
}
