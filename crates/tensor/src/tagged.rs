//! The catalog pattern: an enum of configs tagged by their PyTorch class name.

/// Declares a catalog enum whose variants are PyTorch class names wrapping their config
/// structs, serialized as a table with a `type` key (`{ type = "Linear", out_features = 10 }`),
/// as torch classes are named in an experiment file.
///
/// Besides serde's derive (internally tagged, for use from Rust), it generates:
/// - `TYPES`: every class name, for "did you mean" suggestions;
/// - `type_name()`: the class name of a value;
/// - `fields_of(ty)`: the argument names of a class;
/// - `deserialize_as(ty, d)`: the config of class `ty` from any deserializer, so the
///   caller can track key paths and spans through it (`None` for an unknown class).
#[macro_export]
macro_rules! tagged_config {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($cfg:ty) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "type")]
        $vis enum $name {
            $( $(#[$vmeta])* $variant($cfg) ),+
        }

        impl $name {
            /// Every class name this catalog knows.
            pub const TYPES: &'static [&'static str] = &[$(stringify!($variant)),+];

            /// The PyTorch class name of this config.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => stringify!($variant) ),+
                }
            }

            /// The argument names of class `ty`, or `None` for an unknown class.
            pub fn fields_of(ty: &str) -> Option<&'static [&'static str]> {
                match ty {
                    $( stringify!($variant) => Some($crate::struct_fields::<$cfg>()), )+
                    _ => None,
                }
            }

            /// Deserializes the arguments of class `ty` (the table without its `type`
            /// key); `None` when `ty` is not in the catalog.
            pub fn deserialize_as<'de, D: serde::Deserializer<'de>>(
                ty: &str,
                d: D,
            ) -> Option<Result<Self, D::Error>> {
                match ty {
                    $( stringify!($variant) => Some(
                        <$cfg as serde::Deserialize>::deserialize(d).map(Self::$variant)
                    ), )+
                    _ => None,
                }
            }
        }
    };
}
