//! CrossEntropyLoss against PyTorch (`scripts/make_fixtures.py`): value and input
//! gradient for every reduction, class weights, ignore_index and label smoothing.

use candle_core::Var;
use wick_losses::{CrossEntropyLoss, CrossEntropyLossConfig, Loss, Reduction};
use wick_tensor::testing::{assert_close, load_fixture};

#[test]
fn cross_entropy_matches_pytorch() {
    let f = load_fixture("parity.safetensors");
    let weight: Vec<f64> = f["ce.weight"]
        .to_dtype(candle_core::DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap();
    let target = &f["ce.target"];
    let w = || Some(weight.clone());
    let cases: Vec<(&str, CrossEntropyLossConfig)> = vec![
        ("mean", Default::default()),
        (
            "sum",
            CrossEntropyLossConfig {
                reduction: Reduction::Sum,
                ..Default::default()
            },
        ),
        (
            "none",
            CrossEntropyLossConfig {
                reduction: Reduction::None,
                ..Default::default()
            },
        ),
        (
            "weight",
            CrossEntropyLossConfig {
                weight: w(),
                ..Default::default()
            },
        ),
        (
            "weight_sum",
            CrossEntropyLossConfig {
                weight: w(),
                reduction: Reduction::Sum,
                ..Default::default()
            },
        ),
        (
            "ignore",
            CrossEntropyLossConfig {
                ignore_index: 1,
                ..Default::default()
            },
        ),
        (
            "weight_ignore",
            CrossEntropyLossConfig {
                weight: w(),
                ignore_index: 1,
                ..Default::default()
            },
        ),
        (
            "smooth",
            CrossEntropyLossConfig {
                label_smoothing: 0.1,
                ..Default::default()
            },
        ),
        (
            "weight_smooth",
            CrossEntropyLossConfig {
                weight: w(),
                label_smoothing: 0.2,
                ..Default::default()
            },
        ),
        (
            "weight_ignore_smooth",
            CrossEntropyLossConfig {
                weight: w(),
                ignore_index: 1,
                label_smoothing: 0.15,
                ..Default::default()
            },
        ),
        (
            "smooth_none",
            CrossEntropyLossConfig {
                label_smoothing: 0.1,
                reduction: Reduction::None,
                ..Default::default()
            },
        ),
        (
            "smooth_sum",
            CrossEntropyLossConfig {
                label_smoothing: 0.1,
                reduction: Reduction::Sum,
                ..Default::default()
            },
        ),
    ];
    for (case, cfg) in cases {
        let x = Var::from_tensor(&f["ce.logits"]).unwrap();
        let loss = CrossEntropyLoss::new(cfg)
            .unwrap()
            .forward(x.as_tensor(), target)
            .unwrap();
        assert_close(
            &format!("{case} loss"),
            &loss,
            &f[&format!("ce.{case}.loss")],
            1e-5,
        );
        let g = loss.sum_all().unwrap().backward().unwrap();
        assert_close(
            &format!("{case} grad"),
            g.get(x.as_tensor()).unwrap(),
            &f[&format!("ce.{case}.grad")],
            1e-5,
        );
    }
}
