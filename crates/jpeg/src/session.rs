//! One libjpeg decompressor over a byte slice, and the error manager that turns
//! libjpeg's errors into Rust errors.
//!
//! libjpeg reports a fatal error by calling `error_exit`, which must not return (C
//! programs `longjmp` out of it). Here it unwinds instead: `error_exit` is an
//! `extern "C-unwind"` function that resumes a Rust unwind carrying the message
//! (`resume_unwind`: no panic hook, nothing printed), the C library is compiled with
//! `-fexceptions` (mozjpeg-sys's `unwinding` feature) so the unwind crosses its frames,
//! and [`guarded`] catches it at the boundary of every call into the library. After an
//! error the decompressor is only destroyed, as libjpeg allows.

use crate::Error;
use mozjpeg_sys as ffi;
use std::ffi::{c_int, c_ulong, CStr};
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// `JMSG_LENGTH_MAX` of jpeglib.h: the buffer `format_message` writes into (the
/// binding's `[u8; 80]` is `JMSG_STR_PARM_MAX`, too short).
const JMSG_LENGTH_MAX: usize = 200;

/// The most memory libjpeg's whole-image buffers (a progressive JPEG's coefficients)
/// may take, as the `image` crate's default allocation limit: past it libjpeg fails
/// ("backing store not supported") instead of allocating what a header claims.
const MAX_WORKING_MEMORY: usize = 512 << 20;

/// `format_message` as libjpeg declares it: a pointer to a `JMSG_LENGTH_MAX` buffer.
type FormatMessage = unsafe extern "C-unwind" fn(&mut ffi::jpeg_common_struct, *mut u8);

/// Runs `f`, turning a libjpeg error raised inside it into `Err`; other panics go on.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| match payload.downcast::<Error>() {
        Ok(e) => *e,
        Err(other) => resume_unwind(other),
    })
}

/// libjpeg's message for the error or warning in `cinfo.err`.
fn message(cinfo: &mut ffi::jpeg_common_struct) -> String {
    let mut buf = [0u8; JMSG_LENGTH_MAX];
    // SAFETY: `err` is the live error manager `Decompress::new` installed, whose
    // `format_message` jpeg_std_error set; it writes at most JMSG_LENGTH_MAX bytes,
    // NUL-terminated, into `buf`. The transmute only restores the C signature (both
    // are two pointers under the same ABI).
    unsafe {
        let Some(format) = (*cinfo.err).format_message else {
            return format!("libjpeg error {}", (*cinfo.err).msg_code);
        };
        let format: FormatMessage = std::mem::transmute(format);
        format(cinfo, buf.as_mut_ptr());
    }
    CStr::from_bytes_until_nul(&buf)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// libjpeg's fatal-error callback: unwinds to [`guarded`] with the message.
unsafe extern "C-unwind" fn error_exit(cinfo: &mut ffi::jpeg_common_struct) {
    resume_unwind(Box::new(Error(message(cinfo))))
}

/// libjpeg's message callback. Warnings about damaged data that libjpeg decodes past
/// (extraneous bytes, a bad restart marker) are ignored, as PIL does; data that ends
/// before the image does is an error, as PIL's "image file is truncated".
unsafe extern "C-unwind" fn emit_message(cinfo: &mut ffi::jpeg_common_struct, level: c_int) {
    if level < 0 {
        // SAFETY: `err` is the live error manager (see `Decompress::new`)
        let err = unsafe { &mut *cinfo.err };
        if err.msg_code == ffi::JWRN_JPEG_EOF as c_int {
            resume_unwind(Box::new(Error(format!(
                "image file is truncated ({})",
                message(cinfo)
            ))));
        }
        err.num_warnings += 1;
    }
}

/// A decompressor reading `bytes` (which it borrows), destroyed on drop.
pub(crate) struct Decompress<'a> {
    // boxed: libjpeg keeps pointers to both, so their addresses must not move
    pub(crate) cinfo: Box<ffi::jpeg_decompress_struct>,
    _err: Box<ffi::jpeg_error_mgr>,
    _bytes: PhantomData<&'a [u8]>,
}

impl<'a> Decompress<'a> {
    /// A decompressor with its source set to `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Result<Self, Error> {
        // SAFETY: both are C structs of integers, pointers and optional function
        // pointers, for which all zeros is a valid value; jpeg_std_error and
        // jpeg_create_decompress initialise them as libjpeg requires.
        let mut err: Box<ffi::jpeg_error_mgr> = Box::new(unsafe { std::mem::zeroed() });
        let mut cinfo: Box<ffi::jpeg_decompress_struct> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `err` is a valid, exclusively borrowed error manager
        unsafe { ffi::jpeg_std_error(&mut err) };
        err.error_exit = Some(error_exit);
        err.emit_message = Some(emit_message);
        cinfo.common.err = &mut *err;
        let mut d = Self {
            cinfo,
            _err: err,
            _bytes: PhantomData,
        };
        let cinfo = &mut *d.cinfo;
        // SAFETY: `cinfo` has its error manager set, as jpeg_create_decompress needs;
        // jpeg_mem_src keeps a pointer to `bytes`, which outlives `d` ('a). A failure
        // leaves `cinfo` in a state `Drop` may destroy (`mem` null or valid).
        guarded(|| unsafe {
            ffi::jpeg_create_decompress(cinfo);
            ffi::jpeg_mem_src(cinfo, bytes.as_ptr(), bytes.len() as c_ulong);
        })?;
        // SAFETY: jpeg_create_decompress succeeded, so `mem` is its memory manager
        unsafe { (*cinfo.common.mem).max_memory_to_use = MAX_WORKING_MEMORY as _ };
        Ok(d)
    }
}

impl Drop for Decompress<'_> {
    fn drop(&mut self) {
        // SAFETY: destroying is valid in every state, after an error included (and a
        // no-op before jpeg_create_decompress allocated its memory manager)
        let _ = guarded(|| unsafe { ffi::jpeg_destroy_decompress(&mut self.cinfo) });
    }
}
