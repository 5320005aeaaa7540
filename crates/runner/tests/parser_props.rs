//! Property tests of the experiment parser and validator: whatever the text, parsing
//! returns an experiment or a diagnostic (never a panic), and the diagnostic renders.
//! The cargo-fuzz target in `fuzz/` runs the same check for longer.

use proptest::prelude::*;
use wick_runner::{diagnostic, Experiment};

const SEED: &str = r#"
name = "t"
seed = 1
[data]
dataset = "MNIST"
[data.train]
batch_size = 8
transforms = [{ type = "RandomCrop", size = 28, padding = 2 }, { type = "ToTensor" }, { type = "Normalize", mean = [0.5], std = [0.5] }]
[data.test]
batch_size = 8
transforms = [{ type = "ToTensor" }]
[model]
input = [1, 28, 28]
layers = [
  { type = "Conv2d", out_channels = 4, kernel_size = 3, padding = 1 },
  { type = "BatchNorm2d" },
  { type = "ReLU" },
  { type = "MaxPool2d", kernel_size = 2 },
  { type = "Residual", layers = [{ type = "Conv2d", out_channels = 4, kernel_size = 3, padding = 1 }] },
  { type = "Flatten" },
  { type = "Dropout", p = 0.5 },
  { type = "Linear", out_features = 10 },
]
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "SGD"
lr = 0.1
[scheduler]
type = "StepLR"
step_size = 1
[train]
epochs = 2
"#;

const TOKENS: &[&str] = &[
    "\"",
    "[",
    "]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "\n",
    "-1",
    "0",
    "1e309",
    "nan",
    "inf",
    "18446744073709551615",
    "99999999999",
    "true",
    "\"same\"",
    "\"None\"",
    "type = \"Linear\"",
    "type = \"make_moons\"",
    "n_samples = 4000000000",
    "kernel_size = 0",
    "stride = 0",
    "groups = 3",
    "p = 2.0",
    "out_features = 0",
    "[[model.layers]]",
    "[data.test]",
    "holdout = 0.5",
    "dataset = { type = \"Tensors\", x = [[1.0]], y = [[1.0]] }",
    "input = []",
    "input = [0]",
    "layers = []",
    "batch_size = 0",
    "num_workers = 100000",
    "é",
    "\u{0}",
    "\\",
    "'''",
    "#",
];

fn edit(src: &str, ops: &[(usize, usize, usize)]) -> String {
    let mut s: Vec<char> = src.chars().collect();
    for &(kind, pos, tok) in ops {
        let pos = pos % (s.len() + 1);
        match kind % 3 {
            0 => {
                let t: Vec<char> = TOKENS[tok % TOKENS.len()].chars().collect();
                s.splice(pos..pos, t);
            }
            1 => {
                let end = (pos + 1 + tok % 8).min(s.len());
                s.drain(pos..end);
            }
            _ => {
                if pos < s.len() {
                    let t: Vec<char> = TOKENS[tok % TOKENS.len()].chars().collect();
                    s.splice(pos..pos + 1, t);
                }
            }
        }
    }
    s.into_iter().collect()
}

#[test]
fn the_seed_experiment_is_valid() {
    Experiment::from_toml(SEED).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn edited_experiments_never_panic(ops in proptest::collection::vec((0usize..3, 0usize..4000, 0usize..64), 1..6)) {
        let src = edit(SEED, &ops);
        if let Err(d) = Experiment::from_toml(&src) {
            let text = diagnostic::render("fuzz.toml", &src, &[d], false);
            prop_assert!(text.contains("error"));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        let _ = Experiment::from_toml(&src);
    }
}
