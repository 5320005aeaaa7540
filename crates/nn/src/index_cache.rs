//! The `u32` index tensors that the device-generic ops (pooling windows, im2col,
//! padding maps) gather with, uploaded to a device once and reused.
//!
//! They depend only on the geometry, so a training step builds the same few every
//! batch; on an accelerator each would otherwise be a host-to-device copy per call. CPU
//! tensors are built directly (nothing to save). The cache holds the most recent
//! [`CAPACITY`] index tensors and is shared by every thread.

use candle_core::{Device, Result, Tensor};
use std::sync::{Arc, Mutex};

/// How many index tensors the cache keeps (oldest dropped first).
const CAPACITY: usize = 256;

struct Entry {
    device: Device,
    idx: Arc<[u32]>,
    tensor: Tensor,
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// A 1-D `u32` tensor holding `idx` on `device`, from the cache when it was built before.
pub(crate) fn indices(device: &Device, idx: &[u32]) -> Result<Tensor> {
    if device.is_cpu() {
        return Tensor::from_slice(idx, idx.len(), device);
    }
    // a poisoned lock only means another thread panicked while holding it; the list
    // itself is always consistent
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = cache
        .iter()
        .find(|e| e.device.same_device(device) && *e.idx == *idx)
    {
        return Ok(e.tensor.clone());
    }
    let tensor = Tensor::from_slice(idx, idx.len(), device)?;
    if cache.len() >= CAPACITY {
        cache.remove(0);
    }
    cache.push(Entry {
        device: device.clone(),
        idx: idx.into(),
        tensor: tensor.clone(),
    });
    Ok(tensor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_indices() {
        let t = indices(&Device::Cpu, &[3, 1, 2]).unwrap();
        assert_eq!(t.to_vec1::<u32>().unwrap(), vec![3, 1, 2]);
    }
}
