//! Distribution and determinism tests of the random transforms.

use super::*;
use crate::{Array, Image};

fn stream(i: u64) -> SeedRng {
    SeedRng::stream(7, "transform", &[0, i])
}

fn photo(h: usize, w: usize) -> Input {
    Input::Image(Image {
        height: h,
        width: w,
        channels: 3,
        data: (0..h * w * 3).map(|i| (i * 7 % 251) as u8).collect(),
    })
}

/// The fraction of `n` streams for which `f` is true.
fn rate(n: u64, mut f: impl FnMut(&mut SeedRng) -> bool) -> f64 {
    (0..n).filter(|&i| f(&mut stream(i))).count() as f64 / n as f64
}

#[test]
fn coin_transforms_fire_at_rate_p() {
    let n = 20_000;
    // 5 standard deviations of a binomial proportion
    let tol = |p: f64| 5.0 * (p * (1.0 - p) / n as f64).sqrt();
    let h = RandomHorizontalFlipConfig { p: 0.3 }.build().unwrap();
    let r = rate(n, |g| h.get_params(g));
    assert!((r - 0.3).abs() < tol(0.3), "hflip rate {r}");
    let v = RandomVerticalFlipConfig { p: 0.5 }.build().unwrap();
    let r = rate(n, |g| v.get_params(g));
    assert!((r - 0.5).abs() < tol(0.5), "vflip rate {r}");
    let g = RandomGrayscaleConfig { p: 0.1 }.build().unwrap();
    let r = rate(n, |s| g.get_params(s));
    assert!((r - 0.1).abs() < tol(0.1), "grayscale rate {r}");
    let a = RandomApplyConfig {
        transforms: vec![],
        p: 0.7,
    }
    .build()
    .unwrap();
    let r = rate(n, |s| a.get_params(s));
    assert!((r - 0.7).abs() < tol(0.7), "apply rate {r}");
    // p = 0 and p = 1 are exact
    let never = RandomHorizontalFlipConfig { p: 0.0 }.build().unwrap();
    assert_eq!(rate(1000, |g| never.get_params(g)), 0.0);
    let always = RandomApplyConfig {
        transforms: vec![],
        p: 1.0,
    }
    .build()
    .unwrap();
    assert_eq!(rate(1000, |g| always.get_params(g)), 1.0);
}

#[test]
fn flip_applies_what_get_params_drew() {
    let h = RandomHorizontalFlipConfig { p: 0.5 }.build().unwrap();
    let x = photo(4, 5);
    for i in 0..50 {
        let flip = h.get_params(&mut stream(i));
        let out = h.apply(x.clone(), &mut stream(i)).unwrap();
        let want = if flip {
            functional::hflip(x.clone()).unwrap()
        } else {
            x.clone()
        };
        assert_eq!(out, want);
    }
}

#[test]
fn random_resized_crop_stays_in_its_ranges() {
    let t = RandomResizedCropConfig {
        size: Size::Int(224),
        scale: vec![0.08, 1.0],
        ratio: vec![3.0 / 4.0, 4.0 / 3.0],
        interpolation: InterpolationMode::Bilinear,
        antialias: true,
    }
    .build()
    .unwrap();
    let (h, w) = (375usize, 500usize);
    let (mut amin, mut amax, mut rmin, mut rmax) = (1f64, 0f64, 10f64, 0f64);
    for i in 0..5000 {
        let b = t.get_params(&mut stream(i), h, w);
        assert!(b.height > 0 && b.width > 0);
        assert!(b.top + b.height <= h && b.left + b.width <= w, "{b:?}");
        let area = (b.height * b.width) as f64 / (h * w) as f64;
        let ratio = b.width as f64 / b.height as f64;
        amin = amin.min(area);
        amax = amax.max(area);
        rmin = rmin.min(ratio);
        rmax = rmax.max(ratio);
    }
    // rounding w and h to whole pixels moves area and ratio a little
    assert!(amin >= 0.08 * 0.97 && amax <= 1.0, "area {amin}..{amax}");
    assert!(
        rmin >= 0.75 * 0.97 && rmax <= 4.0 / 3.0 * 1.03,
        "ratio {rmin}..{rmax}"
    );
    assert!(
        amin < 0.1 && amax > 0.9,
        "area range not covered: {amin}..{amax}"
    );
    assert!(
        rmin < 0.78 && rmax > 1.3,
        "ratio range not covered: {rmin}..{rmax}"
    );
    // a very wide image makes every attempt fail: the centred fallback, ratio 4/3
    let b = t.get_params(&mut stream(0), 10, 1000);
    assert_eq!(
        (b.top, b.left, b.height, b.width),
        (0, (1000 - 13) / 2, 10, 13)
    );
    let out = t.apply(photo(30, 40), &mut stream(3)).unwrap();
    assert_eq!(out.shape(), vec![3, 224, 224]);
}

#[test]
fn random_crop_positions_cover_the_range() {
    let t = RandomCropConfig {
        size: Size::Seq(vec![3, 4]),
        padding: Some(Padding::Int(1)),
        pad_if_needed: false,
        fill: Fill::Num(0.0),
        padding_mode: PaddingMode::Constant,
    }
    .build()
    .unwrap();
    let mut seen = std::collections::HashSet::new();
    for i in 0..2000 {
        let p = t.get_params(&mut stream(i), 7, 8).unwrap();
        assert!(p.top <= 4 && p.left <= 4);
        seen.insert((p.top, p.left));
    }
    assert_eq!(seen.len(), 25);
    assert!(t.get_params(&mut stream(0), 2, 8).is_err());
    assert_eq!(t.output_shape(&[3, 5, 6]).unwrap(), vec![3, 3, 4]);
    assert!(t.output_shape(&[3, 0, 1]).is_err());
    // pad_if_needed makes a small image big enough
    let t = RandomCropConfig {
        size: Size::Int(10),
        padding: None,
        pad_if_needed: true,
        fill: Fill::Num(0.0),
        padding_mode: PaddingMode::Edge,
    }
    .build()
    .unwrap();
    let out = t.apply(photo(4, 12), &mut stream(1)).unwrap();
    assert_eq!(out.shape(), vec![3, 10, 10]);
    assert_eq!(t.output_shape(&[3, 4, 12]).unwrap(), vec![3, 10, 10]);
}

#[test]
fn color_jitter_factors_and_orders() {
    let t = ColorJitterConfig {
        brightness: NumOrRange::Num(0.4),
        contrast: NumOrRange::Seq(vec![0.5, 0.9]),
        saturation: NumOrRange::Num(0.0),
        hue: NumOrRange::Num(0.1),
    }
    .build()
    .unwrap();
    let mut orders = std::collections::HashMap::new();
    for i in 0..4800 {
        let p = t.get_params(&mut stream(i));
        let b = p.brightness.unwrap();
        let c = p.contrast.unwrap();
        let h = p.hue.unwrap();
        assert!((0.6..1.4).contains(&b) && (0.5..0.9).contains(&c) && (-0.1..0.1).contains(&h));
        assert_eq!(p.saturation, None, "saturation 0 is off");
        let mut o = p.order;
        o.sort_unstable();
        assert_eq!(o, [0, 1, 2, 3]);
        *orders.entry(p.order).or_insert(0usize) += 1;
    }
    // all 24 orders, each about 200 times
    assert_eq!(orders.len(), 24);
    assert!(
        orders.values().all(|&n| (120..280).contains(&n)),
        "{orders:?}"
    );
    // arguments as torchvision checks them
    let bad = ColorJitterConfig {
        hue: NumOrRange::Num(0.7),
        ..Default::default()
    }
    .build();
    assert!(bad
        .err()
        .unwrap()
        .to_string()
        .contains("hue values should be between"));
    let bad = ColorJitterConfig {
        brightness: NumOrRange::Num(-1.0),
        ..Default::default()
    }
    .build();
    assert!(bad.err().unwrap().to_string().contains("non negative"));
    // brightness 1.5 clips the first value at 0
    let t = ColorJitterConfig {
        brightness: NumOrRange::Num(1.5),
        ..Default::default()
    }
    .build()
    .unwrap();
    let bs: Vec<f64> = (0..2000)
        .map(|i| t.get_params(&mut stream(i)).brightness.unwrap())
        .collect();
    assert!(bs.iter().all(|b| (0.0..2.5).contains(b)));
    assert!(bs.iter().any(|&b| b < 0.05));
}

#[test]
fn random_erasing_boxes_and_values() {
    let t = RandomErasingConfig {
        p: 0.5,
        scale: vec![0.02, 0.33],
        ratio: vec![0.3, 3.3],
        value: ErasingValue::Str("random".into()),
        inplace: false,
    }
    .build()
    .unwrap();
    let (c, h, w) = (3, 32, 32);
    let mut erased = 0;
    let mut vals = Vec::new();
    for i in 0..4000 {
        if let Some(p) = t.get_params(&mut stream(i), c, h, w) {
            erased += 1;
            let a = (p.height * p.width) as f64 / (h * w) as f64;
            assert!(p.height < h && p.width < w);
            assert!(p.top + p.height <= h && p.left + p.width <= w);
            assert!((0.0..=0.36).contains(&a), "area {a}");
            assert_eq!(p.values.len(), c * p.height * p.width);
            vals.extend(p.values);
        }
    }
    // a few of the 50% fail all 10 attempts (boxes as big as the image)
    let r = erased as f64 / 4000.0;
    assert!((0.44..0.53).contains(&r), "erase rate {r}");
    let mean = vals.iter().map(|&v| f64::from(v)).sum::<f64>() / vals.len() as f64;
    let var = vals
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / vals.len() as f64;
    assert!(
        mean.abs() < 0.02 && (var - 1.0).abs() < 0.03,
        "N(0,1)? {mean} {var}"
    );
    // images are refused: RandomErasing works on tensors
    assert!(t.apply(photo(4, 4), &mut stream(0)).is_err());
    let x = Input::Array(Array {
        shape: vec![3, h, w],
        data: vec![0.25; c * h * w],
    });
    let t1 = RandomErasingConfig {
        p: 1.0,
        scale: vec![0.1, 0.1],
        ratio: vec![1.0, 1.0],
        value: ErasingValue::Seq(vec![1.0, 2.0, 3.0]),
        inplace: false,
    }
    .build()
    .unwrap();
    let Input::Array(out) = t1.apply(x, &mut stream(2)).unwrap() else {
        panic!()
    };
    // 0.1 · 1024 = 102.4 → 10 × 10 box, channel k set to k + 1
    for k in 0..3 {
        let n = out.data[k * h * w..(k + 1) * h * w]
            .iter()
            .filter(|&&v| v == (k + 1) as f32)
            .count();
        assert_eq!(n, 100);
    }
}

#[test]
fn random_choice_follows_weights() {
    let flip = TransformConfig::from(RandomHorizontalFlipConfig { p: 1.0 });
    let t = RandomChoiceConfig {
        transforms: vec![flip.clone(), flip],
        p: Some(vec![1.0, 3.0]),
    }
    .build()
    .unwrap();
    let r = rate(20_000, |g| t.get_params(g) == 0);
    assert!((r - 0.25).abs() < 0.02, "{r}");
    assert!(RandomChoiceConfig {
        transforms: vec![],
        p: None
    }
    .build()
    .is_err());
}

#[test]
fn affine_rotation_and_blur_parameters_in_range() {
    let t = RandomAffineConfig {
        degrees: NumOrRange::Num(10.0),
        translate: Some(vec![0.1, 0.2]),
        scale: Some(vec![0.9, 1.1]),
        shear: Some(NumOrRange::Seq(vec![-5.0, 5.0, 1.0, 2.0])),
        interpolation: InterpolationMode::Bilinear,
        fill: Fill::Num(0.0),
        center: None,
    }
    .build()
    .unwrap();
    for i in 0..2000 {
        let p = t.get_params(&mut stream(i), 50, 40);
        assert!((-10.0..10.0).contains(&p.angle));
        assert!(p.translate[0].abs() <= 5.0 && p.translate[1].abs() <= 8.0);
        assert_eq!(p.translate[0].fract(), 0.0);
        assert!((0.9..1.1).contains(&p.scale));
        assert!((-5.0..5.0).contains(&p.shear[0]) && (1.0..2.0).contains(&p.shear[1]));
    }
    let out = t.apply(photo(40, 50), &mut stream(0)).unwrap();
    assert_eq!(out.shape(), vec![3, 40, 50]);
    let r = RandomRotationConfig {
        degrees: NumOrRange::Seq(vec![20.0, 30.0]),
        interpolation: InterpolationMode::Nearest,
        expand: true,
        center: None,
        fill: Fill::Num(0.0),
    }
    .build()
    .unwrap();
    for i in 0..500 {
        assert!((20.0..30.0).contains(&r.get_params(&mut stream(i))));
    }
    assert!(
        r.output_shape(&[3, 40, 50]).is_err(),
        "expand: no static shape"
    );
    let b = GaussianBlurConfig {
        kernel_size: KernelSize::Int(5),
        sigma: NumOrRange::Seq(vec![0.1, 2.0]),
    }
    .build()
    .unwrap();
    for i in 0..500 {
        assert!((0.1..2.0).contains(&b.get_params(&mut stream(i))));
    }
    assert!(GaussianBlurConfig {
        kernel_size: KernelSize::Int(4),
        sigma: NumOrRange::Num(1.0),
    }
    .build()
    .is_err());
}

fn train_pipeline() -> Compose {
    Compose::from_configs(&[
        TransformConfig::from(RandomResizedCropConfig {
            size: Size::Int(24),
            scale: vec![0.08, 1.0],
            ratio: vec![0.75, 4.0 / 3.0],
            interpolation: InterpolationMode::Bilinear,
            antialias: true,
        }),
        TransformConfig::from(RandomHorizontalFlipConfig { p: 0.5 }),
        TransformConfig::from(ColorJitterConfig {
            brightness: NumOrRange::Num(0.3),
            contrast: NumOrRange::Num(0.3),
            saturation: NumOrRange::Num(0.3),
            hue: NumOrRange::Num(0.1),
        }),
        TransformConfig::from(RandomRotationConfig {
            degrees: NumOrRange::Num(15.0),
            interpolation: InterpolationMode::Bilinear,
            expand: false,
            center: None,
            fill: Fill::Num(0.0),
        }),
        TransformConfig::from(ToTensorConfig {}),
        TransformConfig::from(RandomErasingConfig {
            p: 0.5,
            scale: vec![0.02, 0.33],
            ratio: vec![0.3, 3.3],
            value: ErasingValue::Str("random".into()),
            inplace: false,
        }),
    ])
    .unwrap()
}

#[test]
fn same_stream_same_augmentation() {
    let t = train_pipeline();
    let x = photo(60, 80);
    let outs: Vec<Input> = (0..8)
        .map(|i| t.apply(x.clone(), &mut stream(i)).unwrap())
        .collect();
    for (i, o) in outs.iter().enumerate() {
        assert_eq!(o, &t.apply(x.clone(), &mut stream(i as u64)).unwrap());
        assert_eq!(o.shape(), vec![3, 24, 24]);
    }
    // different samples get different augmentations
    for i in 1..outs.len() {
        assert_ne!(outs[0], outs[i]);
    }
    assert_eq!(t.output_shape(&[3, 60, 80]).unwrap(), vec![3, 24, 24]);
    assert_eq!(t.output_kind(Kind::Image).unwrap(), Kind::Tensor);
}

#[test]
fn shapes_and_kinds_are_checked() {
    let val = Compose::from_configs(&[
        TransformConfig::from(ResizeConfig {
            size: Size::Int(256),
            interpolation: InterpolationMode::Bilinear,
            max_size: None,
            antialias: true,
        }),
        TransformConfig::from(CenterCropConfig {
            size: Size::Int(224),
        }),
        TransformConfig::from(PILToTensorConfig {}),
        TransformConfig::from(ConvertImageDtypeConfig {
            dtype: ImageDtype::Float32,
        }),
        TransformConfig::from(NormalizeConfig {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
            inplace: false,
        }),
    ])
    .unwrap();
    assert_eq!(val.output_shape(&[3, 375, 500]).unwrap(), vec![3, 224, 224]);
    assert_eq!(val.output_kind(Kind::Image).unwrap(), Kind::Tensor);
    let out = val.apply(photo(300, 200), &mut stream(0)).unwrap();
    assert_eq!(out.shape(), vec![3, 224, 224]);
    assert!(matches!(out, Input::Array(_)));
    // Resize's smaller-edge rule and max_size
    let r = ResizeConfig {
        size: Size::Int(100),
        interpolation: InterpolationMode::Bilinear,
        max_size: Some(120),
        antialias: true,
    }
    .build()
    .unwrap();
    assert_eq!(r.output_shape(&[1, 50, 200]).unwrap(), vec![1, 30, 120]);
    assert!(ResizeConfig {
        size: Size::Int(100),
        interpolation: InterpolationMode::Bilinear,
        max_size: Some(100),
        antialias: true,
    }
    .build()
    .is_err());
    // tensors only after ToTensor, images only before
    let norm = TransformConfig::from(NormalizeConfig {
        mean: vec![0.5],
        std: vec![0.5],
        inplace: false,
    });
    assert!(norm.build().unwrap().output_kind(Kind::Image).is_err());
    let twice = Compose::from_configs(&[
        TransformConfig::from(ToTensorConfig {}),
        TransformConfig::from(PILToTensorConfig {}),
    ])
    .unwrap();
    assert!(twice.output_kind(Kind::Image).is_err());
    // a RandomChoice between different sizes has no static shape
    let choice = RandomChoiceConfig {
        transforms: vec![
            TransformConfig::from(CenterCropConfig { size: Size::Int(4) }),
            TransformConfig::from(CenterCropConfig { size: Size::Int(5) }),
        ],
        p: None,
    }
    .build()
    .unwrap();
    assert!(choice.output_shape(&[3, 10, 10]).is_err());
    // grayscale changes the channel count
    let g = GrayscaleConfig {
        num_output_channels: 1,
    }
    .build()
    .unwrap();
    assert_eq!(g.output_shape(&[3, 8, 8]).unwrap(), vec![1, 8, 8]);
    assert!(GrayscaleConfig {
        num_output_channels: 2
    }
    .build()
    .is_err());
}
