//! A block used three times, against PyTorch (`scripts/fixtures_graph.py`, `Blocks`):
//! the experiment `graph_blocks.toml` builds a model whose `state_dict` keys are the
//! PyTorch module's (`blocks.1.proj.weight`, `blocks.last.fc2.bias`), and with PyTorch's
//! parameters its output, input gradient and every parameter gradient match. Its
//! resolved `config.toml` (blocks expanded) reads back as the same experiment.

use candle_core::{Device, Tensor, Var};
use std::collections::HashMap;
use wick_nn::Layer;
use wick_runner::{build_model, Experiment};
use wick_tensor::testing::assert_close;

fn here(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn experiment() -> Experiment {
    let src = std::fs::read_to_string(here("tests/graph_blocks.toml")).unwrap();
    Experiment::from_toml(&src).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn a_block_used_three_times_matches_pytorch() {
    let f = candle_core::safetensors::load(
        here("../../assets/fixtures/graph.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(here("../../assets/fixtures/graph.json")).unwrap(),
    )
    .unwrap();
    let model = build_model(&experiment(), &Device::Cpu).unwrap();
    let keys: Vec<String> = model.state_dict().into_iter().map(|(k, _)| k).collect();
    let want: Vec<String> = serde_json::from_value(meta["blocks"]["keys"].clone()).unwrap();
    assert_eq!(keys, want);
    let state: HashMap<String, Tensor> = want
        .iter()
        .map(|k| (k.clone(), f[&format!("blocks.param.{k}")].clone()))
        .collect();
    model.load_state_dict(&state).unwrap();
    let x = Var::from_tensor(&f["blocks.in.input"]).unwrap();
    let out = model.forward(x.as_tensor(), true).unwrap();
    assert_close("output", &out, &f["blocks.out"], 1e-5);
    let grads = (out * &f["blocks.g"])
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_close(
        "input grad",
        grads.get(x.as_tensor()).unwrap(),
        &f["blocks.gin.input"],
        1e-5,
    );
    for p in model.parameters() {
        let g = grads.get(p.var.as_tensor()).unwrap();
        assert_close(&p.name, g, &f[&format!("blocks.grad.{}", p.name)], 1e-5);
    }
    assert!(
        model.describe().contains("(1): Unit(\n"),
        "{}",
        model.describe()
    );
}

#[test]
fn the_resolved_config_reads_back_the_same() {
    let exp = experiment();
    let text = toml::to_string(&exp).unwrap();
    assert!(text.contains("class = \"Unit\""), "{text}");
    let again = Experiment::from_toml(&text).unwrap_or_else(|d| panic!("{d}\n{text}"));
    assert_eq!(again, exp);
}

/// `wick export --python` writes the graph as classes whose `forward` is the graph and
/// whose module names are the `state_dict`'s (checked against PyTorch by hand: the
/// checkpoint of `experiments/fashion_resnet_graph.toml` loads with `strict=True` and
/// evaluates to wick's accuracy; see the closing note of issue 20).
#[test]
fn export_writes_the_graph_as_modules() {
    let s = wick_runner::export::python_script(&experiment(), None);
    for want in [
        "\nclass Unit(nn.Module):\n",
        "\nclass Unit_2(nn.Module):\n",
        "        self.fc1 = nn.Linear(in_features=6, out_features=6, bias=True)",
        "        self.proj = nn.Linear(in_features=6, out_features=8, bias=False)",
        "        v_3 = fc2 + input\n        return v_3\n",
        "        proj = self.proj(input)\n        v_4 = fc2 + proj\n",
        "model = nn.Sequential(OrderedDict([\n    (\"stem\", nn.Linear(",
        "    (\"blocks\", nn.Sequential(OrderedDict([\n        (\"0\", Unit()),\n        (\"1\", Unit_2()),\n        (\"last\", Unit_3()),\n    ]))),",
    ] {
        assert!(s.contains(want), "no {want:?} in\n{s}");
    }
}
