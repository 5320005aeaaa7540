//! torchvision transforms against torchvision + PIL (`scripts/fixtures_transforms.py`):
//! every output within 1/255 per pixel of torchvision's (8-bit outputs within 1 level),
//! with the largest difference of each transform printed (`cargo test -- --nocapture`).

use candle_core::{DType, Tensor};
use std::collections::HashMap;
use wick_data::transforms::functional as F;
use wick_data::transforms::{
    CenterCropConfig, ConvertImageDtypeConfig, Fill, GrayscaleConfig, ImageDtype,
    InterpolationMode as IM, PadConfig, Padding, PaddingMode, ResizeConfig, Size, ToTensor,
    Transform, TransformConfig,
};
use wick_data::{Array, Image, Input};
use wick_tensor::testing::load_fixture;
use wick_tensor::SeedRng;

struct Fx(HashMap<String, Tensor>);

impl Fx {
    fn load() -> Self {
        Self(load_fixture("transforms.safetensors"))
    }

    fn image(&self, key: &str) -> Input {
        let t = &self.0[key];
        let (h, w, c) = t.dims3().unwrap();
        let data = t.flatten_all().unwrap().to_vec1::<u8>().unwrap();
        Input::Image(Image {
            height: h,
            width: w,
            channels: c,
            data,
        })
    }

    fn array(&self, key: &str) -> Input {
        let t = &self.0[key];
        Input::Array(Array {
            shape: t.dims().to_vec(),
            data: t
                .to_dtype(DType::F32)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap(),
        })
    }

    /// Runs `f` on each named input (`in/<name>` or `tin/<name>`) and compares with
    /// `out/<case>/<name>`; returns the largest difference in units of 1/255.
    fn check(
        &self,
        case: &str,
        tensor_in: bool,
        names: &[&str],
        f: impl Fn(Input) -> Input,
    ) -> f64 {
        let mut worst = 0f64;
        for n in names {
            let input = if tensor_in {
                self.array(&format!("tin/{n}"))
            } else {
                self.image(&format!("in/{n}"))
            };
            let key = format!("out/{case}/{n}");
            let want = &self.0[&key];
            let got = f(input);
            let diff = match got {
                Input::Image(img) => {
                    assert_eq!(want.dtype(), DType::U8, "{key}: torchvision gives a tensor");
                    assert_eq!(
                        want.dims(),
                        &[img.height, img.width, img.channels],
                        "{key}: shape"
                    );
                    let w = want.flatten_all().unwrap().to_vec1::<u8>().unwrap();
                    let d = img
                        .data
                        .iter()
                        .zip(&w)
                        .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
                        .max()
                        .unwrap_or(0);
                    let n_off = img.data.iter().zip(&w).filter(|(a, b)| a != b).count();
                    if n_off > 0 {
                        println!("  {key}: {n_off} of {} values differ", w.len());
                    }
                    f64::from(d)
                }
                Input::Array(a) => {
                    assert_eq!(want.dims(), a.shape.as_slice(), "{key}: shape");
                    let w = want
                        .to_dtype(DType::F32)
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1::<f32>()
                        .unwrap();
                    let d = a
                        .data
                        .iter()
                        .zip(&w)
                        .map(|(&x, &y)| f64::from((x - y).abs()))
                        .fold(0f64, f64::max);
                    d * 255.0
                }
            };
            assert!(
                diff <= 1.0 + 1e-6,
                "{key}: max difference {diff:.4}/255 exceeds 1/255"
            );
            worst = worst.max(diff);
        }
        println!("{case:<28} max |wick − torchvision| = {worst:.4}/255");
        worst
    }
}

fn run(t: &dyn Transform, x: Input) -> Input {
    t.apply(x, &mut SeedRng::new(0)).unwrap()
}

fn build(c: TransformConfig) -> Box<dyn Transform> {
    c.build().unwrap()
}

const BIG: &[&str] = &["img0", "img1", "mnist0", "mnist1"];
const MID: &[&str] = &["mid0", "mid1", "mnist0"];
const SMALL: &[&str] = &["small0", "mnist0"];
const T: &[&str] = &["mid0", "mnist0"];

fn resize(size: Size, interpolation: IM, max_size: Option<usize>) -> Box<dyn Transform> {
    build(TransformConfig::from(ResizeConfig {
        size,
        interpolation,
        max_size,
        antialias: true,
    }))
}

#[test]
fn resize_matches_pil() {
    let fx = Fx::load();
    let cases: Vec<(&str, &[&str], Box<dyn Transform>)> = vec![
        (
            "resize_bilinear_64",
            BIG,
            resize(Size::Int(64), IM::Bilinear, None),
        ),
        (
            "resize_bicubic_50x70",
            BIG,
            resize(Size::Seq(vec![50, 70]), IM::Bicubic, None),
        ),
        (
            "resize_nearest_45",
            BIG,
            resize(Size::Int(45), IM::Nearest, None),
        ),
        (
            "resize_max_size",
            BIG,
            resize(Size::Int(40), IM::Bilinear, Some(50)),
        ),
        (
            "resize_up_bilinear",
            SMALL,
            resize(Size::Seq(vec![70, 50]), IM::Bilinear, None),
        ),
        (
            "resize_up_bicubic",
            SMALL,
            resize(Size::Seq(vec![70, 50]), IM::Bicubic, None),
        ),
        (
            "resize_up_nearest",
            SMALL,
            resize(Size::Seq(vec![70, 50]), IM::Nearest, None),
        ),
    ];
    for (name, inputs, t) in &cases {
        fx.check(name, false, inputs, |x| run(t.as_ref(), x));
    }
    for (name, mode) in [
        ("resized_crop_bilinear", IM::Bilinear),
        ("resized_crop_bicubic", IM::Bicubic),
        ("resized_crop_nearest", IM::Nearest),
    ] {
        fx.check(name, false, &["img0", "img1"], |x| {
            F::resized_crop(x, 10, 20, 90, 120, (48, 40), mode, true).unwrap()
        });
    }
    fx.check("resized_crop_mnist", false, &["mnist0", "mnist1"], |x| {
        F::resized_crop(x, 3, 4, 20, 18, (24, 24), IM::Bilinear, true).unwrap()
    });
}

#[test]
fn crops_pads_flips_match_pil() {
    let fx = Fx::load();
    for (name, h, w) in [
        ("center_crop_100x90", 100, 90),
        ("center_crop_25x31", 25, 31),
    ] {
        let t = build(TransformConfig::from(CenterCropConfig {
            size: Size::Seq(vec![h, w]),
        }));
        fx.check(name, false, BIG, |x| run(t.as_ref(), x));
    }
    for (name, mode) in [
        ("pad_constant", PaddingMode::Constant),
        ("pad_edge", PaddingMode::Edge),
        ("pad_reflect", PaddingMode::Reflect),
        ("pad_symmetric", PaddingMode::Symmetric),
    ] {
        let t = build(TransformConfig::from(PadConfig {
            padding: Padding::Seq(vec![3, 5, 7, 2]),
            fill: Fill::Num(77.0),
            padding_mode: mode,
        }));
        fx.check(name, false, SMALL, |x| run(t.as_ref(), x));
    }
    let t = build(TransformConfig::from(PadConfig {
        padding: Padding::Seq(vec![4, 2]),
        fill: Fill::Seq(vec![10.0, 200.0, 30.0]),
        padding_mode: PaddingMode::Constant,
    }));
    fx.check("pad_fill_rgb", false, &["small0"], |x| run(t.as_ref(), x));
    fx.check("hflip", false, MID, |x| F::hflip(x).unwrap());
    fx.check("vflip", false, MID, |x| F::vflip(x).unwrap());
}

#[test]
fn colour_matches_pil() {
    let fx = Fx::load();
    for n in [1, 3] {
        let t = build(TransformConfig::from(GrayscaleConfig {
            num_output_channels: n,
        }));
        fx.check(&format!("grayscale{n}"), false, &["img0", "mid0"], |x| {
            run(t.as_ref(), x)
        });
    }
    for f in [0.6, 1.4] {
        fx.check(&format!("brightness_{f}"), false, MID, |x| {
            F::adjust_brightness(x, f).unwrap()
        });
    }
    for f in [0.5, 1.7] {
        fx.check(&format!("contrast_{f}"), false, MID, |x| {
            F::adjust_contrast(x, f).unwrap()
        });
    }
    for f in [0.3, 1.8] {
        fx.check(&format!("saturation_{f}"), false, MID, |x| {
            F::adjust_saturation(x, f).unwrap()
        });
    }
    for f in [-0.3, 0.2, 0.45] {
        fx.check(&format!("hue_{f}"), false, MID, |x| {
            F::adjust_hue(x, f).unwrap()
        });
    }
    fx.check("blur_5_1.3", false, MID, |x| {
        F::gaussian_blur(x, (5, 5), (1.3, 1.3)).unwrap()
    });
    fx.check("blur_3x7", false, MID, |x| {
        F::gaussian_blur(x, (3, 7), (0.8, 2.0)).unwrap()
    });
}

#[test]
fn hymenoptera_pipelines_match_pil() {
    let fx = Fx::load();
    let r = resize(Size::Int(256), IM::Bilinear, None);
    let c = build(TransformConfig::from(CenterCropConfig {
        size: Size::Int(224),
    }));
    fx.check("pipeline_val", false, &["img2"], |x| {
        run(c.as_ref(), run(r.as_ref(), x))
    });
    fx.check("pipeline_train", false, &["img2"], |x| {
        F::hflip(F::resized_crop(x, 17, 41, 150, 190, (112, 112), IM::Bilinear, true).unwrap())
            .unwrap()
    });
}

#[test]
fn tensor_paths_match_torchvision() {
    let fx = Fx::load();
    let rs = |h, w, m, aa| move |x| F::resize_exact(x, h, w, m, aa).unwrap();
    fx.check(
        "t_resize_aa_bilinear",
        true,
        T,
        rs(20, 13, IM::Bilinear, true),
    );
    fx.check(
        "t_resize_noaa_bilinear",
        true,
        T,
        rs(20, 13, IM::Bilinear, false),
    );
    fx.check(
        "t_resize_aa_bicubic",
        true,
        T,
        rs(20, 13, IM::Bicubic, true),
    );
    fx.check(
        "t_resize_noaa_bicubic",
        true,
        T,
        rs(20, 13, IM::Bicubic, false),
    );
    fx.check("t_resize_nearest", true, T, rs(20, 13, IM::Nearest, true));
    fx.check(
        "t_resize_up_bilinear",
        true,
        T,
        rs(45, 50, IM::Bilinear, false),
    );
    fx.check(
        "t_resize_up_bicubic",
        true,
        T,
        rs(45, 50, IM::Bicubic, false),
    );
    fx.check(
        "t_resize_up_nearest",
        true,
        T,
        rs(45, 50, IM::Nearest, true),
    );
    fx.check("t_brightness", true, T, |x| {
        F::adjust_brightness(x, 1.3).unwrap()
    });
    fx.check("t_contrast", true, T, |x| {
        F::adjust_contrast(x, 0.6).unwrap()
    });
    fx.check("t_saturation", true, T, |x| {
        F::adjust_saturation(x, 1.5).unwrap()
    });
    fx.check("t_hue", true, T, |x| F::adjust_hue(x, 0.25).unwrap());
    fx.check("t_grayscale3", true, &["mid0"], |x| {
        F::rgb_to_grayscale(x, 3).unwrap()
    });
    fx.check("t_blur", true, T, |x| {
        F::gaussian_blur(x, (5, 3), (1.1, 0.7)).unwrap()
    });
    fx.check("t_pad_reflect", true, T, |x| {
        F::pad(x, [2, 3, 4, 1], &[0.0], PaddingMode::Reflect).unwrap()
    });
    fx.check("t_pad_symmetric", true, T, |x| {
        F::pad(x, [2, 3, 4, 1], &[0.0], PaddingMode::Symmetric).unwrap()
    });
    fx.check("t_center_crop", true, T, |x| {
        F::center_crop(x, 40, 21).unwrap()
    });
    fx.check("t_erase", true, T, |x| {
        wick_data::transforms::erase(
            x,
            &wick_data::transforms::RandomErasingParams {
                top: 5,
                left: 6,
                height: 10,
                width: 12,
                values: vec![0.5],
            },
        )
        .unwrap()
    });
    let to_u8 = ConvertImageDtypeConfig {
        dtype: ImageDtype::Uint8,
    }
    .build();
    fx.check("t_to_uint8", true, T, |x| {
        // torchvision's uint8 tensor [C, H, W] as float, for comparison
        match run(&to_u8, x) {
            Input::Image(i) => run(&ToTensor, Input::Image(i)),
            a => a,
        }
    });
}

const ROT: &[&str] = &["mid0", "mnist0"];

#[test]
fn rotation_and_affine_match_pil() {
    let fx = Fx::load();
    fx.check("rotate_33_nearest", false, ROT, |x| {
        F::rotate(x, 33.0, IM::Nearest, false, None, &[0.0]).unwrap()
    });
    fx.check("rotate_-20_bilinear", false, ROT, |x| {
        F::rotate(x, -20.0, IM::Bilinear, false, None, &[0.0]).unwrap()
    });
    fx.check("rotate_33_expand", false, ROT, |x| {
        F::rotate(x, 33.0, IM::Bilinear, true, None, &[0.0]).unwrap()
    });
    fx.check("rotate_center_fill", false, ROT, |x| {
        F::rotate(x, 50.0, IM::Nearest, false, Some([10.0, 20.0]), &[200.0]).unwrap()
    });
    fx.check("rotate_90", false, ROT, |x| {
        F::rotate(x, 90.0, IM::Nearest, false, None, &[0.0]).unwrap()
    });
    fx.check("affine_bilinear", false, ROT, |x| {
        F::affine(
            x,
            15.0,
            [3.0, -4.0],
            1.1,
            [5.0, -3.0],
            IM::Bilinear,
            &[0.0],
            None,
        )
        .unwrap()
    });
    fx.check("affine_nearest_fill", false, ROT, |x| {
        F::affine(
            x,
            -40.0,
            [-6.0, 2.0],
            0.8,
            [0.0, 10.0],
            IM::Nearest,
            &[60.0],
            None,
        )
        .unwrap()
    });
    fx.check("t_rotate_bilinear", true, T, |x| {
        F::rotate(x, 25.0, IM::Bilinear, false, None, &[0.3]).unwrap()
    });
    fx.check("t_rotate_nearest_expand", true, T, |x| {
        F::rotate(x, -37.0, IM::Nearest, true, None, &[0.0]).unwrap()
    });
    fx.check("t_rotate_center", true, T, |x| {
        F::rotate(x, 60.0, IM::Bilinear, false, Some([5.0, 9.0]), &[1.0]).unwrap()
    });
    fx.check("t_affine_bilinear", true, T, |x| {
        F::affine(
            x,
            15.0,
            [3.0, -4.0],
            1.1,
            [5.0, -3.0],
            IM::Bilinear,
            &[0.2],
            None,
        )
        .unwrap()
    });
    fx.check("t_affine_nearest", true, T, |x| {
        F::affine(
            x,
            -40.0,
            [-6.0, 2.0],
            0.8,
            [0.0, 10.0],
            IM::Nearest,
            &[0.0],
            None,
        )
        .unwrap()
    });
}

/// Throughput of the hymenoptera pipelines on decoded images, one thread. Needs a file
/// of raw RGB images (`u32` count, then per image `u32` height, `u32` width and the
/// bytes) named by `WICK_BENCH_IMAGES`; run with `cargo test -p wick-data --test
/// parity_transforms -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_hymenoptera_pipelines() {
    let Ok(path) = std::env::var("WICK_BENCH_IMAGES") else {
        println!("set WICK_BENCH_IMAGES to a raw image file");
        return;
    };
    let raw = std::fs::read(path).unwrap();
    let u32at = |o: usize| u32::from_le_bytes(raw[o..o + 4].try_into().unwrap()) as usize;
    let n = u32at(0);
    let mut o = 4;
    let mut images = Vec::with_capacity(n);
    for _ in 0..n {
        let (h, w) = (u32at(o), u32at(o + 4));
        o += 8;
        images.push(Image {
            height: h,
            width: w,
            channels: 3,
            data: raw[o..o + h * w * 3].to_vec(),
        });
        o += h * w * 3;
    }
    let normalize = TransformConfig::from(wick_data::transforms::NormalizeConfig {
        mean: vec![0.485, 0.456, 0.406],
        std: vec![0.229, 0.224, 0.225],
        inplace: false,
    });
    let train = wick_data::transforms::Compose::from_configs(&[
        TransformConfig::from(wick_data::transforms::RandomResizedCropConfig {
            size: Size::Int(224),
            scale: vec![0.08, 1.0],
            ratio: vec![0.75, 4.0 / 3.0],
            interpolation: IM::Bilinear,
            antialias: true,
        }),
        TransformConfig::from(wick_data::transforms::RandomHorizontalFlipConfig { p: 0.5 }),
        TransformConfig::from(wick_data::transforms::ToTensorConfig {}),
        normalize.clone(),
    ])
    .unwrap();
    let val = wick_data::transforms::Compose::from_configs(&[
        TransformConfig::from(ResizeConfig {
            size: Size::Int(256),
            interpolation: IM::Bilinear,
            max_size: None,
            antialias: true,
        }),
        TransformConfig::from(CenterCropConfig {
            size: Size::Int(224),
        }),
        TransformConfig::from(wick_data::transforms::ToTensorConfig {}),
        normalize,
    ])
    .unwrap();
    // CPU time of this thread (ns), so other load on the machine does not count
    let cpu = || -> f64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |ns| ns * 1e-9)
    };
    for (name, t) in [("train", &train), ("val", &val)] {
        let start = std::time::Instant::now();
        let cpu0 = cpu();
        let mut count = 0u64;
        for epoch in 0..3u64 {
            for (i, img) in images.iter().enumerate() {
                let mut rng = SeedRng::stream(0, "transform", &[epoch, i as u64]);
                let out = t.apply(Input::Image(img.clone()), &mut rng).unwrap();
                assert_eq!(out.shape(), vec![3, 224, 224]);
                count += 1;
            }
        }
        let dt = start.elapsed().as_secs_f64();
        let dc = cpu() - cpu0;
        println!(
            "wick {name}: {:.1} images/s of CPU time ({:.1} of wall time; 1 thread, {n} images)",
            count as f64 / dc,
            count as f64 / dt
        );
    }
}
