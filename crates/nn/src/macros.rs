//! Macros shared by the layer files.

/// Declares a layer's config struct with PyTorch's argument names; a missing key
/// takes PyTorch's default.
macro_rules! config {
    ($(#[$m:meta])* $cfg:ident { $( $(#[$fm:meta])* $field:ident : $ty:ty = $default:expr ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $cfg { $( $(#[$fm])* pub $field: $ty ),* }
        impl Default for $cfg {
            fn default() -> Self {
                Self { $( $field: $default ),* }
            }
        }
    };
}
