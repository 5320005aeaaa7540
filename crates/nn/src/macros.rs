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

/// Declares the config of a class that shares its arguments with another
/// (`BatchNorm2d` with `BatchNorm1d`): a newtype over the shared struct, written in a
/// file exactly as the struct is, so that each class has a config type of its own to
/// register.
macro_rules! variant_config {
    ($(#[$m:meta])* $name:ident($inner:ty)) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);
        impl std::ops::Deref for $name {
            type Target = $inner;
            fn deref(&self) -> &$inner {
                &self.0
            }
        }
        impl std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut $inner {
                &mut self.0
            }
        }
    };
}
