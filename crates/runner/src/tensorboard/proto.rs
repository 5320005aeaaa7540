//! The protocol-buffer wire format, encoding only: the four wire types TensorBoard's
//! messages use (varint, 64-bit, length-delimited, 32-bit), written field by field.
//!
//! A message is built by chaining field writers in field-number order, as protoc's
//! own encoders emit them: `Msg::new().int64(2, step).message(5, summary)`. Every
//! field given is written, defaults included, so a `oneof` member whose value is the
//! default (`simple_value: 0.0`) is still present.

/// A message being encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Msg(Vec<u8>);

/// The wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

impl Msg {
    /// An empty message (all fields absent).
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The encoded bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.raw_varint((u64::from(field) << 3) | u64::from(wire));
    }

    /// An unsigned varint field (`uint32`, `uint64`, `bool`, an enum's number).
    pub(crate) fn varint(mut self, field: u32, v: u64) -> Self {
        self.key(field, VARINT);
        self.raw_varint(v);
        self
    }

    /// An `int32`/`int64` field: negative values as ten-byte two's complement.
    pub(crate) fn int64(self, field: u32, v: i64) -> Self {
        self.varint(field, v as u64)
    }

    /// A `double` field.
    pub(crate) fn double(mut self, field: u32, v: f64) -> Self {
        self.key(field, FIXED64);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A `float` field.
    pub(crate) fn float(mut self, field: u32, v: f32) -> Self {
        self.key(field, FIXED32);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A `bytes` field.
    pub(crate) fn bytes(mut self, field: u32, v: &[u8]) -> Self {
        self.key(field, LEN);
        self.raw_varint(v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }

    /// A `string` field (UTF-8).
    pub(crate) fn string(self, field: u32, v: &str) -> Self {
        self.bytes(field, v.as_bytes())
    }

    /// An embedded message field (present even when `m` is empty).
    pub(crate) fn message(self, field: u32, m: Msg) -> Self {
        self.bytes(field, &m.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_encode_as_protoc_does() {
        // the examples of the protobuf encoding guide: field 1 = 150 is 08 96 01
        assert_eq!(Msg::new().varint(1, 150).into_bytes(), [0x08, 0x96, 0x01]);
        // field 2 = "testing" is 12 07 74 65 73 74 69 6e 67
        assert_eq!(
            Msg::new().string(2, "testing").into_bytes(),
            b"\x12\x07testing".to_vec()
        );
        // an embedded message: field 3 = { field 1 = 150 } is 1a 03 08 96 01
        let inner = Msg::new().varint(1, 150);
        assert_eq!(
            Msg::new().message(3, inner).into_bytes(),
            [0x1a, 0x03, 0x08, 0x96, 0x01]
        );
        // -1 as int64 takes ten bytes
        let neg = Msg::new().int64(1, -1).into_bytes();
        assert_eq!(neg.len(), 11);
        assert_eq!(neg[10], 0x01);
        // a double (wire type 1) and a float (wire type 5), little-endian
        assert_eq!(
            Msg::new().double(1, 1.0).into_bytes(),
            [0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]
        );
        assert_eq!(Msg::new().float(2, 0.0).into_bytes(), [0x15, 0, 0, 0, 0]);
        // a field number past 15 takes a two-byte key
        assert_eq!(Msg::new().varint(16, 1).into_bytes(), [0x80, 0x01, 0x01]);
        assert_eq!(Msg::new().message(5, Msg::new()).into_bytes(), [0x2a, 0x00]);
    }
}
