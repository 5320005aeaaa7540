//! The `Trainer` library API: the course's MNIST MLP trained from Rust alone, with no
//! experiment file, gives the same weights, bit for bit, as `wick run
//! experiments/mnist.toml` with the same seed.

mod common;

use candle_core::{DType, Device, Tensor};
use common::{repo, wick, write_tiny_mnist};
use std::sync::Arc;
use wick::data::datasets::{DatasetConfig, DatasetContext, MnistConfig};
use wick::data::transforms::{Compose, NormalizeConfig, ToTensorConfig, TransformConfig};
use wick::data::{DataLoader, DataLoaderConfig, Split};
use wick::losses::{CrossEntropyLossConfig, LossSpec};
use wick::nn::{BuildCtx, FlattenConfig, Layer, LayerConfig, LinearConfig, ReLUConfig, Sequential};
use wick::optim::SgdConfig;
use wick::runner::fit::{DataParallel, EpochStats, StepEnd};
use wick::runner::{
    Callback, Checkpoints, Control, EarlyStopping, RunError, StopOn, Trainer, View,
};
use wick::tensor::SeedRng;

/// `nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), …, nn.Linear(64, 10))`
fn mlp(seed: u64) -> Sequential {
    let mut layers: Vec<LayerConfig> = vec![FlattenConfig::default().into()];
    for (i, o) in [(784, 512), (512, 256), (256, 128), (128, 64)] {
        layers.push(LinearConfig::new(i, o).into());
        layers.push(ReLUConfig::default().into());
    }
    layers.push(LinearConfig::new(64, 10).into());
    // the run's init stream, as `wick run` draws it from `seed`
    let mut rng = SeedRng::stream(seed, "init", &[]);
    let mut ctx = BuildCtx {
        device: &Device::Cpu,
        dtype: DType::F32,
        rng: &mut rng,
    };
    Sequential::new(&[1, 28, 28], &mut layers, &mut ctx).unwrap()
}

/// `DataLoader(MNIST(root, train=…, transform=…), batch_size=64, shuffle=…)`
fn loader(root: &std::path::Path, split: Split, shuffle: bool, seed: u64) -> DataLoader {
    let ctx = DatasetContext {
        split,
        root: root.to_path_buf(),
        download: false,
        mirrors: None,
        seed,
    };
    let dataset = DatasetConfig::from(MnistConfig::default())
        .build(&ctx)
        .unwrap();
    let transforms: Vec<TransformConfig> = vec![
        ToTensorConfig {}.into(),
        NormalizeConfig {
            mean: vec![0.1307],
            std: vec![0.3081],
            inplace: false,
        }
        .into(),
    ];
    let cfg = DataLoaderConfig {
        batch_size: 64,
        shuffle,
        ..Default::default()
    };
    DataLoader::new(
        Arc::clone(&dataset),
        Compose::from_configs(&transforms).unwrap(),
        &cfg,
        seed,
        Device::Cpu,
    )
    .unwrap()
}

/// Counts the steps it sees and stops after the first epoch.
struct StopAfterOne(Arc<std::sync::atomic::AtomicU64>);

impl Callback for StopAfterOne {
    fn on_step_end(&mut self, _view: &View<'_>, _step: &StepEnd) -> Result<Control, RunError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Control::Continue)
    }
    fn on_epoch_end(&mut self, _view: &View<'_>, _stats: &EpochStats) -> Result<Control, RunError> {
        Ok(Control::Stop("one is enough".into()))
    }
}

#[test]
fn the_mnist_mlp_from_rust_equals_wick_run_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_tiny_mnist(&data, 300, 100);

    // wick run experiments/mnist.toml, two epochs
    let exp = repo().join("experiments/mnist.toml");
    let out = wick(
        &[
            "run",
            exp.to_str().unwrap(),
            "--set",
            "train.epochs=2",
            "--runs-dir",
            "runs",
            "--no-progress",
        ],
        Some(&data),
        tmp.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_dir = std::fs::read_dir(tmp.path().join("runs/mnist-mlp"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let file = run_dir.join("checkpoints/last/model.safetensors");
    let from_file = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();

    // the same program from Rust: no TOML
    let model = mlp(0);
    let params = model.parameters();
    let loss = CrossEntropyLossConfig::default().build().unwrap();
    let optimizer = Box::new(
        SgdConfig {
            lr: 0.01,
            momentum: 0.5,
            ..Default::default()
        }
        .build(model.parameters())
        .unwrap(),
    );
    let ckpts = tmp.path().join("rust-ckpts");
    let report = Trainer::new(model, loss, optimizer)
        .train_loader(loader(&data, Split::Train, true, 0))
        .test_loader(loader(&data, Split::Test, false, 0))
        .epochs(2)
        .callback(Checkpoints::every_epoch(&ckpts))
        .callback(EarlyStopping::new("test_loss", 5))
        .fit()
        .unwrap();
    assert_eq!(report.epochs.len(), 2);
    assert_eq!(report.steps, 2 * 300_u64.div_ceil(64));
    assert!(report.epochs[1].test_acc.is_some());

    assert_eq!(params.len(), 10);
    for p in &params {
        let a: Vec<f32> = p.var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = from_file[&p.name].flatten_all().unwrap().to_vec1().unwrap();
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{} differs",
            p.name
        );
    }
    // the callback wrote epoch checkpoints of the same weights
    let last =
        candle_core::safetensors::load(ckpts.join("epoch-0002/model.safetensors"), &Device::Cpu)
            .unwrap();
    let diff = (&last["9.weight"] - &from_file["9.weight"])
        .unwrap()
        .abs()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(diff, 0.0);
    assert!(ckpts.join("last").exists());
}

#[test]
fn callbacks_see_every_step_and_can_stop_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_tiny_mnist(&data, 100, 20);
    let model: Box<dyn Layer> = Box::new(mlp(1));
    let loss = CrossEntropyLossConfig::default().build().unwrap();
    let optimizer = Box::new(SgdConfig::default().build(model.parameters()).unwrap());
    let steps = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let report = Trainer::new(model, loss, optimizer)
        .train_loader(loader(&data, Split::Train, false, 1))
        .epochs(5)
        .callback(StopAfterOne(steps.clone()))
        .fit()
        .unwrap();
    let stopped = report.stopped.unwrap();
    assert_eq!(
        (stopped.reason.as_str(), stopped.mid_epoch),
        ("one is enough", false)
    );
    assert_eq!(report.epochs.len(), 1);
    assert_eq!(steps.load(std::sync::atomic::Ordering::SeqCst), 2);
    // no training loader: a clear error, not a panic
    let model = mlp(2);
    let loss = CrossEntropyLossConfig::default().build().unwrap();
    let optimizer = Box::new(SgdConfig::default().build(model.parameters()).unwrap());
    let e = Trainer::new(model, loss, optimizer).fit().unwrap_err();
    assert!(e.to_string().contains("no training loader"), "{e}");
    let _ = Tensor::zeros(1, DType::F32, &Device::Cpu);
}

/// Sets a flag after step `at`, as a Ctrl-C handler would.
struct PressCtrlC {
    at: u64,
    flag: Arc<std::sync::atomic::AtomicBool>,
}

impl Callback for PressCtrlC {
    fn on_step_end(&mut self, _view: &View<'_>, step: &StepEnd) -> Result<Control, RunError> {
        if step.step == self.at {
            self.flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(Control::Continue)
    }
}

/// A trainer of the MLP on the tiny MNIST, with shuffling and momentum.
fn mnist_trainer(data: &std::path::Path) -> Trainer<Sequential> {
    let model = mlp(3);
    let loss = CrossEntropyLossConfig::default().build().unwrap();
    let optimizer = Box::new(
        SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            ..Default::default()
        }
        .build(model.parameters())
        .unwrap(),
    );
    Trainer::new(model, loss, optimizer)
        .train_loader(loader(data, Split::Train, true, 3))
        .test_loader(loader(data, Split::Test, false, 3))
        .epochs(2)
}

fn weights(t: &Trainer<Sequential>) -> Vec<(String, Vec<u32>)> {
    t.model()
        .state_dict()
        .into_iter()
        .map(|(k, v)| {
            let bits = v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            (k, bits.into_iter().map(f32::to_bits).collect())
        })
        .collect()
}

#[test]
fn a_run_stopped_mid_epoch_resumes_from_its_checkpoint_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_tiny_mnist(&data, 200, 40);
    let ckpts = tmp.path().join("ckpts");

    let mut whole = mnist_trainer(&data);
    let full = whole.fit().unwrap();
    assert!(full.stopped.is_none());

    // stopped after step 6 of 8 (4 batches an epoch: 200 samples, batch 64)
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut first = mnist_trainer(&data)
        .callback(PressCtrlC {
            at: 6,
            flag: flag.clone(),
        })
        .callback(StopOn::flag(flag))
        .callback(Checkpoints::every_epoch(&ckpts));
    let part = first.fit().unwrap();
    let stopped = part.stopped.unwrap();
    assert!(stopped.mid_epoch, "{stopped:?}");
    assert_eq!((stopped.epoch, part.steps), (2, 6));
    assert_eq!(
        std::fs::read_link(ckpts.join("last")).unwrap(),
        std::path::PathBuf::from("step-000000006")
    );

    let mut second = mnist_trainer(&data).callback(Checkpoints::every_epoch(&ckpts));
    second
        .resume_from(&ckpts.join("last"), &Device::Cpu)
        .unwrap();
    assert_eq!((second.state().epoch, second.state().batch), (2, 2));
    let rest = second.fit().unwrap();
    assert_eq!(rest.steps, full.steps);
    assert_eq!(weights(&second), weights(&whole));
    for (a, b) in rest.epochs.iter().zip(&full.epochs) {
        assert_eq!(
            (a.train_loss, a.train_acc, a.test_loss, a.test_acc),
            (b.train_loss, b.train_acc, b.test_loss, b.test_acc)
        );
    }
}

/// The data-parallel path in a world of one (what every rank runs, with the collectives
/// the identity): the same weights bit for bit as a plain trainer, the same epoch numbers
/// (to the f32 the step's sums travel in); a Ctrl-C read at a step's all-reduce stops the
/// run after the next step, on every rank alike.
#[test]
fn data_parallel_in_a_world_of_one_trains_as_a_plain_trainer() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_tiny_mnist(&data, 200, 40);
    let mut plain = mnist_trainer(&data);
    let want = plain.fit().unwrap();
    let group: Arc<dyn wick::dist::ProcessGroup> = Arc::new(wick::dist::Single);
    let mut dp = mnist_trainer(&data).data_parallel(DataParallel::new(Arc::clone(&group)));
    let got = dp.fit().unwrap();
    assert_eq!(weights(&dp), weights(&plain));
    for (a, b) in got.epochs.iter().zip(&want.epochs) {
        assert!((a.train_loss - b.train_loss).abs() < 1e-6 * b.train_loss.abs().max(1.0));
        assert_eq!(
            (a.train_acc, a.test_loss, a.test_acc),
            (b.train_acc, b.test_loss, b.test_acc)
        );
    }
    let raw = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let agreed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut stopped = mnist_trainer(&data)
        .data_parallel(DataParallel::new(group).interrupt(raw.clone(), agreed.clone()))
        .callback(PressCtrlC { at: 3, flag: raw })
        .callback(StopOn::flag(agreed));
    let report = stopped.fit().unwrap();
    assert_eq!(report.steps, 4, "{:?}", report.stopped);
}
