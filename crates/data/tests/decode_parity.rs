//! Image decoding against PIL: `Image.open(f).convert("RGB")` of a few hymenoptera
//! files (fixtures from `scripts/fixtures_decode.py`), decoded by wick's ImageFolder
//! loader. Skips when the shared datasets are not beside the repository.

use wick_data::datasets::ImageFolder;
use wick_tensor::testing::load_fixture;

const FILES: &[&str] = &[
    "hymenoptera/train/ants/0013035.jpg",
    "hymenoptera/train/bees/1092977343_cb42b38d62.jpg",
    "hymenoptera/val/ants/10308379_1b6c72e180.jpg",
    "hymenoptera/val/bees/1032546534_06907fe3b3.jpg",
    "hymenoptera/train/ants/imageNotFound.gif",
];

#[test]
fn decoding_matches_pil_convert_rgb() {
    let Some(shared) = wick_data::testing::shared_datasets() else {
        eprintln!("skipped: the shared datasets are not found");
        return;
    };
    let fx = load_fixture("decode.safetensors");
    let mut worst = 0u8;
    for (k, rel) in FILES.iter().enumerate() {
        let img = ImageFolder::load(&shared.join(rel)).unwrap();
        let shape: Vec<i64> = fx[&format!("{k}.shape")].to_vec1().unwrap();
        assert_eq!(
            [img.height, img.width, img.channels].map(|v| v as i64),
            shape.as_slice(),
            "{rel}"
        );
        let want: Vec<Vec<Vec<u8>>> = fx[&format!("{k}.patch")].to_vec3().unwrap();
        let (top, left) = ((img.height - 64) / 2, (img.width - 64) / 2);
        let mut max = 0u8;
        for (y, row) in want.iter().enumerate() {
            for (x, px) in row.iter().enumerate() {
                for (c, &v) in px.iter().enumerate() {
                    let got = img.data[((top + y) * img.width + left + x) * 3 + c];
                    max = max.max(got.abs_diff(v));
                }
            }
        }
        let mean: Vec<f64> = fx[&format!("{k}.mean")].to_vec1().unwrap();
        let n = (img.height * img.width) as f64;
        for (c, m) in mean.iter().enumerate() {
            let got: f64 = img
                .data
                .iter()
                .skip(c)
                .step_by(3)
                .map(|&v| f64::from(v))
                .sum();
            assert!(
                (got / n - m).abs() < 0.5,
                "{rel}: channel {c} mean {} vs PIL {m}",
                got / n
            );
        }
        eprintln!("{rel}: max |wick − PIL| = {max}/255 on the centre 64×64 patch");
        worst = worst.max(max);
    }
    // JPEG decoders may round the IDCT and chroma upsampling differently from libjpeg
    assert!(worst <= 4, "max difference {worst}/255");
}
