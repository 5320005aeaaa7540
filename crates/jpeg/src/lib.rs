//! wick-jpeg: JPEG decoding with libjpeg-turbo's decoder, whole or only a region.
//!
//! PIL, and so torchvision's `ImageFolder`, decodes JPEGs with libjpeg-turbo (the
//! accurate integer IDCT, "fancy" chroma upsampling, its YCbCr→RGB tables). The
//! `image` crate's decoder (zune-jpeg) rounds differently, a step or two off, and
//! decodes only whole images. This crate decodes with libjpeg-turbo's own code (through
//! `mozjpeg-sys`: mozjpeg's decoder is libjpeg-turbo's, built from source with its SIMD
//! when `nasm` is installed), so the pixels are PIL's `Image.open(f).convert("RGB")`
//! bit for bit, and it can decode only a [`Region`]: the columns through
//! `jpeg_crop_scanline`, the rows above by `jpeg_skip_scanlines` (entropy-decoded, not
//! transformed), the rows below not at all, as NVIDIA DALI's
//! `decoders.image_random_crop` does. A random crop then costs a fraction of a decode.
//! The region's pixels equal the whole decode's, cropped: one pixel more than asked is
//! decoded on each inner side, so chroma upsampling sees the same neighbours.
//!
//! The unsafe FFI is confined to this crate (wick-data forbids `unsafe`); every call
//! into libjpeg is guarded so a damaged file is an [`Error`], never a crash.

mod session;

use mozjpeg_sys as ffi;
use session::{guarded, Decompress};

/// PIL's decompression-bomb limit: it refuses images of more than twice
/// `Image.MAX_IMAGE_PIXELS` (89,478,485) pixels.
pub const MAX_PIXELS: usize = 2 * 89_478_485;

/// The fewest columns a region is decoded with (see `read_region`).
const MIN_SPAN: usize = 4;

/// A JPEG could not be decoded: libjpeg's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// A rectangle of an image: rows `top..top + height`, columns `left..left + width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

/// What a JPEG's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Stored as one grey channel.
    pub gray: bool,
    /// Stored in a colour space this crate decodes (grey, YCbCr or RGB; not CMYK or
    /// YCCK, which PIL converts with formulas of its own).
    pub supported: bool,
}

/// Decoded 8-bit pixels, row-major, channels interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// `height · width · channels` bytes.
    pub data: Vec<u8>,
}

/// Whether `bytes` start as a JPEG file does (SOI marker, then a marker).
pub fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Reads the header of the JPEG in `bytes`.
///
/// # Errors
/// libjpeg's message when `bytes` is not a JPEG or its header is damaged.
pub fn read_header(bytes: &[u8]) -> Result<Header, Error> {
    let mut d = Decompress::new(bytes)?;
    header_of(&mut d)
}

fn header_of(d: &mut Decompress<'_>) -> Result<Header, Error> {
    let cinfo = &mut *d.cinfo;
    // SAFETY: a created decompressor with its source set; errors unwind to `guarded`
    guarded(|| unsafe { ffi::jpeg_read_header(cinfo, 1) })?;
    use ffi::J_COLOR_SPACE::*;
    let space = cinfo.jpeg_color_space;
    Ok(Header {
        height: cinfo.image_height as usize,
        width: cinfo.image_width as usize,
        gray: space == JCS_GRAYSCALE,
        supported: matches!(space, JCS_GRAYSCALE | JCS_YCbCr | JCS_RGB),
    })
}

/// Decodes the JPEG in `bytes`, or only `region` of it, as 8-bit RGB (a grey JPEG's
/// channel replicated: PIL's `.convert("RGB")`), or as one grey channel where
/// `keep_gray` is set and the JPEG is grey. `Ok(None)` where the JPEG's colour space
/// is not [supported](Header::supported) (decode it another way).
///
/// # Errors
/// A damaged or truncated file (libjpeg's message), a region outside the image, an
/// image of more than [`MAX_PIXELS`].
pub fn decode(
    bytes: &[u8],
    region: Option<Region>,
    keep_gray: bool,
) -> Result<Option<Pixels>, Error> {
    let mut d = Decompress::new(bytes)?;
    let header = header_of(&mut d)?;
    if !header.supported {
        return Ok(None);
    }
    if header.height.saturating_mul(header.width) > MAX_PIXELS {
        return Err(Error(format!(
            "Image size ({} pixels) exceeds limit of {MAX_PIXELS} pixels, could be \
             decompression bomb DOS attack.",
            header.height * header.width
        )));
    }
    let full = Region {
        top: 0,
        left: 0,
        height: header.height,
        width: header.width,
    };
    let region = region.unwrap_or(full);
    if region.height == 0
        || region.width == 0
        || region.top + region.height > header.height
        || region.left + region.width > header.width
    {
        return Err(Error(format!(
            "the region {region:?} is not inside the {}×{} image",
            header.height, header.width
        )));
    }
    let channels = if keep_gray && header.gray { 1 } else { 3 };
    d.cinfo.out_color_space = if channels == 1 {
        ffi::J_COLOR_SPACE::JCS_GRAYSCALE
    } else {
        ffi::J_COLOR_SPACE::JCS_RGB
    };
    read_region(&mut d, region, channels).map(Some)
}

/// Starts decompression, crops the columns, skips the rows above `r`, reads its rows.
fn read_region(d: &mut Decompress<'_>, r: Region, channels: usize) -> Result<Pixels, Error> {
    let cinfo = &mut *d.cinfo;
    let (width, height) = (cinfo.image_width as usize, cinfo.image_height as usize);
    // SAFETY: after jpeg_read_header, as libjpeg requires; errors unwind to `guarded`
    guarded(|| unsafe { ffi::jpeg_start_decompress(cinfo) })?;
    if cinfo.output_components as usize != channels {
        return Err(Error(format!(
            "libjpeg gives {} channels, not {channels}",
            cinfo.output_components
        )));
    }
    // one more column on each inner side (chroma upsampling reads its neighbours);
    // libjpeg widens the span to whole iMCU columns and says where it starts
    // (and at least MIN_SPAN columns: libjpeg upsamples a span of one chroma column,
    // two pixels, differently from the same columns within a wider span)
    let x0 = r.left.saturating_sub(1);
    let x1 = (r.left + r.width + 1).max(x0 + MIN_SPAN).min(width);
    let (mut x0, mut span) = (x0 as u32, (x1 - x0) as u32);
    if (span as usize) < width {
        // SAFETY: after jpeg_start_decompress, before any row is read, with
        // x0 + span ≤ output_width (checked by libjpeg too)
        guarded(|| unsafe { ffi::jpeg_crop_scanline(cinfo, &mut x0, &mut span) })?;
    }
    let skip = r.top.saturating_sub(1);
    if skip > 0 {
        // SAFETY: as above; a memory source never suspends
        guarded(|| unsafe { ffi::jpeg_skip_scanlines(cinfo, skip as u32) })?;
    }
    let stride = cinfo.output_width as usize * channels;
    let (from, len) = ((r.left - x0 as usize) * channels, r.width * channels);
    let mut data = vec![0u8; r.height * len];
    let mut row = vec![0u8; stride];
    let end = (r.top + r.height).min(height);
    while (cinfo.output_scanline as usize) < end {
        let y = cinfo.output_scanline as usize;
        let mut rows = [row.as_mut_ptr()];
        // SAFETY: one row of `stride` = output_width · output_components bytes, what
        // jpeg_read_scanlines writes per row
        let n = guarded(|| unsafe { ffi::jpeg_read_scanlines(cinfo, rows.as_mut_ptr(), 1) })?;
        if n != 1 {
            return Err(Error("libjpeg returned no row".into()));
        }
        if y >= r.top {
            let o = (y - r.top) * len;
            data[o..o + len].copy_from_slice(&row[from..from + len]);
        }
    }
    // SAFETY: a started decompressor may be aborted at any row
    guarded(|| unsafe { ffi::jpeg_abort_decompress(cinfo) })?;
    Ok(Pixels {
        height: r.height,
        width: r.width,
        channels,
        data,
    })
}
