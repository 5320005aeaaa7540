//! `wick export --python` for transfer learning: a zoo model as its torchvision
//! constructor (`torchvision.models.resnet18(num_classes=2)`, the modules of `replace`
//! swapped in as `model.conv1 = nn.Conv2d(...)`), and `[model]`'s transfer keys as
//! PyTorch code: `requires_grad_(False)` where wick freezes, an optimizer over the
//! parameters that train, the frozen BatchNorms kept in eval mode, and the `weights`
//! loaded before training as wick loads them (`load_state_dict` with `rename` and
//! `ignore`, `strict` checked on what is left).

use crate::export_model::LayerExpr;
use crate::schema::ModelConfig;
use crate::transfer::TransferConfig;
use std::fmt::Write;

/// The model as torchvision builds it, where it is a zoo architecture whose
/// replacements are plain layers: `model = torchvision.models.…` and the swaps.
pub(crate) fn torchvision_model(model: &ModelConfig, layer: LayerExpr) -> Option<String> {
    let arch = model.architecture.as_ref()?;
    let args: Vec<String> = arch
        .args
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::export_model::py(v)))
        .collect();
    let mut s = format!(
        "model = torchvision.models.{}({})\n",
        arch.name,
        args.join(", ")
    );
    for path in &arch.replaced {
        let at = crate::model_decode::node_path(&model.layers, path).ok()?;
        let node = crate::model_decode::node_at(&model.layers, &at)?;
        let cfg = match &node.body {
            wick_nn::NodeBody::Layer(cfg)
                if cfg.downcast_ref::<wick_nn::SequentialConfig>().is_none() =>
            {
                cfg
            }
            _ => return None,
        };
        let expr = layer(cfg, 0);
        match path.rsplit_once('.') {
            None => writeln!(s, "model.{path} = {expr}"),
            Some((parent, name)) => writeln!(
                s,
                "setattr(model.get_submodule({parent:?}), {name:?}, {expr})"
            ),
        }
        .ok()?;
    }
    Some(s)
}

/// A wick glob (`*`, `?`; `[` literal) as an `fnmatch` pattern.
fn fnmatch(glob: &str) -> String {
    glob.replace('[', "[[]")
}

fn globs(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|g| format!("{:?}", fnmatch(g))).collect();
    format!("[{}]", items.join(", "))
}

/// What the script needs for `[model]`'s transfer keys.
pub(crate) struct TransferPy {
    /// Code after the model: the freezing, and `load_pretrained()` when there are weights.
    pub setup: String,
    /// The optimizer's first argument.
    pub params: &'static str,
    /// The line that loads the weights before training (indented for the `if args.train:`
    /// block), or empty.
    pub load: &'static str,
    /// What `train()` calls instead of `model.train()`.
    pub train_mode: &'static str,
}

/// The PyTorch code of `t`; `weights` is the file or URL it resolves to.
pub(crate) fn transfer(t: &TransferConfig, weights: Option<&str>) -> TransferPy {
    let frozen = !t.freeze.is_empty() || !t.trainable.is_empty();
    let mut setup = String::new();
    if frozen || t.weights.is_some() {
        setup.push_str(
            "\n\ndef matches(name, patterns):\n    \
             return any(fnmatch.fnmatchcase(name, p) for p in patterns)\n",
        );
    }
    if frozen {
        write_freeze(&mut setup, t);
    }
    if let Some(w) = weights {
        write_load(&mut setup, t, w);
    }
    TransferPy {
        setup,
        params: if frozen {
            "[p for p in model.parameters() if p.requires_grad]"
        } else {
            "model.parameters()"
        },
        load: if weights.is_some() {
            "\n        load_pretrained()"
        } else {
            ""
        },
        train_mode: if frozen && t.frozen_batchnorm {
            "train_mode()"
        } else {
            "model.train()"
        },
    }
}

/// `requires_grad_(False)` as `freeze`/`trainable` say, and `train_mode()` for
/// `frozen_batchnorm`.
fn write_freeze(s: &mut String, t: &TransferConfig) {
    let freeze_all = t.freeze.is_empty() && !t.trainable.is_empty();
    let freeze = if freeze_all {
        "[\"*\"]".to_string()
    } else {
        globs(&t.freeze)
    };
    writeln!(
        s,
        r#"

# [model] freeze / trainable: parameters that do not train
FREEZE, TRAINABLE = {freeze}, {trainable}
for name, p in model.named_parameters():
    p.requires_grad_(not (matches(name, FREEZE) and not matches(name, TRAINABLE)))"#,
        trainable = globs(&t.trainable),
    )
    .ok();
    if t.frozen_batchnorm {
        writeln!(
            s,
            r#"

def train_mode():
    """model.train(), but the BatchNorms whose weight is frozen stay in eval mode."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None \
                and not m.weight.requires_grad:
            m.eval()"#
        )
        .ok();
    }
}

/// `load_pretrained()`: the weights as wick loads them.
fn write_load(s: &mut String, t: &TransferConfig, weights: &str) {
    let rename: Vec<String> = t
        .rename
        .iter()
        .map(|(a, b)| format!("({a:?}, {b:?})"))
        .collect();
    writeln!(
        s,
        r#"

def load_pretrained():
    """[model] weights, loaded as wick loads them."""
    source = {weights:?}
    if source.startswith(("http://", "https://")):
        state = torch.hub.load_state_dict_from_url(source, check_hash=True)
    elif source.endswith(".safetensors"):
        from safetensors.torch import load_file
        state = load_file(source)
    else:
        state = torch.load(source, map_location="cpu", weights_only=True)
    for old, new in [{rename}]:
        state = {{k.replace(old, new): v for k, v in state.items()}}
    ignore = {ignore}
    state = {{k: v for k, v in state.items() if not matches(k, ignore)}}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not matches(k, ignore)]
    if {strict} and (missing or unexpected):
        raise RuntimeError(f"{{source}}: missing keys {{missing}}, unexpected keys {{unexpected}}")"#,
        rename = rename.join(", "),
        ignore = globs(&t.ignore),
        strict = if t.strict { "True" } else { "False" },
    )
    .ok();
}
