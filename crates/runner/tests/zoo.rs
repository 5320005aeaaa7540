//! The zoo against torchvision (`scripts/fixtures_zoo.py`, `assets/fixtures/zoo.json`):
//! `[model] type = "<arch>"` with `num_classes` builds a model whose `state_dict` has
//! torchvision's keys, in torchvision's order, with torchvision's shapes, and whose
//! parameter count is torchvision's (resnet18: 11,689,512).

mod common;

use candle_core::Device;
use wick_runner::{build_model, Experiment};

fn experiment(arch: &str, classes: usize) -> String {
    common::image_experiment(&format!("type = \"{arch}\"\nnum_classes = {classes}"))
}

/// One case of zoo.json (`resnet18/2`): keys, order, shapes and parameter count.
fn check_case(case: &str, w: &serde_json::Value) {
    let (arch, classes) = case.split_once('/').unwrap();
    let exp = Experiment::from_toml(&experiment(arch, classes.parse().unwrap()))
        .unwrap_or_else(|d| panic!("{case}: {d}"));
    let model = build_model(&exp, &Device::Cpu).unwrap();
    let got: Vec<(String, Vec<usize>)> = model
        .state_dict()
        .into_iter()
        .map(|(k, t)| (k, t.dims().to_vec()))
        .collect();
    let expected: Vec<(String, Vec<usize>)> =
        serde_json::from_value(w["state_dict"].clone()).unwrap();
    assert_eq!(got, expected, "{case}");
    let params: usize = model.parameters().iter().map(|p| p.numel()).sum();
    assert_eq!(params as u64, w["params"].as_u64().unwrap(), "{case}");
}

#[test]
fn architectures_have_torchvisions_state_dict() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/fixtures/zoo.json");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let want = want.as_object().unwrap();
    assert_eq!(want.len(), 34);
    // every architecture with 2 classes; with torchvision's 1000 too where that is not
    // another 100M random numbers to draw (VGG, AlexNet: the head is the only change)
    let cases: Vec<(&String, &serde_json::Value)> = want
        .iter()
        .filter(|(case, w)| case.ends_with("/2") || w["params"].as_u64().unwrap() < 50_000_000)
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((case, w)) = cases.get(i) else { break };
                check_case(case, w);
            });
        }
    });
}

#[test]
fn an_unknown_architecture_or_argument_is_located() {
    let e = Experiment::from_toml(&experiment("resnet19", 2)).unwrap_err();
    assert_eq!(e.path.to_string(), "model.type");
    assert_eq!(e.help.as_deref(), Some("did you mean `resnet18`?"));
    let text = experiment("resnet18", 2).replace("num_classes", "num_class");
    let e = Experiment::from_toml(&text).unwrap_err();
    assert_eq!(e.path.to_string(), "model.num_class");
    assert_eq!(e.help.as_deref(), Some("did you mean `num_classes`?"));
    // the transfer keys are suggested too
    let text = experiment("resnet18", 2).replace("num_classes = 2", "freez = [\"*\"]");
    let e = Experiment::from_toml(&text).unwrap_err();
    assert_eq!(e.path.to_string(), "model.freez");
    assert_eq!(e.help.as_deref(), Some("did you mean `freeze`?"));
}
