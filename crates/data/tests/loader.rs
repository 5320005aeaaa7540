//! End to end: datasets from the catalog through the DataLoader, identical batches
//! whatever `num_workers` is.

use candle_core::{DType, Device};
use std::sync::Arc;
use wick_data::datasets::{DatasetConfig, DatasetContext};
use wick_data::sampler::{SamplerConfig, WeightedRandomSamplerConfig, Weights};
use wick_data::transforms::Compose;
use wick_data::{DataLoader, DataLoaderConfig, Split};

fn ctx(root: &std::path::Path) -> DatasetContext<'static> {
    DatasetContext {
        split: Split::Train,
        root: root.to_path_buf(),
        download: false,
        mirrors: None,
        seed: 11,
    }
}

type Epoch = Vec<(Vec<f32>, Vec<f32>)>;

fn epoch(l: &DataLoader, e: u64) -> Epoch {
    l.epoch(e)
        .map(|b| {
            let b = b.unwrap();
            (
                b.input.flatten_all().unwrap().to_vec1().unwrap(),
                b.target
                    .to_dtype(DType::F32)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap(),
            )
        })
        .collect()
}

#[test]
fn moons_with_a_weighted_sampler_whatever_num_workers() {
    let d = tempfile::tempdir().unwrap();
    let cfg: DatasetConfig =
        toml::from_str("type = \"make_moons\"\nn_samples = 200\nnoise = 0.1").unwrap();
    let ds = cfg.build(&ctx(d.path())).unwrap();
    let mut weights = vec![1.0; 200];
    weights[..100].iter_mut().for_each(|w| *w = 3.0);
    let sampler = SamplerConfig::from(WeightedRandomSamplerConfig {
        weights: Some(Weights::PerSample(weights)),
        num_samples: Some(150),
        replacement: true,
        class_weights: None,
    });
    let mut want: Option<Epoch> = None;
    for workers in [0, 1, 4] {
        let lc = DataLoaderConfig {
            batch_size: 32,
            sampler: Some(sampler.clone()),
            num_workers: workers,
            ..Default::default()
        };
        let l = DataLoader::new(ds.clone(), Compose::default(), &lc, 11, Device::Cpu).unwrap();
        assert_eq!(l.len(), 5);
        let got = epoch(&l, 2);
        assert_eq!(got[0].0.len(), 32 * 2);
        assert_eq!(got[4].1.len(), 150 - 4 * 32);
        match &want {
            None => want = Some(got),
            Some(w) => assert_eq!(&got, w, "num_workers = {workers}"),
        }
    }
}

#[test]
fn csv_float_targets_are_f32_batches() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.csv"), "1,2,0\n3,4,1\n5,6,1\n").unwrap();
    let cfg: DatasetConfig = toml::from_str("type = \"CSV\"\npath = \"t.csv\"").unwrap();
    let ds = cfg.build(&ctx(d.path())).unwrap();
    let lc = DataLoaderConfig {
        batch_size: 2,
        ..Default::default()
    };
    let l = DataLoader::new(Arc::clone(&ds), Compose::default(), &lc, 0, Device::Cpu).unwrap();
    let b = l.epoch(0).next().unwrap().unwrap();
    assert_eq!(b.input.dims(), &[2, 2]);
    assert_eq!(b.target.dims(), &[2, 1]);
    assert_eq!(b.target.dtype(), DType::F32);
    assert_eq!(
        b.target.to_vec2::<f32>().unwrap(),
        vec![vec![0.0], vec![1.0]]
    );
}
