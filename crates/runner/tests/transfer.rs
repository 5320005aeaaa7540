//! Transfer learning (`[model] weights`, `strict`, `ignore`, `replace`, `freeze`,
//! `trainable`, `frozen_batchnorm`) against PyTorch's files: squeezenet1_1's state dict
//! as torch.save wrote it (scripts/fixtures_zoo.py) loads and gives torchvision's
//! eval-mode logits; torchvision weight names resolve through torch's hub cache and are
//! downloaded (from a server on 127.0.0.1) with torch.hub's hash check.

mod common;

use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use wick_runner::{build_model, load_weights, Experiment};

/// Tests that set TORCH_HOME run one at a time.
static ENV: Mutex<()> = Mutex::new(());

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/fixtures")
}

fn exp(model: &str) -> Experiment {
    Experiment::from_toml(&common::image_experiment(model)).unwrap_or_else(|d| panic!("{d}"))
}

fn squeezenet_pth() -> String {
    fixtures()
        .join("zoo/squeezenet1_1.pth")
        .display()
        .to_string()
}

fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
    // in f32 (BatchNorm's num_batches_tracked is an integer tensor)
    let f32 = |t: &Tensor| t.to_dtype(candle_core::DType::F32).unwrap();
    let (a, b) = (&f32(a), &f32(b));
    let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
    let s = b.abs().unwrap().max_all().unwrap();
    d.to_scalar::<f32>().unwrap() / s.to_scalar::<f32>().unwrap().max(1e-12)
}

/// `arch` loaded from `weights` gives the logits of `logits_file` (PyTorch's, eval mode,
/// on its `input`) within 1e-4 relative, and its state_dict is the file's, key for key.
fn check_arch(arch: &str, weights: &Path, logits_file: &Path) {
    let e = exp(&format!(
        "type = \"{arch}\"\nweights = {:?}",
        weights.display().to_string()
    ));
    let model = build_model(&e, &Device::Cpu).unwrap();
    load_weights(&e, &model).unwrap_or_else(|err| panic!("{arch}: {err}"));
    let f = candle_core::safetensors::load(logits_file, &Device::Cpu).unwrap();
    let got = model.forward(&f["input"], false).unwrap();
    let rel = max_rel(&got, &f["logits"]);
    assert!(rel < 1e-4, "{arch}: logits differ by {rel} (relative)");
    let file = match weights.extension().and_then(|e| e.to_str()) {
        Some("pth") => wick_tensor::pth::load_pth(weights).unwrap(),
        _ => {
            let map = candle_core::safetensors::load(weights, &Device::Cpu).unwrap();
            let mine: Vec<String> = model.state_dict().into_iter().map(|(k, _)| k).collect();
            mine.into_iter()
                .map(|k| (k.clone(), map[&k].clone()))
                .collect()
        }
    };
    let mine: Vec<(String, Tensor)> = model.state_dict();
    assert_eq!(mine.len(), file.len(), "{arch}");
    // a file with torchvision's old key names (densenet's `norm.1`) is compared in order
    let legacy = weights.to_string_lossy().contains(".legacy.");
    for ((k, a), (l, b)) in mine.iter().zip(&file) {
        assert!(legacy || k == l, "{k} != {l}");
        assert_eq!(max_rel(a, b), 0.0, "{arch}: {k}");
    }
}

#[test]
fn squeezenet_pth_from_pytorch_gives_torchvisions_logits() {
    check_arch(
        "squeezenet1_1",
        &fixtures().join("zoo/squeezenet1_1.pth"),
        &fixtures().join("zoo/squeezenet1_1.safetensors"),
    );
}

/// Every architecture, on the files `scripts/zoo_parity.sh` has PyTorch write into
/// `$WICK_ZOO_PARITY` (hundreds of MB: not committed, not in CI): the `.pth` and the
/// `.safetensors` state dicts each give torchvision's logits, and wick's fresh
/// state_dict is written beside them for the script to load into torchvision with
/// strict=True.
#[test]
#[ignore = "opt-in: scripts/zoo_parity.sh"]
fn every_architecture_from_pytorch_files() {
    let dir = PathBuf::from(std::env::var("WICK_ZOO_PARITY").expect("WICK_ZOO_PARITY=dir"));
    let mut seen = 0;
    for arch in wick_runner::zoo::architectures() {
        let logits = dir.join(format!("{arch}.safetensors"));
        if !logits.exists() {
            continue;
        }
        check_arch(arch, &dir.join(format!("{arch}.pth")), &logits);
        check_arch(
            arch,
            &dir.join(format!("{arch}.state.safetensors")),
            &logits,
        );
        let legacy = dir.join(format!("{arch}.legacy.pth"));
        if legacy.exists() {
            check_arch(arch, &legacy, &logits);
            println!("{arch}: torchvision's old key names load through the zoo's `rename`");
        }
        let e = exp(&format!("type = \"{arch}\""));
        let model = build_model(&e, &Device::Cpu).unwrap();
        let sd: std::collections::HashMap<String, Tensor> =
            model.state_dict().into_iter().collect();
        candle_core::safetensors::save(&sd, dir.join(format!("{arch}.wick.safetensors"))).unwrap();
        println!("{arch}: .pth and .safetensors give torchvision's logits (< 1e-4 relative)");
        seen += 1;
    }
    assert!(seen > 0, "no <arch>.safetensors in {}", dir.display());
}

#[test]
fn a_new_head_is_left_out_of_loading_and_freeze_leaves_it_alone_to_train() {
    let e = exp(&format!(
        "type = \"squeezenet1_1\"\nweights = {:?}\nnum_classes = 2\nfreeze = [\"*\"]\ntrainable = [\"classifier.1.*\"]",
        squeezenet_pth()
    ));
    assert_eq!(e.model.transfer.ignore, vec!["classifier.1.*".to_string()]);
    let model = build_model(&e, &Device::Cpu).unwrap();
    load_weights(&e, &model).unwrap();
    let trains: Vec<String> = model
        .parameters()
        .into_iter()
        .filter(|p| p.requires_grad())
        .map(|p| p.name)
        .collect();
    assert_eq!(trains, vec!["classifier.1.weight", "classifier.1.bias"]);
    let s = model.summary();
    assert_eq!(s.trainable_params(), 512 * 2 + 2);
    // the resolved config reads back the same (the run directory's config.toml)
    let back = Experiment::from_toml(&e.to_toml()).unwrap();
    assert_eq!(back.model.transfer, e.model.transfer);
}

#[test]
fn strict_loading_names_the_keys_and_ignore_or_strict_false_lets_it_through() {
    let small = fixtures().join("pth/small.pth").display().to_string();
    let layers = "input = [3, 224, 224]\nlayers = [{ type = \"AdaptiveAvgPool2d\", output_size = 1 }, { op = \"flatten\" }, { name = \"lin\", type = \"Linear\", out_features = 2 }]";
    let e = exp(&format!("{layers}\nweights = {small:?}"));
    let model = build_model(&e, &Device::Cpu).unwrap();
    let err = load_weights(&e, &model).unwrap_err().to_string();
    assert!(
        err.contains("Unexpected key(s) in state_dict: \"bf16\", \"bn.bias\""),
        "{err}"
    );
    assert!(err.contains("small.pth"), "{err}");
    let want = wick_tensor::pth::load_pth(&small).unwrap();
    let lin_weight = &want.iter().find(|(k, _)| k == "lin.weight").unwrap().1;
    for extra in [
        "strict = false",
        "ignore = [\"bn.*\", \"transposed\", \"scalar\", \"u8\", \"f*\", \"bf16\"]",
    ] {
        let e = exp(&format!("{layers}\nweights = {small:?}\n{extra}"));
        let model = build_model(&e, &Device::Cpu).unwrap();
        load_weights(&e, &model).unwrap_or_else(|err| panic!("{extra}: {err}"));
        let got = &model.state_dict()[0].1;
        assert_eq!(max_rel(got, lin_weight), 0.0, "{extra}");
    }
}

#[test]
fn a_replaced_module_is_fresh_and_the_rest_loads_strictly() {
    let pth = squeezenet_pth();
    let e = exp(&format!(
        "type = \"squeezenet1_1\"\nweights = {pth:?}\nreplace = {{ \"features.0\" = {{ type = \"Conv2d\", out_channels = 64, kernel_size = 5, stride = 2, padding = 1 }} }}"
    ));
    assert_eq!(e.model.transfer.ignore, vec!["features.0.*".to_string()]);
    let model = build_model(&e, &Device::Cpu).unwrap();
    load_weights(&e, &model).unwrap();
    let sd = model.state_dict();
    assert_eq!(sd[0].0, "features.0.weight");
    assert_eq!(
        sd[0].1.dims(),
        &[64, 3, 5, 5],
        "as model.features[0] = nn.Conv2d(3, 64, 5, ...)"
    );
    let file = wick_tensor::pth::load_pth(&pth).unwrap();
    assert_eq!(sd[2].0, file[2].0);
    assert_eq!(max_rel(&sd[2].1, &file[2].1), 0.0, "the rest is the file's");
}

#[test]
fn bad_transfer_keys_are_located() {
    let e = Experiment::from_toml(&common::image_experiment(
        "type = \"squeezenet1_1\"\nweights = \"IMAGENET1K_V2\"",
    ))
    .unwrap_err();
    assert_eq!(e.path.to_string(), "model.weights");
    assert_eq!(e.help.as_deref(), Some("did you mean `IMAGENET1K_V1`?"));
    let e = Experiment::from_toml(&common::image_experiment(
        "type = \"squeezenet1_1\"\nreplace = { \"features.99\" = { type = \"ReLU\" } }",
    ))
    .unwrap_err();
    assert_eq!(e.path.to_string(), "model.replace.features.99");
    let e = Experiment::from_toml(&common::image_experiment(
        "input = [4]\nweights = \"IMAGENET1K_V1\"\nlayers = [{ type = \"Linear\", out_features = 2 }]",
    ))
    .unwrap_err();
    assert_eq!(e.path.to_string(), "model.weights");
    let frozen = exp("type = \"squeezenet1_1\"\nfreeze = [\"classifer.*\"]");
    let err = build_model(&frozen, &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("model.freeze[0] = \"classifer.*\" matches no parameter"),
        "{err}"
    );
}

#[test]
fn torchvision_names_resolve_through_the_hub_cache_and_download_with_a_hash_check() {
    let _guard = ENV.lock().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("TORCH_HOME", home.path());
    let bytes = std::fs::read(squeezenet_pth()).unwrap();
    let server = tempfile::tempdir().unwrap();
    let good = {
        use sha2::Digest;
        let h = sha2::Sha256::digest(&bytes);
        format!("{:02x}{:02x}{:02x}{:02x}", h[0], h[1], h[2], h[3])
    };
    let name = format!("squeezenet-{good}.pth");
    std::fs::write(server.path().join(&name), &bytes).unwrap();
    std::fs::write(server.path().join("squeezenet-00000000.pth"), &bytes).unwrap();
    let (url, hits) = wick_data::testing::serve(server.path().to_path_buf(), 8).unwrap();
    let model_at = |file: &str| {
        exp(&format!(
            "type = \"squeezenet1_1\"\nweights = \"{url}/{file}\""
        ))
    };

    // downloaded, checked, renamed into torch's cache
    let e = model_at(&name);
    let model = build_model(&e, &Device::Cpu).unwrap();
    load_weights(&e, &model).unwrap();
    let cached = home.path().join("hub/checkpoints").join(&name);
    assert_eq!(std::fs::read(&cached).unwrap(), bytes);
    let served = hits.load(std::sync::atomic::Ordering::SeqCst);
    // found in the cache the second time: no request
    load_weights(&e, &model).unwrap();
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), served);

    // a file whose bytes do not match the hash in its name is refused, and not kept
    let err = load_weights(&model_at("squeezenet-00000000.pth"), &model)
        .unwrap_err()
        .to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(!home
        .path()
        .join("hub/checkpoints/squeezenet-00000000.pth")
        .exists());

    // offline: the message names the cache folder and the file to put there
    let e = exp("type = \"squeezenet1_1\"\nweights = \"http://127.0.0.1:9/x-abcdef12.pth\"");
    let err = load_weights(&e, &model).unwrap_err().to_string();
    assert!(
        err.contains(
            &home
                .path()
                .join("hub/checkpoints/x-abcdef12.pth")
                .display()
                .to_string()
        ),
        "{err}"
    );
    std::env::remove_var("TORCH_HOME");
}

#[test]
fn a_torchvision_name_is_written_as_its_url() {
    let e = exp("type = \"resnet18\"\nweights = \"DEFAULT\"");
    assert_eq!(
        e.model.transfer.weights.as_deref(),
        Some("https://download.pytorch.org/models/resnet18-f37072fd.pth")
    );
    assert!(
        e.model.transfer.ignore.is_empty(),
        "1000 classes: the head loads"
    );
}

/// `wick export --python` writes a zoo model as torchvision's constructor with its
/// replacements, the freezing as requires_grad_, an optimizer over what trains, and the
/// weights loaded before training as wick loads them.
#[test]
fn export_writes_torchvisions_constructor_freezing_and_loading() {
    let e = exp(&format!(
        "type = \"squeezenet1_1\"\nnum_classes = 2\nweights = {:?}\nfreeze = [\"features.*\"]\n\
         frozen_batchnorm = true\n\
         replace = {{ \"features.0\" = {{ type = \"Conv2d\", in_channels = 3, out_channels = 64, kernel_size = 3, stride = 2 }} }}",
        fixtures().join("zoo/squeezenet1_1.pth").display().to_string()
    ));
    let s = wick_runner::export::python_script(&e, None);
    for want in [
        "model = torchvision.models.squeezenet1_1(num_classes=2)\n",
        "setattr(model.get_submodule(\"features\"), \"0\", nn.Conv2d(",
        "FREEZE, TRAINABLE = [\"features.*\"], []\n",
        "optimizer = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01",
        "squeezenet1_1.pth\"\n",
        "    ignore = [\"classifier.1.*\", \"features.0.*\"]\n",
        "    if args.train:\n        load_pretrained()\n",
        "def train(epoch):\n    train_mode()\n",
        "transforms.Resize(size=256, interpolation=transforms.InterpolationMode.BILINEAR",
    ] {
        assert!(s.contains(want), "no {want:?} in\n{s}");
    }
    assert!(!s.contains("class Model"), "{s}");
}

/// A Linear(3, 2) state dict (weights `value`, keys `{prefix}2.weight`) at `file`.
fn save_linear(file: &Path, prefix: &str, value: f32) {
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let sd = std::collections::HashMap::from([
        (
            format!("{prefix}2.weight"),
            Tensor::full(value, (2, 3), &Device::Cpu).unwrap(),
        ),
        (
            format!("{prefix}2.bias"),
            Tensor::zeros(2, candle_core::DType::F32, &Device::Cpu).unwrap(),
        ),
    ]);
    candle_core::safetensors::save(&sd, file).unwrap();
}

/// The largest weight of a pool → flatten → Linear(3, 2) model after loading with the
/// transfer keys `keys`.
fn loaded_linear_max(keys: &str) -> f32 {
    let e = exp(&format!(
        "input = [3, 224, 224]\nlayers = [{{ type = \"AdaptiveAvgPool2d\", output_size = 1 }}, \
         {{ op = \"flatten\" }}, {{ type = \"Linear\", out_features = 2 }}]\n{keys}"
    ));
    let model = build_model(&e, &Device::Cpu).unwrap();
    load_weights(&e, &model).unwrap();
    let w = &model.state_dict()[0].1;
    w.max_all().unwrap().to_scalar::<f32>().unwrap()
}

/// `weights` on an experiment's folder of runs loads its newest run's `best` (else
/// `last`) checkpoint; `rename` maps the file's keys first (a `DataParallel` file).
#[test]
fn a_folder_of_runs_gives_its_newest_run_and_rename_maps_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = |run: &str, which: &str| {
        tmp.path()
            .join(run)
            .join("checkpoints")
            .join(which)
            .join("model.safetensors")
    };
    save_linear(&ckpt("20260101-000000", "last"), "", 1.0);
    save_linear(&ckpt("20260102-000000", "best"), "", 2.0);
    let runs = tmp.path().display().to_string();
    let w = loaded_linear_max(&format!("weights = {runs:?}"));
    assert_eq!(w, 2.0, "the newest run's checkpoint");

    let file = tmp.path().join("dp.safetensors");
    save_linear(&file, "module.", 3.0);
    let file = file.display().to_string();
    let w = loaded_linear_max(&format!(
        "weights = {file:?}\nrename = {{ \"module.\" = \"\" }}"
    ));
    assert_eq!(w, 3.0);
}
