//! [`Mpi`]: the process group over MPI (rsmpi), as `torch.distributed`'s `mpi` backend.

use crate::{Error, ProcessGroup, Result};
use candle_core::{DType, Tensor};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};
use mpi::Threading;
use std::sync::{Mutex, MutexGuard};

/// Bytes per host name in the all-gather of [`ProcessGroup::hosts`].
const HOST_BYTES: usize = 256;

/// `MPI_COMM_WORLD` of the job `mpirun`/`srun` started: MPI is initialized when it is
/// made (`MPI_Init_thread`, serialized calls) and finalized when it is dropped.
pub struct Mpi {
    inner: Mutex<Inner>,
    rank: usize,
    size: usize,
    hosts: Vec<String>,
}

/// The communicator, then the universe: dropped in that order (the universe's drop is
/// `MPI_Finalize`).
struct Inner {
    world: SimpleCommunicator,
    _universe: Universe,
}

// SAFETY: MPI was initialized with `MPI_THREAD_SERIALIZED` or more (checked in
// `Mpi::init`): any thread may call MPI as long as no two do at once, and every call
// goes through the `Mutex` around `Inner`.
unsafe impl Send for Inner {}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Mpi {
    /// Initializes MPI and joins the world the launcher started.
    ///
    /// # Errors
    /// [`Error::Setup`] when MPI was initialized before in this process, or its library
    /// cannot serve calls from several threads one at a time.
    pub fn init() -> Result<Self> {
        let (universe, level) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| Error::Setup("MPI is initialized already in this process".into()))?;
        if matches!(level, Threading::Single | Threading::Funneled) {
            return Err(Error::Setup(format!(
                "this MPI library gives thread support {level:?}; wick needs MPI_THREAD_SERIALIZED"
            )));
        }
        let world = universe.world();
        let rank = usize::try_from(world.rank()).unwrap_or(0);
        let size = usize::try_from(world.size()).unwrap_or(1);
        let hosts = gather_hosts(&world, size);
        Ok(Self {
            inner: Mutex::new(Inner {
                world,
                _universe: universe,
            }),
            rank,
            size,
            hosts,
        })
    }

    fn world(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn root(&self, root: usize) -> Result<i32> {
        if root >= self.size {
            return Err(Error::Comm(format!("root {root} of {} ranks", self.size)));
        }
        i32::try_from(root).map_err(|_| Error::Comm(format!("root {root}")))
    }
}

fn gather_hosts(world: &SimpleCommunicator, size: usize) -> Vec<String> {
    let mut mine = [0u8; HOST_BYTES];
    let name = mpi::environment::processor_name().unwrap_or_else(|_| crate::env::host_name());
    let n = name.len().min(HOST_BYTES);
    mine[..n].copy_from_slice(&name.as_bytes()[..n]);
    let mut all = vec![0u8; HOST_BYTES * size];
    world.all_gather_into(&mine[..], &mut all[..]);
    all.chunks(HOST_BYTES)
        .map(|c| {
            let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
            String::from_utf8_lossy(&c[..end]).into_owned()
        })
        .collect()
}

/// `t` as a flat host vector of f64 (for f64 tensors) or f32 (all others).
enum Host {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Host {
    fn of(t: &Tensor) -> Result<Self> {
        let flat = t.flatten_all()?;
        Ok(if t.dtype() == DType::F64 {
            Self::F64(flat.to_vec1()?)
        } else {
            Self::F32(flat.to_dtype(DType::F32)?.to_vec1()?)
        })
    }

    fn into_like(self, t: &Tensor) -> Result<Tensor> {
        let (shape, dev) = (t.shape().clone(), t.device());
        let out = match self {
            Self::F32(v) => Tensor::from_vec(v, shape, dev)?,
            Self::F64(v) => Tensor::from_vec(v, shape, dev)?,
        };
        Ok(out.to_dtype(t.dtype())?)
    }
}

impl ProcessGroup for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }
    fn world_size(&self) -> usize {
        self.size
    }
    fn backend(&self) -> &'static str {
        "mpi"
    }
    fn hosts(&self) -> Vec<String> {
        self.hosts.clone()
    }

    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor> {
        let world = self.world();
        let sum = SystemOperation::sum();
        let out = match Host::of(t)? {
            Host::F32(v) => {
                let mut r = vec![0f32; v.len()];
                world.world.all_reduce_into(&v[..], &mut r[..], sum);
                Host::F32(r)
            }
            Host::F64(v) => {
                let mut r = vec![0f64; v.len()];
                world.world.all_reduce_into(&v[..], &mut r[..], sum);
                Host::F64(r)
            }
        };
        out.into_like(t)
    }

    fn broadcast(&self, t: &Tensor, root: usize) -> Result<Tensor> {
        let root = self.root(root)?;
        let world = self.world();
        let process = world.world.process_at_rank(root);
        let mut host = Host::of(t)?;
        match &mut host {
            Host::F32(v) => process.broadcast_into(&mut v[..]),
            Host::F64(v) => process.broadcast_into(&mut v[..]),
        }
        host.into_like(t)
    }

    fn broadcast_bytes(&self, bytes: &[u8], root: usize) -> Result<Vec<u8>> {
        let root = self.root(root)?;
        let world = self.world();
        let process = world.world.process_at_rank(root);
        let mut len = bytes.len() as u64;
        process.broadcast_into(&mut len);
        let len = usize::try_from(len).map_err(|_| Error::Comm("message too long".into()))?;
        let mut out = if self.rank == root as usize {
            bytes.to_vec()
        } else {
            vec![0u8; len]
        };
        process.broadcast_into(&mut out[..]);
        Ok(out)
    }

    fn barrier(&self) -> Result<()> {
        self.world().world.barrier();
        Ok(())
    }

    fn abort(&self, code: i32) -> ! {
        self.world().world.abort(code)
    }
}
