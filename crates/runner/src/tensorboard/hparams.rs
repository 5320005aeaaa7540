//! The hparams plugin's records (`tensorboard/plugins/hparams/plugin_data.proto`,
//! `api.proto`): a `SessionStartInfo` with the run's hyperparameters when it starts and
//! a `SessionEndInfo` with its status when it ends, each an `HParamsPluginData` in the
//! metadata of a value under the plugin's fixed tags. TensorBoard's HParams tab lists
//! every run directory holding them as a session, its hyperparameters as columns and
//! its scalars as metrics, which compares the trials of a sweep.
//!
//! The hyperparameters are the run's `--set` overrides (`optimizer.lr=0.01`): what
//! differs between the trials of a sweep. A value that reads as a TOML number or
//! boolean is one (`number_value`, `bool_value`); any other (`Adam`, `"Adam"`, an
//! array) is a string, unquoted where it was a quoted TOML string.

use super::event::{self, Data, Metadata, Value, DATA_CLASS_TENSOR, DT_FLOAT};
use super::proto::Msg;

/// The tag of the session's start.
pub(crate) const SESSION_START_TAG: &str = "_hparams_/session_start_info";
/// The tag of the session's end.
pub(crate) const SESSION_END_TAG: &str = "_hparams_/session_end_info";

/// How a session ended (`tensorboard.hparams.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// `STATUS_SUCCESS`: the run trained its epochs (or stopped early).
    Success = 1,
    /// `STATUS_FAILURE`: the run failed (its loss diverged, say).
    Failure = 2,
}

/// A hyperparameter's value (`google.protobuf.Value`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HValue {
    /// `number_value` (field 2).
    Number(f64),
    /// `string_value` (field 3).
    Text(String),
    /// `bool_value` (field 4).
    Bool(bool),
}

impl HValue {
    /// The value of an override's right-hand side (see the module doc).
    pub(crate) fn parse(text: &str) -> Self {
        let text = text.trim();
        let parsed = format!("v = {text}").parse::<toml::Table>().ok();
        match parsed.and_then(|mut t| t.remove("v")) {
            Some(toml::Value::Integer(i)) => Self::Number(i as f64),
            Some(toml::Value::Float(x)) => Self::Number(x),
            Some(toml::Value::Boolean(b)) => Self::Bool(b),
            Some(toml::Value::String(s)) => Self::Text(s),
            _ => Self::Text(text.to_string()),
        }
    }

    fn encode(&self) -> Msg {
        match self {
            Self::Number(x) => Msg::new().double(2, *x),
            Self::Text(s) => Msg::new().string(3, s),
            Self::Bool(b) => Msg::new().varint(4, u64::from(*b)),
        }
    }
}

/// The hyperparameters of `overrides` (`key=value` strings), in order; a key set twice
/// keeps its last value, an entry without `=` is left out.
pub(crate) fn from_overrides(overrides: &[String]) -> Vec<(String, HValue)> {
    let mut out: Vec<(String, HValue)> = Vec::new();
    for o in overrides {
        let Some((key, value)) = o.split_once('=') else {
            continue;
        };
        let key = key.trim().to_string();
        out.retain(|(k, _)| *k != key);
        out.push((key, HValue::parse(value)));
    }
    out
}

/// `HParamsPluginData { version = 1: 0, session_start_info = 3 }`, encoded; the
/// `SessionStartInfo` holds `hparams` (field 1, a map: entries of key = 1, value = 2),
/// `group_name` (field 4) and `start_time_secs` (field 5).
///
/// A run whose hyperparameters include `seed` (a sweep's trial) is in the group of
/// the runs with the same other hyperparameters, so the HParams tab shows one row per
/// configuration over its seeds; any other run is a group of its own (no name).
pub(crate) fn session_start(hparams: &[(String, HValue)], start_time: f64) -> Vec<u8> {
    let mut info = hparams.iter().fold(Msg::new(), |m, (k, v)| {
        m.message(1, Msg::new().string(1, k).message(2, v.encode()))
    });
    if hparams.iter().any(|(k, _)| k == "seed") {
        let group: Vec<String> = hparams
            .iter()
            .filter(|(k, _)| k != "seed")
            .map(|(k, v)| match v {
                HValue::Number(x) => format!("{k}={x}"),
                HValue::Text(t) => format!("{k}={t}"),
                HValue::Bool(b) => format!("{k}={b}"),
            })
            .collect();
        info = info.string(4, &group.join(","));
    }
    Msg::new()
        .varint(1, 0)
        .message(3, info.double(5, start_time))
        .into_bytes()
}

/// `HParamsPluginData { version = 1: 0, session_end_info = 4 }`, encoded, with
/// `SessionEndInfo { status = 1, end_time_secs = 2 }`.
pub(crate) fn session_end(status: Status, end_time: f64) -> Vec<u8> {
    let info = Msg::new().varint(1, status as u64).double(2, end_time);
    Msg::new().varint(1, 0).message(4, info).into_bytes()
}

/// A value under `tag` carrying `content` for the hparams plugin. Its data is the empty
/// float tensor TensorBoard's own loader puts there (`hparams.metadata.NULL_TENSOR`),
/// written out so that every loader keeps it.
pub(crate) fn value(tag: &str, content: Vec<u8>) -> Value {
    Value {
        tag: tag.to_string(),
        metadata: Some(Metadata {
            plugin: "hparams",
            content,
            data_class: DATA_CLASS_TENSOR,
        }),
        data: Data::Tensor(event::tensor(DT_FLOAT, &[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_values_are_typed() {
        let h = from_overrides(&[
            "optimizer.lr=0.01".into(),
            "optimizer.type=Adam".into(),
            "train.epochs = 3".into(),
            "data.train.shuffle=true".into(),
            "name=\"quoted\"".into(),
            "metrics.top_k=[2]".into(),
            "optimizer.lr=0.1".into(),
            "no-equals-sign".into(),
        ]);
        assert_eq!(
            h,
            vec![
                ("optimizer.type".into(), HValue::Text("Adam".into())),
                ("train.epochs".into(), HValue::Number(3.0)),
                ("data.train.shuffle".into(), HValue::Bool(true)),
                ("name".into(), HValue::Text("quoted".into())),
                ("metrics.top_k".into(), HValue::Text("[2]".into())),
                ("optimizer.lr".into(), HValue::Number(0.1)),
            ]
        );
    }

    #[test]
    fn session_start_info_encoding() {
        let bytes = session_start(&[("lr".into(), HValue::Number(0.5))], 2.0);
        // entry { key "lr", value { number_value 0.5 } }
        let mut entry = vec![0x0a, 2, b'l', b'r', 0x12, 9, 0x11];
        entry.extend_from_slice(&0.5f64.to_le_bytes());
        let mut info = vec![0x0a, entry.len() as u8];
        info.extend_from_slice(&entry);
        info.push(0x29);
        info.extend_from_slice(&2.0f64.to_le_bytes());
        let mut want = vec![0x08, 0, 0x1a, info.len() as u8];
        want.extend_from_slice(&info);
        assert_eq!(bytes, want);
    }

    #[test]
    fn seeds_of_one_configuration_share_a_group() {
        let h = |seed: &str| from_overrides(&["optimizer.lr=0.1".into(), format!("seed={seed}")]);
        let (a, b) = (session_start(&h("0"), 1.0), session_start(&h("1"), 1.0));
        let group = b"\x22\x10optimizer.lr=0.1";
        let has = |v: &[u8]| v.windows(group.len()).any(|w| w == group);
        assert!(has(&a) && has(&b), "{a:?}");
        let alone = session_start(&from_overrides(&["optimizer.lr=0.1".into()]), 1.0);
        assert!(
            !alone.windows(2).any(|w| w == b"\x22\x10"),
            "no group without a seed"
        );
    }

    #[test]
    fn session_end_info_encoding() {
        let bytes = session_end(Status::Failure, 1.0);
        let mut want = vec![0x08, 0, 0x22, 11, 0x08, 2, 0x11];
        want.extend_from_slice(&1.0f64.to_le_bytes());
        assert_eq!(bytes, want);
        let text = HValue::Text("Adam".into()).encode().into_bytes();
        assert_eq!(text, b"\x1a\x04Adam".to_vec());
        let yes = HValue::Bool(true).encode().into_bytes();
        assert_eq!(yes, [0x20, 1]);
    }
}
