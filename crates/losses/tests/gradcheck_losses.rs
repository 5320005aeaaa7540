//! Finite-difference checks (f64) of the gradients of every loss whose formula is
//! smooth at the chosen points, with respect to every input: the candle ops and the
//! explicit gradients (`with_grad`) wick composes, independently of the PyTorch fixtures.

use candle_core::{Device, Tensor};
use wick_losses::LossConfig;
use wick_tensor::gradcheck::gradcheck;

fn data(n: usize, seed: usize, scale: f64, shift: f64) -> Vec<f64> {
    (0..n)
        .map(|i| (((i * 37 + seed * 101) % 23) as f64 / 23.0 - 0.5) * scale + shift)
        .collect()
}

fn t(v: Vec<f64>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn check(json: &str, inputs: &[Tensor], target: Option<&Tensor>) {
    let cfg: LossConfig = serde_json::from_str(json).unwrap();
    let loss = cfg.build().unwrap();
    gradcheck(
        |v| {
            let refs: Vec<&Tensor> = v.iter().collect();
            loss.forward_inputs(&refs, target)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))
        },
        inputs,
    )
    .unwrap_or_else(|e| panic!("{json}: {e}"));
}

#[test]
fn smooth_losses_pass_gradcheck() {
    let s = [4, 3];
    let x = t(data(12, 1, 4.0, 0.1), &s);
    let y = t(data(12, 2, 4.0, -0.2), &s);
    let p = t(data(12, 3, 0.8, 0.5), &s); // probabilities in (0.1, 0.9)
    let soft = t(data(12, 4, 1.0, 0.5), &s);
    let sign = t(
        (0..12)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect(),
        &s,
    );
    for red in ["mean", "sum", "none"] {
        let f =
            |ty: &str, extra: &str| format!(r#"{{"type": "{ty}", "reduction": "{red}"{extra}}}"#);
        check(&f("MSELoss", ""), std::slice::from_ref(&x), Some(&y));
        check(
            &f("BCELoss", r#", "weight": [0.5, 1, 2]"#),
            std::slice::from_ref(&p),
            Some(&soft),
        );
        check(
            &f(
                "BCEWithLogitsLoss",
                r#", "weight": [0.5, 1, 2], "pos_weight": [2, 0.3, 1]"#,
            ),
            std::slice::from_ref(&x),
            Some(&soft),
        );
        check(
            &f("SoftMarginLoss", ""),
            std::slice::from_ref(&x),
            Some(&sign),
        );
        check(
            &f("MultiLabelSoftMarginLoss", r#", "weight": [1, 2, 3]"#),
            std::slice::from_ref(&x),
            Some(&soft),
        );
        check(
            &f("PoissonNLLLoss", r#", "full": true"#),
            std::slice::from_ref(&x),
            Some(&(&soft * 4.0).unwrap()),
        );
        check(
            &f("PoissonNLLLoss", r#", "log_input": false"#),
            std::slice::from_ref(&p),
            Some(&soft),
        );
        check(&f("KLDivLoss", ""), std::slice::from_ref(&x), Some(&soft));
        check(
            &f("KLDivLoss", r#", "log_target": true"#),
            std::slice::from_ref(&x),
            Some(&y),
        );
        check(
            &f("GaussianNLLLoss", r#", "full": true"#),
            &[x.clone(), p.clone()],
            Some(&y),
        );
        check(
            &f("CosineEmbeddingLoss", r#", "margin": -0.5"#),
            &[x.clone(), y.clone()],
            Some(&t(vec![1.0, -1.0, -1.0, 1.0], &[4])),
        );
        for opts in [
            r#", "margin": 3"#,
            r#", "margin": 3, "p": 3, "swap": true"#,
            r#", "margin": 3, "p": 1.5"#,
        ] {
            check(
                &f("TripletMarginLoss", opts),
                &[x.clone(), y.clone(), soft.clone()],
                None,
            );
        }
        check(
            &f("NLLLoss", r#", "weight": [1, 2, 3]"#),
            std::slice::from_ref(&x),
            Some(&Tensor::new(&[0u32, 2, 1, 2], &Device::Cpu).unwrap()),
        );
    }
}
