//! [`Nccl`]: the process group over NCCL, one process per GPU, as `torch.distributed`'s
//! `nccl` backend under torchrun.
//!
//! The collectives run on the run's CUDA stream (the device the group is bound to), so
//! they come after the backward kernels that made the gradients without a host wait.
//! They are candle custom ops (the pattern of candle's `llama_multiprocess` example):
//! the op's CUDA forward hands the input's device memory to NCCL and wraps the result.

use crate::{rendezvous, Error, Launch, ProcessGroup, Result};
use candle_core::cuda_backend::cudarc::nccl::safe::{Comm, Id, ReduceOp};
use candle_core::cuda_backend::CudaStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The communicator: NCCL lets any thread use it, one at a time.
struct CommCell(Comm);

// SAFETY: NCCL communicators may be used from any thread as long as no two threads call
// into the same communicator at once; every use goes through the `Mutex` around it.
unsafe impl Send for CommCell {}

type Shared = Arc<Mutex<CommCell>>;

/// A rank of a job that torchrun's variables describe, talking over NCCL once
/// [`ProcessGroup::bind`] has met the other ranks on this process's GPU.
pub struct Nccl {
    launch: Launch,
    bound: OnceLock<(Shared, Device)>,
    hosts: OnceLock<Vec<String>>,
}

impl std::fmt::Debug for Nccl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nccl")
            .field("rank", &self.launch.rank)
            .field("world_size", &self.launch.world_size)
            .finish_non_exhaustive()
    }
}

impl Nccl {
    /// Rank `launch.rank` of `launch.world_size`, not yet met with the others.
    pub fn new(launch: Launch) -> Self {
        Self {
            launch,
            bound: OnceLock::new(),
            hosts: OnceLock::new(),
        }
    }

    fn comm(&self) -> Result<&(Shared, Device)> {
        self.bound.get().ok_or_else(|| {
            Error::Comm("the NCCL group is used before it is bound to a device".into())
        })
    }

    /// Rank 0 makes the unique id and serves it; the others fetch it.
    fn unique_id(&self, timeout: Duration) -> Result<Id> {
        let (addr, port) = self.launch.master.clone().ok_or_else(|| {
            Error::Setup("NCCL needs MASTER_ADDR and MASTER_PORT (torchrun's variables)".into())
        })?;
        if self.launch.rank == 0 {
            let id = Id::new().map_err(nccl)?;
            let bytes: Vec<u8> = id.internal().iter().map(|&c| c as u8).collect();
            rendezvous::serve(&addr, port, &bytes, self.launch.world_size - 1, timeout)?;
            Ok(id)
        } else {
            let bytes = rendezvous::fetch(&addr, port, self.launch.rank, timeout)?;
            let id: [u8; 128] = bytes
                .try_into()
                .map_err(|_| Error::Setup("rank 0 sent an NCCL id that is not 128 bytes".into()))?;
            Ok(Id::uninit(id.map(|b| b as std::ffi::c_char)))
        }
    }

    fn run(&self, t: &Tensor, op: Op) -> Result<Tensor> {
        let (comm, _) = self.comm()?;
        let flat = t.to_dtype(DType::F32)?.contiguous()?;
        let out = flat.apply_op1_no_bwd(&Collective {
            comm: Arc::clone(comm),
            op,
        })?;
        Ok(out.to_dtype(t.dtype())?)
    }
}

fn nccl(e: impl std::fmt::Debug) -> Error {
    Error::Comm(format!("NCCL: {e:?}"))
}

#[derive(Clone, Copy)]
enum Op {
    Sum,
    Broadcast(i32),
}

/// One NCCL collective on an f32 tensor, as a candle custom op (CUDA only).
struct Collective {
    comm: Shared,
    op: Op,
}

impl CustomOp1 for Collective {
    fn name(&self) -> &'static str {
        "nccl-collective"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        Err(candle_core::Error::Msg(
            "the nccl backend works on CUDA tensors: set device = \"cuda\"".into(),
        ))
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> candle_core::Result<(CudaStorage, Shape)> {
        let (start, end) = l
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("an NCCL input must be contiguous".into()))?;
        let src = s.as_cuda_slice::<f32>()?.slice(start..end);
        let device = s.device.clone();
        let mut dst = device.alloc_zeros::<f32>(end - start)?;
        let comm = self.comm.lock().unwrap_or_else(|e| e.into_inner());
        let done = match self.op {
            Op::Sum => comm.0.all_reduce(&src, &mut dst, &ReduceOp::Sum),
            Op::Broadcast(root) => comm.0.broadcast(Some(&src), &mut dst, root),
        };
        done.map_err(|e| candle_core::Error::Msg(format!("NCCL: {e:?}")))?;
        Ok((CudaStorage::wrap_cuda_slice(dst, device), l.shape().clone()))
    }
}

impl ProcessGroup for Nccl {
    fn rank(&self) -> usize {
        self.launch.rank
    }
    fn world_size(&self) -> usize {
        self.launch.world_size
    }
    fn backend(&self) -> &'static str {
        "nccl"
    }
    fn hosts(&self) -> Vec<String> {
        self.hosts.get().cloned().unwrap_or_default()
    }

    fn bind(&self, device: &Device, timeout: Duration) -> Result<()> {
        let Device::Cuda(cuda) = device else {
            return Err(Error::Setup(
                "the nccl backend trains on GPUs: set device = \"cuda\" (each rank gets its \
                 LOCAL_RANK's GPU)"
                    .into(),
            ));
        };
        if self.bound.get().is_some() {
            return Ok(());
        }
        let id = self.unique_id(timeout)?;
        let (rank, world) = (self.launch.rank, self.launch.world_size);
        let comm = Comm::from_rank(cuda.cuda_stream(), rank, world, id).map_err(nccl)?;
        let shared = Arc::new(Mutex::new(CommCell(comm)));
        let _ = self.bound.set((shared, device.clone()));
        let me = crate::env::host_name();
        let hosts = (0..world)
            .map(|r| {
                let got = self.broadcast_bytes(me.as_bytes(), r)?;
                Ok(String::from_utf8_lossy(&got).into_owned())
            })
            .collect::<Result<Vec<_>>>()?;
        let _ = self.hosts.set(hosts);
        Ok(())
    }

    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor> {
        self.run(t, Op::Sum)
    }

    fn broadcast(&self, t: &Tensor, root: usize) -> Result<Tensor> {
        let root = i32::try_from(root).map_err(|_| Error::Comm(format!("root {root}")))?;
        self.run(t, Op::Broadcast(root))
    }

    /// The bytes travel as f32 values (each byte exactly), their count first.
    fn broadcast_bytes(&self, bytes: &[u8], root: usize) -> Result<Vec<u8>> {
        let (_, device) = self.comm()?;
        let len = Tensor::new(&[bytes.len() as f32], device)?;
        let len = self.broadcast(&len, root)?.to_vec1::<f32>()?[0] as usize;
        let mut mine: Vec<f32> = bytes.iter().map(|&b| f32::from(b)).collect();
        mine.resize(len, 0.0);
        let data = Tensor::from_vec(mine, len, device)?;
        let got = self.broadcast(&data, root)?.to_vec1::<f32>()?;
        Ok(got.into_iter().map(|v| v as u8).collect())
    }

    fn barrier(&self) -> Result<()> {
        let (_, device) = self.comm()?;
        let one = Tensor::zeros(1, DType::F32, device)?;
        self.all_reduce_sum(&one)?.to_vec1::<f32>()?;
        Ok(())
    }

    /// NCCL cannot end the other ranks: this one exits, and the launcher (torchrun,
    /// `wick run --nproc`) ends the job when one of its processes fails.
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}
