//! Reads the field names of a `#[derive(Deserialize)]` struct, so that unknown keys in
//! an experiment file can be reported with the list of known ones and a suggestion.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::cell::Cell;
use std::fmt;

/// The field names a `Deserialize` struct accepts (empty for anything that is not a
/// plain struct). Serde hands the field list to `deserialize_struct`; a deserializer
/// that records it and stops is all it takes.
pub fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let found = Cell::new(None);
    let _ = T::deserialize(FieldGrabber(&found));
    found.get().unwrap_or(&[])
}

struct FieldGrabber<'a>(&'a Cell<Option<&'static [&'static str]>>);

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field introspection")
    }
}
impl std::error::Error for Stop {}
impl de::Error for Stop {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldGrabber<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0.set(Some(fields));
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(dead_code)]
    #[derive(serde::Deserialize)]
    struct Cfg {
        in_features: Option<usize>,
        #[serde(default)]
        out_features: usize,
    }

    #[test]
    fn lists_fields() {
        assert_eq!(struct_fields::<Cfg>(), &["in_features", "out_features"]);
        assert!(struct_fields::<u32>().is_empty());
    }
}
