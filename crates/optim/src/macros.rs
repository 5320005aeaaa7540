//! The config struct of an optimizer and the struct of its `param_groups` entries,
//! declared once.

/// Declares `$cfg` (every argument with its PyTorch default, plus `param_groups`) and
/// `$grp` (`params` patterns plus every argument as an optional override), and the
/// [`Rule`](crate::Rule) plumbing (`param_groups`, `with_group`, `without_groups`).
macro_rules! optimizer_config {
    (
        $(#[$m:meta])*
        pub struct $cfg:ident / $grp:ident {
            $( $(#[$fm:meta])* $field:ident : $ty:ty = $default:expr, )+
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $cfg {
            $( $(#[$fm])* pub $field: $ty, )+
            /// Parameter groups with their own hyperparameters, selected by glob
            /// patterns over parameter names (`[{ params = ["*.bias"], weight_decay = 0.0 }]`);
            /// unselected parameters keep the arguments above (default `[]`).
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub param_groups: Vec<$grp>,
        }

        impl Default for $cfg {
            fn default() -> Self {
                Self {
                    $( $field: $default, )+
                    param_groups: Vec::new(),
                }
            }
        }

        #[doc = concat!("An entry of `", stringify!($cfg), "::param_groups`: the parameters it selects ",
            "and the arguments it overrides (any argument of the optimizer).")]
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $grp {
            /// Glob patterns over parameter names: `*` any run of characters, `?` one.
            pub params: Vec<String>,
            $( $(#[$fm])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<$ty>, )+
        }

        impl $crate::groups::GroupSpec for $grp {
            fn patterns(&self) -> &[String] {
                &self.params
            }
        }

        impl $cfg {
            fn merged(&self, g: &$grp) -> Self {
                let mut c = self.unmerged();
                $( if let Some(v) = &g.$field { c.$field = v.clone(); } )+
                c
            }
            fn unmerged(&self) -> Self {
                Self {
                    $( $field: self.$field.clone(), )+
                    param_groups: Vec::new(),
                }
            }

            /// Validates the arguments (and each group's) and creates the optimizer over
            /// `params`.
            pub fn build(&self, params: Vec<wick_tensor::Param>) -> $crate::Result<$crate::Optim<Self>> {
                $crate::Optim::new(self, params)
            }

            /// Validates the arguments, and those of each group merged over them,
            /// with torch.optim's rules and messages.
            pub fn validate_all(&self) -> $crate::Result<()> {
                $crate::engine::validate_all(self)
            }
        }
    };
}

/// The [`Rule`](crate::Rule) methods every optimizer writes the same way.
macro_rules! rule_plumbing {
    ($grp:ident) => {
        type Group = $grp;
        fn param_groups(&self) -> &[$grp] {
            &self.param_groups
        }
        fn with_group(&self, g: &$grp) -> Self {
            self.merged(g)
        }
        fn without_groups(&self) -> Self {
            self.unmerged()
        }
        fn lr(&self) -> f64 {
            self.lr
        }
        fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
    };
}

/// `Err(Config)` with torch's message when `ok` is false.
macro_rules! check {
    ($ok:expr, $field:literal, $($fmt:tt)+) => {
        // `!(x >= 0.0)` also rejects NaN, as torch's `not 0.0 <= x` does
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let failed = !($ok);
        if failed {
            return Err($crate::Error::config($field, format!($($fmt)+)));
        }
    };
}
