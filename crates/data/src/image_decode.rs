//! Image files to 8-bit pixels, as PIL reads them.
//!
//! JPEGs are decoded by libjpeg-turbo's decoder (`wick-jpeg`), which PIL uses too: the
//! pixels are PIL's bit for bit, and a box of the image can be decoded without the
//! rest (what a random crop keeps). Other formats (PNG, GIF, BMP, WebP, and CMYK
//! JPEGs) go through the `image` crate, whole, and a box is cut out after.

use crate::transforms::functional::crop;
use crate::{CropBox, Image, Input};
use std::io::Cursor;

/// An image's `(height, width)` from its header, without decoding its pixels.
///
/// # Errors
/// The decoder's message when the bytes are not an image it reads.
pub fn size(bytes: &[u8]) -> Result<(usize, usize), String> {
    if wick_jpeg::is_jpeg(bytes) {
        let h = wick_jpeg::read_header(bytes).map_err(|e| e.to_string())?;
        return Ok((h.height, h.width));
    }
    let (w, h) = reader(bytes)?
        .into_dimensions()
        .map_err(|e| e.to_string())?;
    Ok((h as usize, w as usize))
}

/// Decodes `bytes` (by content) as 8-bit RGB, PIL's `.convert("RGB")`: grey
/// replicated, alpha dropped (not blended); only `region` of it where given.
///
/// # Errors
/// The decoder's message when the bytes are not an image it reads, or `region` is
/// not inside the image.
pub fn rgb(bytes: &[u8], region: Option<CropBox>) -> Result<Image, String> {
    if let Some(p) = jpeg(bytes, region, false)? {
        return Ok(p);
    }
    let img = reader(bytes)?
        .decode()
        .map_err(|e| e.to_string())?
        .into_rgb8();
    let (w, h) = img.dimensions();
    let whole = Image {
        height: h as usize,
        width: w as usize,
        channels: 3,
        data: img.into_raw(),
    };
    match region {
        Some(b) => cut(whole, b),
        None => Ok(whole),
    }
}

/// Decodes `bytes` (by content): grey images stay one channel, others become 8-bit
/// RGB (alpha dropped).
///
/// # Errors
/// The decoder's message when the bytes are not an image it reads.
pub fn gray_or_rgb(bytes: &[u8]) -> Result<Image, String> {
    if let Some(p) = jpeg(bytes, None, true)? {
        return Ok(p);
    }
    let img = reader(bytes)?.decode().map_err(|e| e.to_string())?;
    let (channels, w, h, data) = if img.color().has_color() {
        let i = img.into_rgb8();
        (3, i.width(), i.height(), i.into_raw())
    } else {
        let i = img.into_luma8();
        (1, i.width(), i.height(), i.into_raw())
    };
    Ok(Image {
        height: h as usize,
        width: w as usize,
        channels,
        data,
    })
}

/// A JPEG in a colour space libjpeg converts, decoded; `None` for anything else.
fn jpeg(bytes: &[u8], region: Option<CropBox>, keep_gray: bool) -> Result<Option<Image>, String> {
    if !wick_jpeg::is_jpeg(bytes) {
        return Ok(None);
    }
    let region = region.map(|b| wick_jpeg::Region {
        top: b.top,
        left: b.left,
        height: b.height,
        width: b.width,
    });
    let pixels = wick_jpeg::decode(bytes, region, keep_gray).map_err(|e| e.to_string())?;
    Ok(pixels.map(|p| Image {
        height: p.height,
        width: p.width,
        channels: p.channels,
        data: p.data,
    }))
}

fn reader(bytes: &[u8]) -> Result<image::ImageReader<Cursor<&[u8]>>, String> {
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())
}

/// The pixels of `img` in box `b` (which must lie inside it).
fn cut(img: Image, b: CropBox) -> Result<Image, String> {
    if b.top + b.height > img.height || b.left + b.width > img.width {
        return Err(format!(
            "the region {b:?} is not inside the {}×{} image",
            img.height, img.width
        ));
    }
    let (top, left) = (b.top as i64, b.left as i64);
    match crop(Input::Image(img), top, left, b.height, b.width) {
        Ok(Input::Image(img)) => Ok(img),
        Ok(Input::Array(_)) => Err("cropping an image gave an array".into()),
        Err(e) => Err(e.to_string()),
    }
}
