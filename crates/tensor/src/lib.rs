//! wick-tensor: the tensor layer under every other wick crate.
//!
//! candle gives tensors, devices and reverse-mode autograd; this crate adds what a
//! PyTorch user expects around them:
//! - [`DeviceSpec`]: `"auto" | "cpu" | "cuda" | "cuda:N"`, like `torch.device`.
//! - [`SeedRng`]: one seed driving every random stream (init, sampler, augmentation).
//! - [`Param`]: a trainable tensor with its PyTorch `state_dict` name, kept in
//!   name order (candle's `VarMap` iterates in hash order).
//! - [`init`]: `torch.nn.init`'s schemes (`kaiming_uniform_`, `uniform_`, …).
//! - [`autograd`]: gradients given explicitly, composed from candle ops (any device).
//! - [`device_path`]: CPU kernels or the device-generic path, and the switch that
//!   forces the latter on the CPU for tests.
//! - [`pth`]: PyTorch's `.pth` state dicts read without running code.
//! - [`gradcheck`]: finite-difference checking of any op's gradient, candle's own included.
//! - [`catalog`]: open catalogs behind `type = "Linear"` in experiment files, built-ins
//!   and a user's own classes registered the same way.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod autograd;
pub mod catalog;
mod device;
pub mod device_path;
mod error;
pub mod gradcheck;
pub mod init;
mod introspect;
mod param;
pub mod pth;
mod rng;
pub mod testing;

pub use candle_core;
pub use device::DeviceSpec;
pub use dyn_clone;
pub use erased_serde;
pub use error::{Error, Result};
pub use introspect::struct_fields;
pub use param::{Param, Parameter};
pub use rng::SeedRng;
