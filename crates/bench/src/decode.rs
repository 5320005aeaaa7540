//! `wick-bench decode`: what a JPEG costs to decode, per decoder, on one folder's files
//! (W3's ImageFolder): the `image` crate's (zune-jpeg) whole, libjpeg-turbo's whole
//! (what `ImageFolder` uses), and libjpeg-turbo's region decode of a
//! `RandomResizedCrop(224)` box (what W3's training loader does). Rounds interleave the
//! three; the medians are printed.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;
use wick_data::image_decode;
use wick_data::transforms::{RandomResizedCropConfig, Size};
use wick_tensor::SeedRng;

/// Median seconds per image of each way, over `rounds` interleaved rounds.
pub fn run(dir: &Path, rounds: usize) -> Result<String> {
    let files = jpegs(dir)?;
    anyhow::ensure!(!files.is_empty(), "no JPEG under {}", dir.display());
    let bytes: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).with_context(|| f.display().to_string()))
        .collect::<Result<_>>()?;
    let rrc = RandomResizedCropConfig {
        size: Size::Int(224),
        scale: vec![0.08, 1.0],
        ratio: vec![0.75, 4.0 / 3.0],
        interpolation: Default::default(),
        antialias: true,
    }
    .build()?;
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..rounds {
        let t = Instant::now();
        for b in &bytes {
            let img = image::load_from_memory(b)?.into_rgb8();
            std::hint::black_box(img);
        }
        times[0].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for b in &bytes {
            std::hint::black_box(image_decode::rgb(b, None).map_err(anyhow::Error::msg)?);
        }
        times[1].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for (i, b) in bytes.iter().enumerate() {
            let mut rng = SeedRng::stream(0, "transform", &[round as u64, i as u64]);
            let (h, w) = image_decode::size(b).map_err(anyhow::Error::msg)?;
            let bx = rrc.get_params(&mut rng, h, w);
            std::hint::black_box(image_decode::rgb(b, Some(bx)).map_err(anyhow::Error::msg)?);
        }
        times[2].push(t.elapsed().as_secs_f64());
    }
    let n = bytes.len() as f64;
    let ms = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2] / n * 1e3
    };
    let [mut zune, mut whole, mut region] = times;
    let (z, w, r) = (ms(&mut zune), ms(&mut whole), ms(&mut region));
    Ok(format!(
        "{} JPEGs, ms per image (median of {rounds} rounds): image crate (zune-jpeg) whole \
         {z:.3}, libjpeg-turbo whole {w:.3}, libjpeg-turbo RandomResizedCrop(224) box \
         {r:.3} ({:.2}× the whole decode, {:.2}× zune's)",
        bytes.len(),
        r / w,
        r / z
    ))
}

/// Every `.jpg`/`.jpeg` file under `dir`, sorted.
fn jpegs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| d.display().to_string())? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("jpeg"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}
