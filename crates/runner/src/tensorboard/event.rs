//! The messages of an event file, as TensorBoard's protos number their fields
//! (`tensorboard/compat/proto/event.proto`, `summary.proto`, `tensor.proto`,
//! `tensor_shape.proto`): an `Event` holds a file version, a `SessionLog` or a
//! `Summary` of tagged values: a `simple_value` (scalars), an `Image` (a PNG), or a
//! `TensorProto` with the `SummaryMetadata` naming the plugin that reads it.

use super::proto::Msg;

/// The first event of every file: the format version TensorBoard checks for (2: a
/// restart is marked by a `SessionLog.START`, see the module doc of `tensorboard`).
pub(crate) const FILE_VERSION: &str = "brain.Event:2";

/// What an event holds (`Event.what`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum What {
    /// `file_version` (field 3).
    FileVersion(&'static str),
    /// `session_log { status: START }` (field 7): a (re)start of training at the
    /// event's step; TensorBoard drops the points of earlier files from that step on.
    SessionStart,
    /// `summary` (field 5).
    Summary(Vec<Value>),
}

/// One tagged value of a summary (`Summary.Value`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    /// The tag (field 1).
    pub tag: String,
    /// The plugin that reads it (field 9).
    pub metadata: Option<Metadata>,
    /// The value itself (the `oneof value`).
    pub data: Data,
}

/// A value's data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    /// `simple_value` (field 2): a scalar, as a 32-bit float.
    Simple(f32),
    /// `image` (field 4): `Summary.Image { height = 1, width = 2, colorspace = 3,
    /// encoded_image_string = 4 }`; colorspace 1 grey, 3 RGB, 4 RGBA.
    Image {
        /// Pixel rows.
        height: u32,
        /// Pixel columns.
        width: u32,
        /// Channels.
        colorspace: u32,
        /// The encoded image (PNG).
        png: Vec<u8>,
    },
    /// `tensor` (field 8): an encoded `TensorProto`.
    Tensor(Msg),
}

/// `SummaryMetadata`: `plugin_data { plugin_name = 1, content = 2 }` (field 1) and
/// `data_class` (field 4).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Metadata {
    /// The plugin's name (`text`, `hparams`).
    pub plugin: &'static str,
    /// The plugin's own message, encoded.
    pub content: Vec<u8>,
    /// `DataClass`: 1 scalar, 2 tensor, 3 blob sequence. Written explicitly, as
    /// TensorBoard's fast loader keeps no time series of an unknown class.
    pub data_class: u64,
}

/// `DATA_CLASS_TENSOR`.
pub(crate) const DATA_CLASS_TENSOR: u64 = 2;

/// `TensorProto.dtype` values (`types.proto`).
pub(crate) const DT_FLOAT: u64 = 1;
/// A string tensor.
pub(crate) const DT_STRING: u64 = 7;

/// An `Event` (`wall_time` = 1, `step` = 2, then `what`), encoded.
pub(crate) fn event(wall_time: f64, step: i64, what: &What) -> Vec<u8> {
    let m = Msg::new().double(1, wall_time).int64(2, step);
    let m = match what {
        What::FileVersion(v) => m.string(3, v),
        What::SessionStart => m.message(7, Msg::new().varint(1, 1)),
        What::Summary(values) => m.message(5, summary(values)),
    };
    m.into_bytes()
}

/// A `Summary`: its values (field 1, repeated).
fn summary(values: &[Value]) -> Msg {
    values
        .iter()
        .fold(Msg::new(), |m, v| m.message(1, value(v)))
}

fn value(v: &Value) -> Msg {
    let m = Msg::new().string(1, &v.tag);
    let m = match &v.data {
        Data::Simple(x) => m.float(2, *x),
        Data::Image {
            height,
            width,
            colorspace,
            png,
        } => m.message(
            4,
            Msg::new()
                .varint(1, u64::from(*height))
                .varint(2, u64::from(*width))
                .varint(3, u64::from(*colorspace))
                .bytes(4, png),
        ),
        Data::Tensor(t) => m.message(8, t.clone()),
    };
    match &v.metadata {
        Some(md) => m.message(9, metadata(md)),
        None => m,
    }
}

fn metadata(md: &Metadata) -> Msg {
    let plugin = Msg::new().string(1, md.plugin).bytes(2, &md.content);
    Msg::new().message(1, plugin).varint(4, md.data_class)
}

/// A `TensorProto` of `dtype` and shape `dims` (`tensor_shape` = 2, its `dim` = 2
/// with `size` = 1); the values are added by the caller.
pub(crate) fn tensor(dtype: u64, dims: &[i64]) -> Msg {
    let shape = dims
        .iter()
        .fold(Msg::new(), |s, &d| s.message(2, Msg::new().int64(1, d)));
    Msg::new().varint(1, dtype).message(2, shape)
}

/// A scalar: TensorBoard's scalars plugin reads `simple_value` (a 32-bit float, so
/// the value is rounded to the nearest `f32`).
pub(crate) fn scalar(tag: &str, v: f64) -> Value {
    Value {
        tag: tag.to_string(),
        metadata: None,
        data: Data::Simple(v as f32),
    }
}

/// Text for the text plugin: a rank-0 string tensor (`string_val` = 8) rendered as
/// Markdown, with `TextPluginData { version: 0 }` as its content.
pub(crate) fn text(tag: &str, markdown: &str) -> Value {
    Value {
        tag: tag.to_string(),
        metadata: Some(Metadata {
            plugin: "text",
            content: Msg::new().varint(1, 0).into_bytes(),
            data_class: DATA_CLASS_TENSOR,
        }),
        data: Data::Tensor(tensor(DT_STRING, &[]).bytes(8, markdown.as_bytes())),
    }
}

/// An RGB (3), grey (1) or RGBA (4) PNG for the images plugin.
pub(crate) fn image(
    tag: &str,
    (width, height): (u32, u32),
    colorspace: u32,
    png: Vec<u8>,
) -> Value {
    Value {
        tag: tag.to_string(),
        metadata: None,
        data: Data::Image {
            height,
            width,
            colorspace,
            png,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_version_event() {
        let e = event(1.5, 0, &What::FileVersion(FILE_VERSION));
        let mut want = vec![0x09];
        want.extend_from_slice(&1.5f64.to_le_bytes());
        want.extend_from_slice(&[0x10, 0x00, 0x1a, 13]);
        want.extend_from_slice(b"brain.Event:2");
        assert_eq!(e, want);
    }

    #[test]
    fn a_scalar_event() {
        let e = event(0.0, 300, &What::Summary(vec![scalar("step/lr", 0.01)]));
        // wall_time, step = 300 (ac 02), summary { value { tag, simple_value } }
        let mut value = vec![0x0a, 7];
        value.extend_from_slice(b"step/lr");
        value.push(0x15);
        value.extend_from_slice(&0.01f32.to_le_bytes());
        let mut want = vec![0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0xac, 0x02, 0x2a];
        want.push(value.len() as u8 + 2);
        want.extend_from_slice(&[0x0a, value.len() as u8]);
        want.extend_from_slice(&value);
        assert_eq!(e, want);
    }

    #[test]
    fn a_session_start_event() {
        let e = event(0.0, 7, &What::SessionStart);
        assert_eq!(&e[9..], [0x10, 7, 0x3a, 2, 0x08, 1]);
    }

    #[test]
    fn text_is_a_string_tensor_with_the_text_plugins_metadata() {
        let v = value(&text("config", "hi"));
        let tensor = [0x08, 7, 0x12, 0, 0x42, 2, b'h', b'i'];
        let plugin = [0x0a, 4, b't', b'e', b'x', b't', 0x12, 2, 0x08, 0];
        let mut want = vec![0x0a, 6];
        want.extend_from_slice(b"config");
        want.extend_from_slice(&[0x42, tensor.len() as u8]);
        want.extend_from_slice(&tensor);
        want.extend_from_slice(&[0x4a, plugin.len() as u8 + 4, 0x0a, plugin.len() as u8]);
        want.extend_from_slice(&plugin);
        want.extend_from_slice(&[0x20, 2]);
        assert_eq!(v.into_bytes(), want);
    }

    #[test]
    fn an_image_value() {
        let v = value(&image("images", (4, 2), 3, vec![1, 2]));
        let img = [0x08, 2, 0x10, 4, 0x18, 3, 0x22, 2, 1, 2];
        let mut want = vec![0x0a, 6];
        want.extend_from_slice(b"images");
        want.extend_from_slice(&[0x22, img.len() as u8]);
        want.extend_from_slice(&img);
        assert_eq!(v.into_bytes(), want);
    }

    #[test]
    fn tensor_shapes() {
        let t = tensor(DT_FLOAT, &[0]);
        assert_eq!(t.into_bytes(), [0x08, 1, 0x12, 4, 0x12, 2, 0x08, 0]);
    }
}
