//! `base = "file.toml"`: chains of three files merge (tables key by key, arrays whole),
//! and an error in each file of the chain is reported in that file, at its line.

use std::path::Path;
use wick_runner::{load_experiment, load_experiment_with, Override};

const GRANDPARENT: &str = r#"name = "points"
seed = 3
device = "cpu"

[data.dataset]
type = "Tensors"
x = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]
y = [[1.0], [0.0], [1.0], [0.0]]

[data.train]
batch_size = 2

[model]
input = [2]
layers = [
  { type = "Linear", out_features = 4 },
  { type = "Tanh" },
  { type = "Linear", out_features = 1 },
]

[loss]
type = "BCEWithLogitsLoss"

[optimizer]
type = "SGD"
lr = 0.1
momentum = 0.9

[train]
epochs = 2
"#;

const PARENT: &str = r#"base = "grandparent.toml"
name = "points-adam"

[optimizer]
type = "Adam"
lr = 0.01
"#;

const CHILD: &str = r#"base = "../parent.toml"
name = "points-wide"

[model]
layers = [
  { type = "Linear", out_features = 8 },
  { type = "ReLU" },
  { type = "Linear", out_features = 1 },
]

[train]
epochs = 5
"#;

/// Writes the chain into `dir` (the child one folder down), with `edit` applied to the
/// file it names; returns the child's path.
fn chain(dir: &Path, edit: Option<(&str, &str, &str)>) -> std::path::PathBuf {
    let mut files = [
        ("grandparent.toml", GRANDPARENT.to_string()),
        ("parent.toml", PARENT.to_string()),
        ("sub/child.toml", CHILD.to_string()),
    ];
    if let Some((name, from, to)) = edit {
        let f = files.iter_mut().find(|f| f.0 == name).unwrap();
        assert!(f.1.contains(from), "{from}");
        f.1 = f.1.replace(from, to);
    }
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir.join("sub/child.toml")
}

#[test]
fn a_chain_of_three_merges_tables_and_replaces_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let exp = load_experiment(&chain(dir.path(), None)).unwrap();
    assert_eq!(exp.name, "points-wide");
    assert_eq!(exp.seed, 3, "from the grandparent");
    assert_eq!(exp.train.epochs, 5, "from the child");
    let toml = exp.to_toml();
    assert!(toml.contains("Adam"), "{toml}");
    assert!(
        !toml.contains("momentum"),
        "another type replaces the table: {toml}"
    );
    assert!(
        toml.contains("ReLU") && !toml.contains("Tanh"),
        "layers replaced: {toml}"
    );
    assert!(
        !toml.contains("base"),
        "the resolved config is the merged one: {toml}"
    );
    // --set applies over the merged experiment
    let set: Override = "optimizer.lr=0.5".parse().unwrap();
    let exp = load_experiment_with(&chain(dir.path(), None), &[set]).unwrap();
    assert!(exp.to_toml().contains("lr = 0.5"), "{}", exp.to_toml());
}

/// The rendered error of the chain with `edit` applied.
fn error_of(edit: (&str, &str, &str)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = chain(dir.path(), Some(edit));
    let e = load_experiment(&path).unwrap_err();
    e.rendered
}

#[test]
fn an_error_is_shown_in_the_file_that_writes_the_key() {
    let e = error_of(("grandparent.toml", "batch_size = 2", "batch_sise = 2"));
    assert!(e.contains("grandparent.toml:11:1"), "{e}");
    assert!(e.contains("did you mean `batch_size`?"), "{e}");

    let e = error_of(("parent.toml", "lr = 0.01", "lr = -0.01"));
    assert!(e.contains("parent.toml:6:6"), "{e}");
    assert!(!e.contains("grandparent"), "{e}");

    let e = error_of(("sub/child.toml", "out_features = 8", "out_feature = 8"));
    assert!(e.contains("child.toml:6:22"), "{e}");
    assert!(e.contains("did you mean `out_features`?"), "{e}");

    let e = error_of(("parent.toml", "[optimizer]", "[optimizer\n"));
    assert!(e.contains("parent.toml:4"), "syntax errors too: {e}");
}

#[test]
fn missing_bases_and_cycles_are_errors_at_the_base_key() {
    let e = error_of(("parent.toml", "grandparent.toml", "nowhere.toml"));
    assert!(e.contains("parent.toml:1:8"), "{e}");
    assert!(e.contains("cannot read the base"), "{e}");

    let e = error_of((
        "grandparent.toml",
        "name = \"points\"",
        "base = \"sub/child.toml\"\nname = \"p\"",
    ));
    assert!(e.contains("grandparent.toml:1:8"), "{e}");
    assert!(e.contains("comes back to"), "{e}");

    let e = error_of(("sub/child.toml", "base = \"../parent.toml\"", "base = 3"));
    assert!(e.contains("child.toml:1:8"), "{e}");
}
