use crate::{ProcessGroup, Result};
use candle_core::Tensor;

/// A world of one process: rank 0 of 1, every collective the identity. What a run
/// that no launcher started gets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Single;

impl ProcessGroup for Single {
    fn rank(&self) -> usize {
        0
    }
    fn world_size(&self) -> usize {
        1
    }
    fn backend(&self) -> &'static str {
        "single"
    }
    fn hosts(&self) -> Vec<String> {
        vec![crate::env::host_name()]
    }
    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor> {
        Ok(t.clone())
    }
    fn broadcast(&self, t: &Tensor, _root: usize) -> Result<Tensor> {
        Ok(t.clone())
    }
    fn broadcast_bytes(&self, bytes: &[u8], _root: usize) -> Result<Vec<u8>> {
        Ok(bytes.to_vec())
    }
    fn barrier(&self) -> Result<()> {
        Ok(())
    }
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}
