//! `wick export --python` for the datasets of several inputs (`Pairs`, `Triplets`) and
//! the models that compare samples ([`Task::Compare`]): the Python twins of wick's
//! dataset wrappers, and the lines of the loop that differ — `model(*data)`, the loss
//! over every output (with the `±1` target for pairs, without one for triplets), and
//! `test()`'s accuracy as wick measures it (see `fit/embedding.rs`).
//!
//! The partners are drawn in NumPy from the experiment's seed and the split: the same
//! rule as wick's (a partner of the class with probability `positive_fraction`, else
//! one of another class, never the sample itself), other draws.

use crate::task::Task;
use wick_data::datasets::{DatasetConfig, PairsConfig, TripletsConfig};

/// The Python classes of wick's `Pairs` and `Triplets`.
pub const PAIRS_HELPER: &str = r#"class ClassIndex:
    """The class of every sample of a dataset and the samples of each class."""

    def __init__(self, base):
        targets = getattr(base, "targets", None)
        if targets is None:
            targets = [base[i][1] for i in range(len(base))]
        self.labels = np.asarray([int(t) for t in targets])
        classes = np.unique(self.labels)
        self.members = {c: np.flatnonzero(self.labels == c) for c in classes}
        self.outside = {c: np.flatnonzero(self.labels != c) for c in classes}

    def same(self, i, rng):
        """A sample of i's class other than i (i itself when it is alone)."""
        m = self.members[self.labels[i]]
        if len(m) == 1:
            return int(m[0])
        k = int(rng.integers(len(m) - 1))
        j = int(m[k])
        return int(m[-1]) if j == i else j

    def other(self, i, rng):
        """A sample of another class than i's."""
        m = self.outside[self.labels[i]]
        return int(m[rng.integers(len(m))])


class Pairs(torch.utils.data.Dataset):
    """wick's Pairs: sample i of `base` and a partner of its class (target 1, with
    probability `positive_fraction`) or of another class (target -1), drawn once per
    index from the seed and the split (the same rule as wick's, other draws)."""

    def __init__(self, base, seed, split, positive_fraction=0.5):
        self.base, index = base, ClassIndex(base)
        rng = np.random.default_rng([seed, split])
        self.partner, self.sign = [], []
        for i in range(len(base)):
            alike = rng.random() < positive_fraction
            self.partner.append(index.same(i, rng) if alike else index.other(i, rng))
            self.sign.append(1.0 if alike else -1.0)

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x1, x2 = self.base[i][0], self.base[self.partner[i]][0]
        return (x1, x2), torch.tensor(self.sign[i])


class Triplets(torch.utils.data.Dataset):
    """wick's Triplets: sample i of `base` (the anchor), one of its class (positive) and
    one of another (negative); the target is the anchor's class."""

    def __init__(self, base, seed, split):
        self.base, index = base, ClassIndex(base)
        rng = np.random.default_rng([seed, split])
        self.labels = index.labels
        self.partners = [(index.same(i, rng), index.other(i, rng)) for i in range(len(base))]

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        p, n = self.partners[i]
        return (self.base[i][0], self.base[p][0], self.base[n][0]), int(self.labels[i])


@torch.no_grad()
def nearest_neighbour_hits(embeddings, labels, block=256):
    """How many anchors' nearest other anchor (Euclidean) has their class."""
    e = torch.cat(embeddings).flatten(1).float()
    y = torch.cat(labels)
    hits = 0
    for start in range(0, len(e), block):
        d = torch.cdist(e[start:start + block], e)
        rows = torch.arange(d.shape[0])
        d[rows, rows + start] = float("inf")
        hits += (y[d.argmin(1)] == y[start:start + block]).sum().item()
    return hits"#;

/// The dataset a `Pairs` or `Triplets` draws from, or `ds` itself.
pub fn base_dataset(ds: &DatasetConfig) -> &DatasetConfig {
    if let Some(p) = ds.downcast_ref::<PairsConfig>() {
        return &p.dataset;
    }
    if let Some(t) = ds.downcast_ref::<TripletsConfig>() {
        return &t.dataset;
    }
    ds
}

/// Whether either split's dataset is a `Pairs` or `Triplets`.
pub fn is_multi_input(ds: &DatasetConfig) -> bool {
    !std::ptr::eq(base_dataset(ds), ds)
}

/// `inner` (the wrapped dataset's expression) wrapped as `ds` wraps it, for the split
/// numbered as wick numbers it (train 0, test 1).
pub fn wrap(ds: &DatasetConfig, inner: String, seed: u64, split: u64) -> String {
    if let Some(p) = ds.downcast_ref::<PairsConfig>() {
        return format!(
            "Pairs({inner}, seed={seed}, split={split}, positive_fraction={:?})",
            p.positive_fraction
        );
    }
    if ds.downcast_ref::<TripletsConfig>().is_some() {
        return format!("Triplets({inner}, seed={seed}, split={split})");
    }
    inner
}

/// The training step's forward and loss for a comparing task: `(forward, loss)`.
pub fn train_lines(signs: bool, fwd: &str) -> (String, &'static str) {
    let loss = if signs {
        "criterion(*output, target)"
    } else {
        "criterion(*output)"
    };
    (format!("{fwd}(*data)"), loss)
}

/// `test(loader)` for a comparing task: the pairs' verification accuracy (a pair is
/// alike when the loss would be smaller for `1` than for `-1`) or the anchors'
/// 1-nearest-neighbour accuracy.
pub fn test_function(task: Task, fwd: &str) -> String {
    let Task::Compare { signs, .. } = task else {
        return String::new();
    };
    let (loss, per_batch, after) = if signs {
        (
            "criterion(*output, target)",
            "        per = copy.copy(criterion)\n        per.reduction = \"none\"\n        \
             one = torch.ones_like(target)\n        alike = per(*output, one) < per(*output, -one)\n        \
             correct += (alike == (target > 0)).sum().item()\n        counted += len(target)",
            "",
        )
    } else {
        (
            "criterion(*output)",
            "        embeddings.append(output[0])\n        labels.append(target)",
            "    correct, counted = nearest_neighbour_hits(embeddings, labels), total\n",
        )
    };
    format!(
        "@torch.no_grad()
def test(loader):
    model.eval()
    loss, total, correct, counted, embeddings, labels = 0.0, 0, 0, 0, [], []
    for data, target in loader:
        output = {fwd}(*data)
{per_batch}
        loss += {loss}.item() * len(target)
        total += len(target)
{after}    print(f\"Accuracy: {{100.0 * correct / counted:.2f}} % ({{correct}}/{{counted}}), loss {{loss / total:.4f}}\")
    return loss / total
"
    )
}

#[cfg(test)]
mod tests {
    use crate::export::python_script;
    use crate::schema::Experiment;

    fn script(file: &str) -> String {
        let path = format!("{}/../../experiments/{file}", env!("CARGO_MANIFEST_DIR"));
        let exp = Experiment::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap();
        python_script(&exp, Some("runs/x/t/checkpoints/best/model.safetensors"))
    }

    #[test]
    fn pairs_read_as_a_dataset_of_two_inputs_and_a_sign() {
        let s = script("mnist_siamese.toml");
        assert!(s.contains("class Pairs(torch.utils.data.Dataset):"), "{s}");
        assert!(
            s.contains("train_set = Pairs(datasets.MNIST(ROOT, train=True"),
            "{s}"
        );
        assert!(s.contains("seed=0, split=1, positive_fraction=0.5)"), "{s}");
        assert!(s.contains("place_idx(ROOT, \"MNIST\""), "{s}");
        assert!(s.contains("output = model(*data)"), "{s}");
        assert!(s.contains("loss = criterion(*output, target)"), "{s}");
        assert!(
            s.contains("alike = per(*output, one) < per(*output, -one)"),
            "{s}"
        );
        assert!(!s.contains("= nearest_neighbour_hits("), "{s}");
    }

    #[test]
    fn triplets_take_no_target_and_score_by_nearest_neighbour() {
        let s = script("fashion_triplet.toml");
        assert!(
            s.contains("train_set = Triplets(datasets.FashionMNIST(ROOT, train=True"),
            "{s}"
        );
        assert!(s.contains("loss = criterion(*output)\n"), "{s}");
        assert!(
            s.contains("correct, counted = nearest_neighbour_hits(embeddings, labels), total"),
            "{s}"
        );
    }

    #[test]
    fn a_single_input_experiment_has_none_of_it() {
        let s = script("mnist.toml");
        assert!(!s.contains("class Pairs"), "{s}");
        assert!(s.contains("output = model(data)"), "{s}");
    }

    #[test]
    fn converged_breaks_the_loop_as_the_course_does() {
        let s = script("points_2531.toml");
        assert!(s.contains("loss_lst.append(loss.item())"), "{s}");
        assert!(
            s.contains("if abs(loss_lst[-1] - loss_lst[-2]) < 1e-5:  # [train.converged]"),
            "{s}"
        );
    }
}
