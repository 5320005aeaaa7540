//! A loader's sampler as the `torch.utils.data` sampler `wick export --python` writes:
//! the same class and arguments, with wick's shorthands written out (`range = [a, b]`
//! as `list(range(a, b))`, `weights = "balanced"` and `class_weights` as per-sample
//! weights computed from the dataset's targets).

use std::fmt::Write;
use wick_data::sampler::{
    RandomSamplerConfig, SamplerConfig, SubsetRandomSamplerConfig, WeightedRandomSamplerConfig,
    Weights,
};

/// The helper the script defines when a sampler weighs classes: the dataset's targets
/// as a tensor (`.targets` where torchvision keeps them, else read sample by sample).
pub(crate) const TARGETS_HELPER: &str = "\
def targets_of(dataset):
    t = getattr(dataset, 'targets', None)
    if t is None:
        t = [y for _, y in dataset]
    return torch.as_tensor(t, dtype=torch.long)
";

/// `sampler=...` for `DataLoader(...)` over the dataset variable `set`, or `None` for a
/// sampler of a user's type (exported as `shuffle`).
pub(crate) fn sampler_arg(s: &SamplerConfig, set: &str) -> Option<String> {
    let expr = match s.type_name() {
        "SequentialSampler" => format!("torch.utils.data.SequentialSampler({set})"),
        "RandomSampler" => {
            let c = s.downcast_ref::<RandomSamplerConfig>()?;
            let mut e = format!("torch.utils.data.RandomSampler({set}");
            if c.replacement {
                e.push_str(", replacement=True");
            }
            if let Some(n) = c.num_samples {
                write!(e, ", num_samples={n}").ok()?;
            }
            e + ")"
        }
        "SubsetRandomSampler" => subset(s.downcast_ref::<SubsetRandomSamplerConfig>()?),
        "WeightedRandomSampler" => weighted(s.downcast_ref::<WeightedRandomSamplerConfig>()?, set),
        _ => return None,
    };
    Some(format!("sampler={expr}"))
}

fn subset(c: &SubsetRandomSamplerConfig) -> String {
    let mut parts = Vec::new();
    if !c.indices.is_empty() {
        parts.push(format!("{:?}", c.indices));
    }
    if let Some(r) = &c.range {
        let args: Vec<String> = r.iter().map(ToString::to_string).collect();
        parts.push(format!("list(range({}))", args.join(", ")));
    }
    format!(
        "torch.utils.data.SubsetRandomSampler({})",
        parts.join(" + ")
    )
}

fn weighted(c: &WeightedRandomSamplerConfig, set: &str) -> String {
    let weights = match (&c.weights, &c.class_weights) {
        (Some(Weights::PerSample(w)), _) => format!("{w:?}"),
        (_, Some(cw)) => format!("torch.tensor({cw:?}, dtype=torch.double)[targets_of({set})]"),
        // balanced: the inverse of each sample's class frequency
        _ => format!("(1.0 / torch.bincount(targets_of({set})).double())[targets_of({set})]"),
    };
    let n = c
        .num_samples
        .map_or_else(|| format!("len({set})"), |n| n.to_string());
    let mut e = format!("torch.utils.data.WeightedRandomSampler({weights}, num_samples={n}");
    if !c.replacement {
        e.push_str(", replacement=False");
    }
    e + ")"
}

/// Whether the sampler's Python needs [`TARGETS_HELPER`].
pub(crate) fn needs_targets(s: &SamplerConfig) -> bool {
    s.downcast_ref::<WeightedRandomSamplerConfig>()
        .is_some_and(|c| !matches!(c.weights, Some(Weights::PerSample(_))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(toml_src: &str) -> SamplerConfig {
        #[derive(serde::Deserialize)]
        struct S {
            sampler: SamplerConfig,
        }
        let reg = crate::registry::Registry::with_builtins();
        reg.enter(|| toml::from_str::<S>(toml_src).unwrap().sampler)
    }

    #[test]
    fn samplers_as_torch_writes_them() {
        let arg = |s: &str| sampler_arg(&sampler(s), "train_set").unwrap();
        assert_eq!(
            arg(
                r#"sampler = { type = "SubsetRandomSampler", indices = [1, 2], range = [10, 20, 5] }"#
            ),
            "sampler=torch.utils.data.SubsetRandomSampler([1, 2] + list(range(10, 20, 5)))"
        );
        assert_eq!(
            arg(r#"sampler = { type = "WeightedRandomSampler", weights = "balanced" }"#),
            "sampler=torch.utils.data.WeightedRandomSampler((1.0 / torch.bincount(\
             targets_of(train_set)).double())[targets_of(train_set)], num_samples=len(train_set))"
        );
        assert_eq!(
            arg(
                r#"sampler = { type = "WeightedRandomSampler", class_weights = [1.0, 3.0], num_samples = 10, replacement = false }"#
            ),
            "sampler=torch.utils.data.WeightedRandomSampler(torch.tensor([1.0, 3.0], \
             dtype=torch.double)[targets_of(train_set)], num_samples=10, replacement=False)"
        );
        assert_eq!(
            arg(r#"sampler = { type = "RandomSampler", replacement = true, num_samples = 7 }"#),
            "sampler=torch.utils.data.RandomSampler(train_set, replacement=True, num_samples=7)"
        );
        let per_sample =
            sampler(r#"sampler = { type = "WeightedRandomSampler", weights = [1.0, 2.0] }"#);
        assert!(!needs_targets(&per_sample));
        assert!(needs_targets(&sampler(
            r#"sampler = { type = "WeightedRandomSampler", weights = "balanced" }"#
        )));
    }
}
