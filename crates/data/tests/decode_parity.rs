//! Image decoding against PIL's `Image.open(f).convert("RGB")` (fixtures from
//! `scripts/fixtures_decode.py`), and loading only the box a leading crop keeps.

use candle_core::Device;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use wick_data::datasets::ImageFolder;
use wick_data::transforms::{Compose, TransformConfig};
use wick_data::{DataLoader, DataLoaderConfig, Dataset, Sample};
use wick_tensor::testing::load_fixture;

/// The hymenoptera files whose PIL decode the fixture holds a digest of.
const FILES: &[&str] = &[
    "hymenoptera/train/ants/0013035.jpg",
    "hymenoptera/train/bees/1092977343_cb42b38d62.jpg",
    "hymenoptera/val/ants/10308379_1b6c72e180.jpg",
    "hymenoptera/val/bees/1032546534_06907fe3b3.jpg",
    "hymenoptera/train/ants/imageNotFound.gif",
];

#[test]
fn photographs_decode_to_pils_pixels_exactly() {
    let Some(shared) = wick_data::testing::shared_datasets() else {
        eprintln!("skipped: the shared datasets are not found");
        return;
    };
    let fx = load_fixture("decode.safetensors");
    for (k, rel) in FILES.iter().enumerate() {
        let img = ImageFolder::load(&shared.join(rel)).unwrap();
        let shape: Vec<i64> = fx[&format!("file{k}.shape")].to_vec1().unwrap();
        assert_eq!(
            [img.height as i64, img.width as i64],
            shape.as_slice(),
            "{rel}"
        );
        assert_eq!(img.channels, 3);
        let want: Vec<u8> = fx[&format!("file{k}.sha256")].to_vec1().unwrap();
        assert_eq!(
            Sha256::digest(&img.data).as_slice(),
            want,
            "{rel}: pixels differ from PIL's"
        );
    }
}

/// An ImageFolder of the fixture's JPEGs (every subsampling, progressive, grey) and a
/// PNG, in two classes.
fn folder(dir: &Path) {
    let fx = load_fixture("decode.safetensors");
    let names = [
        "s420",
        "s422",
        "s444",
        "prog420",
        "restart420",
        "gray",
        "q50_420",
    ];
    for (i, name) in names.iter().enumerate() {
        let class = dir.join(["a", "b"][i % 2]);
        std::fs::create_dir_all(&class).unwrap();
        let bytes: Vec<u8> = fx[&format!("{name}.jpeg")].to_vec1().unwrap();
        std::fs::write(class.join(format!("{name}.jpg")), bytes).unwrap();
    }
    let png = image::RgbImage::from_fn(45, 38, |x, y| image::Rgb([x as u8 * 5, y as u8 * 6, 77]));
    png.save(dir.join("b").join("z.png")).unwrap();
}

/// The same dataset without `get_region`: every sample decoded whole.
struct Whole(ImageFolder);

impl Dataset for Whole {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn get(&self, index: usize) -> wick_data::Result<Sample> {
        self.0.get(index)
    }
}

fn pipeline(toml: &str) -> Compose {
    #[derive(serde::Deserialize)]
    struct T {
        transforms: Vec<TransformConfig>,
    }
    let t: T = toml::from_str(toml).unwrap();
    Compose::from_configs(&t.transforms).unwrap()
}

/// Every batch of two epochs, as f32 values.
fn epochs(ds: Arc<dyn Dataset>, transforms: &str, workers: usize) -> Vec<Vec<f32>> {
    let lc = DataLoaderConfig {
        batch_size: 3,
        shuffle: true,
        num_workers: workers,
        ..Default::default()
    };
    let l = DataLoader::new(ds, pipeline(transforms), &lc, 5, Device::Cpu).unwrap();
    (0..2)
        .flat_map(|e| l.epoch(e).collect::<Vec<_>>())
        .map(|b| b.unwrap().input.flatten_all().unwrap().to_vec1().unwrap())
        .collect()
}

#[test]
fn a_leading_crop_decodes_only_its_box_with_the_same_values() {
    let d = tempfile::tempdir().unwrap();
    folder(d.path());
    let scan = || {
        ImageFolder::scan(
            d.path(),
            &wick_data::datasets::ImageFolderConfig::new(d.path()),
        )
    };
    let pipelines = [
        r#"transforms = [{ type = "RandomResizedCrop", size = 24 },
            { type = "RandomHorizontalFlip" }, { type = "ToTensor" }]"#,
        r#"transforms = [{ type = "RandomCrop", size = 30 }, { type = "ToTensor" }]"#,
        r#"transforms = [{ type = "CenterCrop", size = 36 }, { type = "ToTensor" }]"#,
        r#"transforms = [{ type = "Resize", size = [20, 20] }, { type = "ToTensor" }]"#,
    ];
    for p in pipelines {
        let want = epochs(Arc::new(Whole(scan().unwrap())), p, 0);
        for workers in [0, 2] {
            let got = epochs(Arc::new(scan().unwrap()), p, workers);
            assert!(got == want, "{p}, num_workers = {workers}");
        }
    }
}
