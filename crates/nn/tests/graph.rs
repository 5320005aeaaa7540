//! Graphs against PyTorch (`scripts/fixtures_graph.py`): a model of two inputs using
//! every op and a two-input Bilinear, built from its wick config; its `state_dict` keys
//! are the PyTorch module's, and with PyTorch's parameters its output, input gradients
//! and parameter gradients of `(out * g).sum()` match. Plus the graph's own rules:
//! fusions across private links only, nodes left out, values freed after their last use.

use candle_core::{DType, Device, Tensor, Var};
use std::collections::HashMap;
use wick_nn::{BuildCtx, Layer, NodeConfig, Sequential, SequentialConfig};
use wick_tensor::testing::assert_close;
use wick_tensor::SeedRng;

const TOL: f64 = 1e-5;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/fixtures")
        .join(name)
}

fn build(
    inputs: &[(String, Vec<usize>)],
    nodes: &mut [NodeConfig],
    outputs: &[String],
) -> wick_nn::Result<Sequential> {
    let mut rng = SeedRng::new(0);
    let mut ctx = BuildCtx {
        device: &Device::Cpu,
        dtype: DType::F32,
        rng: &mut rng,
    };
    Sequential::graph(inputs, nodes, outputs, &mut ctx)
}

fn nodes(json: serde_json::Value) -> Vec<NodeConfig> {
    serde_json::from_value(json).expect("nodes decode")
}

#[test]
fn a_graph_of_every_op_and_two_inputs_matches_pytorch() {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("graph.json")).unwrap()).unwrap();
    let f = candle_core::safetensors::load(fixture("graph.safetensors"), &Device::Cpu).unwrap();
    let case = &meta["ops"];
    let cfg: SequentialConfig = serde_json::from_value(case["config"].clone()).unwrap();
    let inputs: Vec<(String, Vec<usize>)> = cfg
        .inputs
        .iter()
        .map(|n| {
            let shape = serde_json::from_value(case["inputs"][n].clone()).unwrap();
            (n.clone(), shape)
        })
        .collect();
    let mut layers = cfg.layers.clone();
    let model = build(&inputs, &mut layers, &[]).unwrap();
    let keys: Vec<String> = model.state_dict().into_iter().map(|(k, _)| k).collect();
    let want: Vec<String> = serde_json::from_value(case["keys"].clone()).unwrap();
    assert_eq!(keys, want, "state_dict keys");
    let state: HashMap<String, Tensor> = want
        .iter()
        .map(|k| (k.clone(), f[&format!("ops.param.{k}")].clone()))
        .collect();
    model.load_state_dict(&state).unwrap();
    let xs: Vec<Var> = cfg
        .inputs
        .iter()
        .map(|n| Var::from_tensor(&f[&format!("ops.in.{n}")]).unwrap())
        .collect();
    let ts: Vec<Tensor> = xs.iter().map(|v| v.as_tensor().clone()).collect();
    let out = model.forward_all(&ts, true).unwrap().remove(0);
    assert_close("ops: output", &out, &f["ops.out"], TOL);
    let grads = (out * &f["ops.g"])
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    for (n, x) in cfg.inputs.iter().zip(&xs) {
        let g = grads.get(x.as_tensor()).expect("input gradient");
        assert_close(
            &format!("ops: grad {n}"),
            g,
            &f[&format!("ops.gin.{n}")],
            TOL,
        );
    }
    for p in model.parameters() {
        let g = grads.get(p.var.as_tensor()).expect("parameter gradient");
        assert_close(
            &format!("ops: grad {}", p.name),
            g,
            &f[&format!("ops.grad.{}", p.name)],
            TOL,
        );
    }
}

fn named(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_chain_of_named_layers_is_an_ordered_dict_sequential() {
    let mut n = nodes(serde_json::json!([
        { "name": "body", "type": "Linear", "out_features": 3 },
        { "type": "ReLU" },
        { "name": "fc", "type": "Linear", "out_features": 2 },
    ]));
    let m = build(&[("input".into(), vec![4])], &mut n, &[]).unwrap();
    assert!(m.is_chain());
    let keys: Vec<String> = m.state_dict().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        named(&["body.weight", "body.bias", "fc.weight", "fc.bias"])
    );
    assert_eq!(m.names(), named(&["body", "1", "fc"]).as_slice());
    assert!(
        m.describe().starts_with("Sequential(\n  (body): Linear"),
        "{}",
        m.describe()
    );
}

#[test]
fn wiring_mistakes_are_errors_at_the_node() {
    let input = [("input".to_string(), vec![4])];
    let err = |json: serde_json::Value| {
        let mut n = nodes(json);
        match build(&input, &mut n, &[]) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("built"),
        }
    };
    let e = err(serde_json::json!([
        { "name": "a", "type": "Linear", "out_features": 4, "from": "b" },
        { "name": "b", "type": "Linear", "out_features": 4, "from": "a" },
    ]));
    assert!(
        e.contains("cycle: b → a → b") || e.contains("cycle: a → b → a"),
        "{e}"
    );
    let e = err(serde_json::json!([{ "type": "ReLU", "from": "inptu" }]));
    assert!(e.contains("did you mean `input`?"), "{e}");
    let e = err(serde_json::json!([
        { "name": "x", "type": "ReLU" }, { "name": "x", "type": "ReLU" }
    ]));
    assert!(e.contains("layer 1") && e.contains("`x` is taken"), "{e}");
    let e = err(serde_json::json!([
        { "name": "a", "type": "Linear", "out_features": 3 },
        { "name": "b", "type": "Linear", "out_features": 4, "from": "input" },
        { "op": "add", "from": ["a", "b"] },
    ]));
    assert!(
        e.contains("cannot broadcast") && e.contains("[-1, 3], [-1, 4]"),
        "{e}"
    );
    let e = err(serde_json::json!([
        { "name": "a", "type": "Linear", "out_features": 3 },
        { "name": "b", "type": "Linear", "out_features": 4, "from": "input" },
    ]));
    assert!(e.contains("output of `a` is not used"), "{e}");
    let mut n = nodes(serde_json::json!([{ "type": "ReLU", "from": "x" }]));
    let two = [("x".to_string(), vec![4]), ("y".to_string(), vec![4])];
    let e = build(&two, &mut n, &[]).err().unwrap().to_string();
    assert!(e.contains("the input `y` is not used"), "{e}");
}

#[test]
fn a_node_left_out_stands_for_its_input() {
    let mut n = nodes(serde_json::json!([
        { "name": "main", "type": "Linear", "out_features": 4 },
        { "name": "down", "type": "Linear", "out_features": 4, "from": "input", "when": false },
        { "op": "add", "from": ["main", "down"] },
    ]));
    let m = build(&[("input".into(), vec![4])], &mut n, &[]).unwrap();
    let keys: Vec<String> = m.state_dict().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, named(&["main.weight", "main.bias"]));
    let x = Tensor::randn(0f32, 1., (3, 4), &Device::Cpu).unwrap();
    let p = m.parameters();
    let want = x
        .matmul(&p[0].var.as_tensor().t().unwrap())
        .unwrap()
        .broadcast_add(p[1].var.as_tensor())
        .unwrap()
        .add(&x)
        .unwrap();
    assert_close("main(x) + x", &m.forward(&x, false).unwrap(), &want, 1e-6);
}

/// Unnamed nodes are numbered among the nodes kept, as `nn.Sequential(*layers)` numbers
/// a list built with `if expand: layers.append(...)` (torchvision's MobileNetV2).
#[test]
fn unnamed_nodes_are_numbered_among_those_kept() {
    let mut n = nodes(serde_json::json!([
        { "type": "Linear", "out_features": 8, "when": false },
        { "type": "Linear", "out_features": 4 },
        { "type": "ReLU" },
        { "type": "Linear", "out_features": 2 },
    ]));
    let m = build(&[("input".into(), vec![4])], &mut n, &[]).unwrap();
    let keys: Vec<String> = m.state_dict().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, named(&["0.weight", "0.bias", "2.weight", "2.bias"]));
    // a named node takes its place in the count
    let mut n = nodes(serde_json::json!([
        { "name": "a", "type": "Linear", "out_features": 4 },
        { "type": "Linear", "out_features": 4, "when": false },
        { "type": "Linear", "out_features": 2 },
    ]));
    let m = build(&[("input".into(), vec![4])], &mut n, &[]).unwrap();
    let keys: Vec<String> = m.state_dict().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, named(&["a.weight", "a.bias", "1.weight", "1.bias"]));
}

#[test]
fn fusions_take_only_private_links() {
    // bn → relu is private (fused); conv's output feeds two nodes (not fused)
    let mut n = nodes(serde_json::json!([
        { "name": "conv", "type": "Conv2d", "out_channels": 2, "kernel_size": 3, "padding": 1 },
        { "name": "relu", "type": "ReLU" },
        { "name": "bn", "type": "BatchNorm2d", "from": "conv" },
        { "name": "relu2", "type": "ReLU" },
        { "op": "add", "from": ["relu", "relu2"] },
    ]));
    let m = build(&[("input".into(), vec![1, 5, 5])], &mut n, &[]).unwrap();
    assert!(!m.is_chain());
    assert_eq!(m.fused(), vec![2..4]);
    let x = Tensor::randn(0f32, 1., (2, 1, 5, 5), &Device::Cpu).unwrap();
    let fused = m.forward(&x, true).unwrap();
    let layers = m.layers();
    let conv = layers[0].forward(&x, true).unwrap();
    let a = conv.relu().unwrap();
    let b = layers[2].forward(&conv, true).unwrap().relu().unwrap();
    assert_close("fused graph", &fused, &(a + b).unwrap(), 1e-6);
}

#[test]
fn a_shared_module_has_one_set_of_parameters_and_sums_its_gradients() {
    let mut n = nodes(serde_json::json!([
        { "name": "embed", "type": "Linear", "out_features": 3, "from": "x1" },
        { "name": "e2", "share": "embed", "from": "x2" },
    ]));
    let inputs = [("x1".to_string(), vec![4]), ("x2".to_string(), vec![4])];
    let outputs = named(&["embed", "e2"]);
    let m = build(&inputs, &mut n, &outputs).unwrap();
    let keys: Vec<String> = m.state_dict().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, named(&["embed.weight", "embed.bias"]));
    let x1 = Tensor::randn(0f32, 1., (2, 4), &Device::Cpu).unwrap();
    let x2 = Tensor::randn(0f32, 1., (2, 4), &Device::Cpu).unwrap();
    let outs = m.forward_all(&[x1.clone(), x2.clone()], true).unwrap();
    let layer = &m.layers()[0];
    assert_close("e1", &outs[0], &layer.forward(&x1, true).unwrap(), 0.0);
    assert_close("e2", &outs[1], &layer.forward(&x2, true).unwrap(), 0.0);
    let grads = (outs[0].sum_all().unwrap() + outs[1].sum_all().unwrap())
        .unwrap()
        .backward()
        .unwrap();
    let w = &m.parameters()[0];
    // d/dW of sum(W x1 + b) + sum(W x2 + b) = 1ᵀ(x1 + x2) per row
    let want = (x1 + x2)
        .unwrap()
        .sum_keepdim(0)
        .unwrap()
        .broadcast_as((3, 4))
        .unwrap();
    assert_close(
        "shared grad",
        grads.get(w.var.as_tensor()).unwrap(),
        &want,
        1e-6,
    );
    let mut bad = nodes(serde_json::json!([
        { "name": "embed", "type": "Linear", "out_features": 3, "from": "x1" },
        { "name": "e2", "share": "embed", "from": "x2" },
    ]));
    let other = [("x1".to_string(), vec![4]), ("x2".to_string(), vec![5])];
    let e = build(&other, &mut bad, &outputs).err().unwrap().to_string();
    assert!(e.contains("the module of `embed` does not fit"), "{e}");
}

#[test]
fn an_add_fuses_the_relu_after_it() {
    let mut n = nodes(serde_json::json!([
        { "name": "a", "type": "Linear", "out_features": 4 },
        { "name": "sum", "op": "add", "from": ["a", "input"] },
        { "name": "relu", "type": "ReLU" },
    ]));
    let m = build(&[("input".into(), vec![4])], &mut n, &[]).unwrap();
    assert_eq!(m.fused(), vec![1..3]);
    let x = Var::from_tensor(&Tensor::randn(0f32, 1., (3, 4), &Device::Cpu).unwrap()).unwrap();
    let out = m.forward(x.as_tensor(), true).unwrap();
    let a = m.layers()[0].forward(x.as_tensor(), true).unwrap();
    let want = (a + x.as_tensor()).unwrap().relu().unwrap();
    assert_close("add + relu", &out, &want, 1e-6);
    let g1 = out.sum_all().unwrap().backward().unwrap();
    let g2 = want.sum_all().unwrap().backward().unwrap();
    assert_close(
        "grad",
        g1.get(x.as_tensor()).unwrap(),
        g2.get(x.as_tensor()).unwrap(),
        1e-6,
    );
}
