//! `Transform::split_crop`: the box and the rest of a transform give what `apply`
//! gives on the whole image, drawing the same numbers.

use super::*;
use crate::{CropBox, Image};

fn image(h: usize, w: usize, channels: usize) -> Image {
    Image {
        height: h,
        width: w,
        channels,
        data: (0..h * w * channels)
            .map(|i| ((i * 37) ^ (i / 5)) as u8)
            .collect(),
    }
}

fn cut(img: &Image, b: CropBox) -> Input {
    let row = b.width * img.channels;
    let data = (b.top..b.top + b.height)
        .flat_map(|y| {
            let o = (y * img.width + b.left) * img.channels;
            img.data[o..o + row].iter().copied()
        })
        .collect();
    Input::Image(Image {
        height: b.height,
        width: b.width,
        channels: img.channels,
        data,
    })
}

fn rrc(size: usize, interpolation: InterpolationMode) -> TransformConfig {
    TransformConfig::from(RandomResizedCropConfig {
        size: Size::Int(size),
        scale: vec![0.08, 1.0],
        ratio: vec![0.75, 4.0 / 3.0],
        interpolation,
        antialias: true,
    })
}

fn random_crop(size: usize, padding: Option<Padding>, pad_if_needed: bool) -> TransformConfig {
    TransformConfig::from(RandomCropConfig {
        size: Size::Int(size),
        padding,
        pad_if_needed,
        fill: Fill::Num(0.0),
        padding_mode: PaddingMode::Constant,
    })
}

fn pipelines() -> Vec<(&'static str, Compose)> {
    let flip = || TransformConfig::from(RandomHorizontalFlipConfig { p: 0.5 });
    let tensor = || TransformConfig::from(ToTensorConfig {});
    let center = |s| TransformConfig::from(CenterCropConfig { size: Size::Int(s) });
    let build = |c: Vec<TransformConfig>| Compose::from_configs(&c).unwrap();
    vec![
        (
            "rrc bilinear",
            build(vec![rrc(24, InterpolationMode::Bilinear), flip(), tensor()]),
        ),
        (
            "rrc bicubic",
            build(vec![rrc(17, InterpolationMode::Bicubic), tensor()]),
        ),
        (
            "rrc nearest",
            build(vec![rrc(20, InterpolationMode::Nearest), flip()]),
        ),
        (
            "random crop",
            build(vec![random_crop(16, None, false), flip()]),
        ),
        (
            "random crop pad_if_needed",
            build(vec![random_crop(30, None, true)]),
        ),
        (
            "random crop padding",
            build(vec![random_crop(16, Some(Padding::Int(4)), false)]),
        ),
        ("center crop", build(vec![center(21), tensor()])),
        (
            "no crop first",
            build(vec![flip(), rrc(12, InterpolationMode::Bilinear)]),
        ),
    ]
}

#[test]
fn the_split_gives_what_apply_gives() {
    let mut split = 0;
    for (name, t) in pipelines() {
        for (h, w, c) in [
            (40, 56, 3),
            (33, 29, 3),
            (64, 48, 1),
            (25, 25, 3),
            (120, 90, 3),
        ] {
            let img = image(h, w, c);
            for seed in 0..12 {
                let mut a = SeedRng::stream(seed, "transform", &[0, 1]);
                let mut b = a.clone();
                let want = t.apply(Input::Image(img.clone()), &mut a);
                let got = match t.split_crop(h, w, &mut b).unwrap() {
                    Some((bx, rest)) => {
                        assert!(bx.top + bx.height <= h && bx.left + bx.width <= w, "{name}");
                        split += 1;
                        rest(cut(&img, bx), &mut b)
                    }
                    None => t.apply(Input::Image(img.clone()), &mut b),
                };
                match (want, got) {
                    (Ok(x), Ok(y)) => assert!(x == y, "{name}: {h}×{w}×{c}, seed {seed}"),
                    (Err(x), Err(y)) => assert_eq!(x.to_string(), y.to_string()),
                    (x, y) => panic!("{name}: {x:?} vs {y:?}"),
                }
                // the same numbers drawn
                assert_eq!(a.below(1 << 30), b.below(1 << 30), "{name}");
            }
        }
    }
    assert!(split > 200, "{split} splits");
}

#[test]
fn only_leading_crops_that_need_no_padding_split() {
    let mut rng = SeedRng::stream(1, "transform", &[0, 0]);
    let splits = |t: &Compose, h, w, rng: &mut SeedRng| t.split_crop(h, w, rng).unwrap().is_some();
    let all = pipelines();
    let by = |n: &str| &all.iter().find(|(k, _)| *k == n).unwrap().1;
    assert!(splits(by("rrc bilinear"), 10, 10, &mut rng));
    assert!(splits(by("random crop"), 16, 40, &mut rng));
    assert!(!splits(by("random crop"), 15, 40, &mut rng));
    assert!(splits(by("random crop pad_if_needed"), 30, 31, &mut rng));
    assert!(!splits(by("random crop pad_if_needed"), 29, 31, &mut rng));
    assert!(!splits(by("random crop padding"), 40, 40, &mut rng));
    assert!(splits(by("center crop"), 21, 22, &mut rng));
    assert!(!splits(by("center crop"), 20, 22, &mut rng));
    assert!(!splits(by("no crop first"), 40, 40, &mut rng));
    assert!(!splits(&Compose::default(), 40, 40, &mut rng));
}
