//! The errors a user can run into: shapes, value ranges, class indices, arguments, and
//! calling a multi-input loss the single-input way. Each message names what is wrong.

use candle_core::{DType, Device, Tensor};
use wick_losses::*;

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
}

fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap()
}

fn config(json: &str) -> Result<Box<dyn Loss>, String> {
    let cfg: LossConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
    cfg.build().map_err(|e| e.to_string())
}

fn config_err(json: &str) -> String {
    match config(json) {
        Ok(_) => panic!("{json} was accepted"),
        Err(e) => e,
    }
}

#[test]
fn shape_mismatch_names_both_shapes() {
    let e = MSELoss::new(Default::default())
        .unwrap()
        .forward(&zeros(&[4, 1]), &zeros(&[4]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("MSELoss") && e.contains("[4, 1]") && e.contains("[4]"),
        "{e}"
    );
    for json in [
        r#"{"type": "L1Loss"}"#,
        r#"{"type": "HuberLoss"}"#,
        r#"{"type": "BCEWithLogitsLoss"}"#,
        r#"{"type": "KLDivLoss"}"#,
        r#"{"type": "PoissonNLLLoss"}"#,
        r#"{"type": "SoftMarginLoss"}"#,
    ] {
        let e = config(json)
            .unwrap()
            .forward(&zeros(&[2, 3]), &zeros(&[3, 2]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2, 3]") && e.contains("[3, 2]"), "{json}: {e}");
    }
}

#[test]
fn bce_says_its_input_must_be_probabilities() {
    let bce = BCELoss::new(Default::default()).unwrap();
    let e = bce
        .forward(&t(&[0.5, 1.5, -0.2], &[3]), &t(&[0.0, 1.0, 1.0], &[3]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("all elements of input should be between 0 and 1"),
        "{e}"
    );
    assert!(e.contains("BCEWithLogitsLoss"), "{e}");
    let e = bce
        .forward(&t(&[f32::NAN], &[1]), &t(&[1.0], &[1]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("input should be between 0 and 1"), "{e}");
    let e = bce
        .forward(&t(&[0.5, 0.5], &[2]), &t(&[2.0, 1.0], &[2]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("all elements of target should be between 0 and 1"),
        "{e}"
    );
    // the bounds themselves are fine
    bce.forward(&t(&[0.0, 1.0], &[2]), &t(&[0.0, 1.0], &[2]))
        .unwrap();
}

#[test]
fn class_index_out_of_range_names_the_index() {
    let x = zeros(&[3, 4]);
    for loss in [
        config(r#"{"type": "NLLLoss"}"#),
        config(r#"{"type": "CrossEntropyLoss"}"#),
    ] {
        let loss = loss.unwrap();
        let e = loss
            .forward(&x, &Tensor::new(&[0i64, 7, 1], &Device::Cpu).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("target 7 is out of bounds for 4 classes"), "{e}");
        let e = loss
            .forward(&x, &Tensor::new(&[0i64, -3, 1], &Device::Cpu).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("target -3 is out of bounds"), "{e}");
        let e = loss
            .forward(&x, &Tensor::new(&[0u32, 1], &Device::Cpu).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("[3]") && e.contains("[2]"), "{e}");
    }
    let e = NLLLoss::new(Default::default())
        .unwrap()
        .forward(&x, &zeros(&[3]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected class indices"), "{e}");
    let e = config(r#"{"type": "NLLLoss", "weight": [1, 2]}"#)
        .unwrap()
        .forward(&x, &Tensor::new(&[0u32, 1, 2], &Device::Cpu).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("weight has 2 entries but the input has 4 classes"),
        "{e}"
    );
}

#[test]
fn invalid_arguments_are_named() {
    for (json, field_msg) in [
        (
            r#"{"type": "SmoothL1Loss", "beta": -1}"#,
            "negative values for beta",
        ),
        (
            r#"{"type": "HuberLoss", "delta": 0}"#,
            "non-positive values for delta",
        ),
        (
            r#"{"type": "TripletMarginLoss", "margin": 0}"#,
            "expected margin to be greater than 0",
        ),
        (r#"{"type": "TripletMarginLoss", "p": -1}"#, "Invalid p: -1"),
        (
            r#"{"type": "CrossEntropyLoss", "label_smoothing": 1.5}"#,
            "label_smoothing must be between 0.0 and 1.0",
        ),
        (
            r#"{"type": "MSELoss", "reduction": "batchmean"}"#,
            "batchmean is not a valid value for reduction",
        ),
        (r#"{"type": "GaussianNLLLoss", "eps": 0}"#, "Invalid eps: 0"),
        (
            r#"{"type": "BCELoss", "weight": []}"#,
            "weight must not be empty",
        ),
        (
            r#"{"type": "MSELoss", "reduction": "avg"}"#,
            "unknown variant `avg`",
        ),
        (r#"{"type": "L1Loss", "beta": 1}"#, "unknown field `beta`"),
    ] {
        let e = config_err(json);
        assert!(e.contains(field_msg), "{json}: {e}");
    }
    let e = HuberLoss::new(HuberLossConfig {
        delta: -2.0,
        ..Default::default()
    })
    .err()
    .unwrap();
    assert!(matches!(e, Error::Config { field: "delta", .. }), "{e}");
    // batchmean is KLDivLoss's
    config(r#"{"type": "KLDivLoss", "reduction": "batchmean"}"#).unwrap();
}

#[test]
fn weights_that_do_not_broadcast() {
    let e = config(r#"{"type": "BCEWithLogitsLoss", "pos_weight": [1, 2]}"#)
        .unwrap()
        .forward(&zeros(&[4, 3]), &zeros(&[4, 3]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pos_weight has 2 entries") && e.contains("[4, 3]"),
        "{e}"
    );
    let e = config(r#"{"type": "MultiLabelSoftMarginLoss", "weight": [1, 2]}"#)
        .unwrap()
        .forward(&zeros(&[4, 3]), &zeros(&[4, 3]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("weight has 2 entries"), "{e}");
}

#[test]
fn multi_input_losses_say_how_to_call_them() {
    let cos = CosineEmbeddingLoss::new(Default::default()).unwrap();
    let e = cos
        .forward(&zeros(&[2, 3]), &zeros(&[2]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "CosineEmbeddingLoss takes 2 inputs (input1, input2) and a target, but was given 1 \
         input: call forward_inputs(&[&input1, &input2], Some(&target)) or \
         CosineEmbeddingLoss::forward_pair"
    );
    let trip = TripletMarginLoss::new(Default::default()).unwrap();
    let e = trip
        .forward(&zeros(&[2, 3]), &zeros(&[2]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("takes 3 inputs (anchor, positive, negative) and no target")
            && e.contains("forward_inputs(&[&anchor, &positive, &negative], None)"),
        "{e}"
    );
    let x = zeros(&[2, 3]);
    let e = trip
        .forward_inputs(&[&x, &x, &x], Some(&zeros(&[2])))
        .unwrap_err();
    assert!(matches!(e, Error::Arity { got: 3, .. }), "{e}");
    let e = MSELoss::new(Default::default())
        .unwrap()
        .forward_inputs(&[&x, &x], Some(&x))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("MSELoss takes 1 input (input) and a target, but was given 2 inputs"),
        "{e}"
    );
    let g = GaussianNLLLoss::new(Default::default()).unwrap();
    assert!(g.forward(&x, &x).is_err());
    assert!(g
        .forward_inputs(&[&x, &x.ones_like().unwrap()], Some(&x))
        .is_ok());
}

#[test]
fn arity_and_target_kind_of_every_loss() {
    for ty in &builtin_types() {
        let loss = config(&format!(r#"{{"type": "{ty}"}}"#)).unwrap();
        assert_eq!(loss.type_name(), *ty);
        assert_eq!(loss.reduction(), Reduction::Mean);
        let (arity, kind) = match *ty {
            "CrossEntropyLoss" | "NLLLoss" => (1, TargetKind::ClassIndex),
            "CosineEmbeddingLoss" | "MarginRankingLoss" => (2, TargetKind::PairSign),
            "GaussianNLLLoss" => (2, TargetKind::Float),
            "TripletMarginLoss" => (3, TargetKind::NoTarget),
            _ => (1, TargetKind::Float),
        };
        assert_eq!(loss.input_arity(), arity, "{ty}");
        assert_eq!(loss.input_names().len(), arity, "{ty}");
        assert_eq!(loss.target_kind(), kind, "{ty}");
    }
}

#[test]
fn pairwise_and_gaussian_shape_errors() {
    let cos = CosineEmbeddingLoss::new(Default::default()).unwrap();
    let e = cos
        .forward_pair(&zeros(&[2, 3]), &zeros(&[2, 4]), &zeros(&[2]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("input1 shape [2, 3] and input2 shape [2, 4]"),
        "{e}"
    );
    let e = cos
        .forward_pair(&zeros(&[2, 3]), &zeros(&[2, 3]), &zeros(&[3]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("target shape [3]") && e.contains("expected [2]"),
        "{e}"
    );
    let g = GaussianNLLLoss::new(Default::default()).unwrap();
    let x = zeros(&[4, 3]);
    let e = g
        .forward_var(&x, &x, &zeros(&[4, 2]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("var is of incorrect size") && e.contains("[4, 2]"),
        "{e}"
    );
    let e = g
        .forward_var(&x, &x, &t(&[1.0, -1.0, 1.0, 1.0], &[4]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("var has negative entry/entries"), "{e}");
    // homoscedastic forms are accepted
    g.forward_var(&x, &x, &x.ones_like().unwrap().narrow(1, 0, 1).unwrap())
        .unwrap();
    g.forward_var(&x, &x, &Tensor::ones(4, DType::F32, &Device::Cpu).unwrap())
        .unwrap();
}

#[test]
fn integer_targets_of_float_losses_are_converted() {
    let y = Tensor::new(&[1u32, 0, 2], &Device::Cpu).unwrap();
    let x = t(&[1.0, 1.0, 1.0], &[3]);
    let l = MSELoss::new(MSELossConfig {
        reduction: Reduction::Sum,
    })
    .unwrap()
    .forward(&x, &y)
    .unwrap();
    assert_eq!(l.to_scalar::<f32>().unwrap(), 2.0);
}

#[test]
fn reduction_none_keeps_the_shape() {
    let x = zeros(&[2, 3, 4]);
    for ty in [
        "MSELoss",
        "L1Loss",
        "SmoothL1Loss",
        "HuberLoss",
        "SoftMarginLoss",
        "KLDivLoss",
    ] {
        let l = config(&format!(r#"{{"type": "{ty}", "reduction": "none"}}"#))
            .unwrap()
            .forward(&x, &x)
            .unwrap();
        assert_eq!(l.dims(), &[2, 3, 4], "{ty}");
    }
    let l = config(r#"{"type": "MultiLabelSoftMarginLoss", "reduction": "none"}"#)
        .unwrap()
        .forward(&x, &x)
        .unwrap();
    assert_eq!(l.dims(), &[2, 3]);
}

/// Every built-in loss class name.
fn builtin_types() -> Vec<&'static str> {
    use wick_tensor::catalog::Kind;
    <dyn wick_losses::LossSpec>::builtins().names().collect()
}
