//! Every LR scheduler against PyTorch (`scripts/fixtures_optim.py`): each group's lr
//! (and momentum / beta1) after construction and after each of 100 steps, on a
//! two-group optimizer; ReduceLROnPlateau on a fixed metric sequence. And the
//! save/resume round trip: 50 steps, save, load into fresh objects, 50 more = 100.

mod common;

use candle_core::{DType, Device, IndexOp, Tensor, Var};
use common::{fixture_path, load_fixture};
use std::collections::HashMap;
use wick_optim::{Optimizer, OptimizerConfig, Scheduler, SchedulerConfig};
use wick_tensor::Param;

const STEPS: usize = 100;

struct Case {
    name: String,
    optimizer: String,
    config: SchedulerConfig,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture_path("optim.json")).expect("optim.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["schedulers"]
        .as_array()
        .expect("schedulers")
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            optimizer: c["optimizer"].as_str().unwrap().to_string(),
            config: serde_json::from_value(c["config"].clone())
                .unwrap_or_else(|e| panic!("{}: {e}", c["name"])),
        })
        .collect()
}

/// The fixture's optimizer: group 0 lr 0.1, group 1 lr 0.05 (SGD with momentum 0.9,
/// or Adam).
fn optimizer(kind: &str) -> Box<dyn Optimizer> {
    let cfg = match kind {
        "SGD" => serde_json::json!({"type": "SGD", "lr": 0.1, "momentum": 0.9,
                                     "param_groups": [{"params": ["b"], "lr": 0.05}]}),
        _ => serde_json::json!({"type": "Adam", "lr": 0.1,
                                 "param_groups": [{"params": ["b"], "lr": 0.05}]}),
    };
    let cfg: OptimizerConfig = serde_json::from_value(cfg).unwrap();
    let params = ["a", "b"]
        .iter()
        .map(|n| Param::new(*n, Var::zeros(2, DType::F32, &Device::Cpu).unwrap()))
        .collect();
    cfg.build(params).unwrap()
}

fn metric(f: &HashMap<String, Tensor>, i: usize) -> f64 {
    f["sched.metric"].i(i).unwrap().to_scalar::<f64>().unwrap()
}

fn row(t: &Tensor, i: usize) -> Vec<f64> {
    t.i(i).unwrap().to_vec1().unwrap()
}

fn momenta(opt: &dyn Optimizer) -> Vec<f64> {
    (0..opt.num_groups())
        .map(|g| opt.momentum(g).unwrap())
        .collect()
}

fn close(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| (g - w).abs() <= 1e-5 * w.abs() + 1e-12)
}

/// Steps `sched` from step `from` to `to`, returning the lrs after each step.
fn run(
    f: &HashMap<String, Tensor>,
    opt: &mut dyn Optimizer,
    sched: &mut dyn Scheduler,
    from: usize,
    to: usize,
) -> Vec<Vec<f64>> {
    (from..to)
        .map(|i| {
            sched.step(opt, Some(metric(f, i))).unwrap();
            opt.lrs()
        })
        .collect()
}

#[test]
fn schedulers_match_pytorch() {
    let f = load_fixture("optim.safetensors");
    let all = cases();
    assert!(all.len() >= 20);
    for c in all {
        let lr = &f[&format!("sched.{}.lr", c.name)];
        let mom = &f[&format!("sched.{}.momentum", c.name)];
        let mut opt = optimizer(&c.optimizer);
        let mut sched = c.config.build(opt.as_mut()).unwrap();
        assert_eq!(sched.type_name(), c.config.type_name());
        for i in 0..=STEPS {
            if i > 0 {
                sched.step(opt.as_mut(), Some(metric(&f, i - 1))).unwrap();
            }
            let (want, got) = (row(lr, i), opt.lrs());
            assert!(
                close(&got, &want),
                "{}: lr after {i} steps: {got:?} != {want:?}",
                c.name
            );
            assert!(
                close(sched.last_lr(), &want),
                "{}: last_lr after {i} steps",
                c.name
            );
            let (want, got) = (row(mom, i), momenta(opt.as_ref()));
            assert!(
                close(&got, &want),
                "{}: momentum after {i} steps: {got:?} != {want:?}",
                c.name
            );
        }
    }
}

#[test]
fn scheduler_state_round_trip_equals_uninterrupted_run() {
    let f = load_fixture("optim.safetensors");
    for c in cases() {
        let mut opt = optimizer(&c.optimizer);
        let mut sched = c.config.build(opt.as_mut()).unwrap();
        let want = run(&f, opt.as_mut(), sched.as_mut(), 0, STEPS);

        let mut opt = optimizer(&c.optimizer);
        let mut sched = c.config.build(opt.as_mut()).unwrap();
        let mut got = run(&f, opt.as_mut(), sched.as_mut(), 0, 50);
        let (opt_state, sched_state) = (opt.state_dict().unwrap(), sched.state_dict());
        let mut opt = optimizer(&c.optimizer);
        let mut sched = c.config.build(opt.as_mut()).unwrap();
        opt.load_state_dict(&opt_state).unwrap();
        sched.load_state_dict(&sched_state).unwrap();
        got.extend(run(&f, opt.as_mut(), sched.as_mut(), 50, STEPS));
        assert_eq!(got, want, "{}: resumed schedule differs", c.name);
    }
}

#[test]
fn intervals_and_monitor() {
    let by_name: HashMap<String, SchedulerConfig> =
        cases().into_iter().map(|c| (c.name, c.config)).collect();
    use wick_optim::Interval::{Epoch, Step};
    assert_eq!(by_name["step"].interval(), Epoch);
    assert_eq!(by_name["onecycle"].interval(), Step);
    assert_eq!(by_name["cyclic"].interval(), Step);
    assert_eq!(by_name["plateau"].monitor(), Some("test_loss"));
    assert_eq!(by_name["plateau_max_abs"].monitor(), Some("test_acc"));
    let cfg: SchedulerConfig = serde_json::from_value(
        serde_json::json!({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "interval": "epoch"}),
    )
    .unwrap();
    assert_eq!(cfg.interval(), Epoch);
    let mut opt = optimizer("SGD");
    assert_eq!(cfg.build(opt.as_mut()).unwrap().interval(), Epoch);
}

#[test]
fn invalid_schedulers_are_rejected_like_torch() {
    let bad = |v: serde_json::Value| -> String {
        let cfg: SchedulerConfig = serde_json::from_value(v).unwrap();
        let mut opt = optimizer("SGD");
        match cfg.build(opt.as_mut()) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    };
    assert!(
        bad(serde_json::json!({"type": "ReduceLROnPlateau", "factor": 1.0}))
            .contains("Factor should be < 1.0.")
    );
    assert!(
        bad(serde_json::json!({"type": "OneCycleLR", "max_lr": 0.1}))
            .contains("You must define either total_steps OR (epochs AND steps_per_epoch)")
    );
    assert!(bad(
        serde_json::json!({"type": "OneCycleLR", "max_lr": [0.1, 0.2, 0.3], "total_steps": 5})
    )
    .contains("expected 2 values for max_lr, got 3"));
    assert!(
        bad(serde_json::json!({"type": "SequentialLR", "milestones": [],
        "schedulers": [{"type": "ReduceLROnPlateau"}]}))
        .contains("does not support `ReduceLROnPlateau`")
    );
    assert!(bad(
        serde_json::json!({"type": "SequentialLR", "milestones": [1, 2],
        "schedulers": [{"type": "ExponentialLR", "gamma": 0.5}]})
    )
    .contains("number of milestones to be equal to 2"));
    assert!(
        bad(serde_json::json!({"type": "LinearLR", "start_factor": 0.0}))
            .contains("Starting multiplicative factor expected to be greater than 0")
    );
    assert!(
        bad(serde_json::json!({"type": "CosineAnnealingWarmRestarts", "T_0": 0}))
            .contains("Expected positive integer T_0, but got 0")
    );
    // Adagrad has neither momentum nor betas
    let cfg: OptimizerConfig =
        serde_json::from_value(serde_json::json!({"type": "Adagrad"})).unwrap();
    let mut opt = cfg
        .build(vec![Param::new(
            "a",
            Var::zeros(2, DType::F32, &Device::Cpu).unwrap(),
        )])
        .unwrap();
    let one: SchedulerConfig = serde_json::from_value(
        serde_json::json!({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10}),
    )
    .unwrap();
    let e = one.build(opt.as_mut()).err().unwrap().to_string();
    assert!(
        e.contains("optimizer must support momentum or beta1"),
        "{e}"
    );
    // stepping OneCycleLR past total_steps fails as in PyTorch
    let mut opt = optimizer("SGD");
    let mut s = one.build(opt.as_mut()).unwrap();
    for _ in 0..10 {
        s.step(opt.as_mut(), None).unwrap();
    }
    let e = s.step(opt.as_mut(), None).unwrap_err().to_string();
    assert!(e.contains("Tried to step 11 times"), "{e}");
    // ReduceLROnPlateau needs its metric
    let p: SchedulerConfig =
        serde_json::from_value(serde_json::json!({"type": "ReduceLROnPlateau"})).unwrap();
    let mut s = p.build(opt.as_mut()).unwrap();
    assert!(s
        .step(opt.as_mut(), None)
        .unwrap_err()
        .to_string()
        .contains("`test_loss`"));
}
