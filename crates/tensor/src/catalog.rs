//! Open catalogs: the classes an experiment file can name (`type = "Linear"`), each a
//! name bound to a config type, with built-ins and a user's own registered the same way.
//!
//! A [`Catalog<S>`] maps class names to decoders producing `Box<S>`, where `S` is a
//! catalog's trait object (`dyn LayerSpec` for layers). A [`Tagged<S>`] is one decoded
//! entry: its class name and its config, serialized as a table with a `type` key
//! (`{ type = "Linear", out_features = 10 }`) exactly as the file writes it.
//!
//! Decoding goes through [`erased_serde`], so a caller can deserialize a config from any
//! deserializer (the runner wraps one that tracks key paths); nested configs (the
//! layers of a `Sequential`) are decoded through the catalog in force on the current
//! thread ([`Catalog::enter`]), else the built-ins of the catalog's kind
//! ([`Kind::builtins`]).
//!
//! candle and the serde ecosystem have no such registry: `typetag` registers at link
//! time and cannot list a class's arguments for suggestions, or refuse a name
//! registered twice; hence this module.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// The decoder of one class: deserializes its arguments (the table without `type`).
pub type DecodeFn<S> =
    fn(&mut dyn erased_serde::Deserializer<'_>) -> Result<Box<S>, erased_serde::Error>;

/// The trait object of a catalog (`dyn LayerSpec`, `dyn LossSpec`): what every config of
/// the catalog can do besides its own methods.
pub trait Kind: Send + Sync + 'static {
    /// What the catalog holds, for messages ("layer", "loss").
    const WHAT: &'static str;
    /// The built-in catalog, used where no other is in force.
    fn builtins() -> Arc<Catalog<Self>>;
    /// A copy of the config.
    fn clone_boxed(&self) -> Box<Self>;
    /// The config's arguments, for serialization.
    fn args(&self) -> &dyn erased_serde::Serialize;
    /// The config as `Any`, for downcasting to its concrete type.
    fn any(&self) -> &dyn Any;
    /// The config as mutable `Any`.
    fn any_mut(&mut self) -> &mut dyn Any;
}

/// One class of a catalog.
pub struct Entry<S: ?Sized> {
    /// The class's argument names (for suggestions and unknown-argument errors).
    pub fields: &'static [&'static str],
    /// The decoder.
    pub decode: DecodeFn<S>,
}

impl<S: ?Sized> Clone for Entry<S> {
    fn clone(&self) -> Self {
        Self {
            fields: self.fields,
            decode: self.decode,
        }
    }
}

/// A class name registered twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {what} `{name}` is registered twice")]
pub struct DuplicateName {
    /// What the catalog holds ("layer").
    pub what: &'static str,
    /// The name.
    pub name: String,
}

/// Class names and their decoders (see the module doc).
pub struct Catalog<S: ?Sized> {
    entries: BTreeMap<&'static str, Entry<S>>,
}

impl<S: ?Sized> Clone for Catalog<S> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
        }
    }
}

impl<S: ?Sized> Default for Catalog<S> {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
        }
    }
}

impl<S: ?Sized> fmt::Debug for Catalog<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.entries.keys()).finish()
    }
}

impl<S: ?Sized + Kind> Catalog<S> {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers class `name`. A name already present is an error.
    pub fn insert(
        &mut self,
        name: &'static str,
        fields: &'static [&'static str],
        decode: DecodeFn<S>,
    ) -> Result<(), DuplicateName> {
        if self.entries.contains_key(name) {
            return Err(DuplicateName {
                what: S::WHAT,
                name: name.to_string(),
            });
        }
        self.entries.insert(name, Entry { fields, decode });
        Ok(())
    }

    /// Every class name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.keys().copied()
    }

    /// Whether class `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The argument names of class `name`, or `None` for an unknown class.
    pub fn fields_of(&self, name: &str) -> Option<&'static [&'static str]> {
        self.entries.get(name).map(|e| e.fields)
    }

    /// Decodes the arguments of class `name` from `de` (a table without its `type`
    /// key); `None` for an unknown class.
    pub fn decode<'de, D: serde::Deserializer<'de>>(
        &self,
        name: &str,
        de: D,
    ) -> Option<Result<Tagged<S>, D::Error>> {
        let (ty, entry) = self.entries.get_key_value(name)?;
        let mut erased = <dyn erased_serde::Deserializer>::erase(de);
        Some(
            (entry.decode)(&mut erased)
                .map(|spec| Tagged { ty, spec })
                .map_err(serde::de::Error::custom),
        )
    }

    /// Runs `f` with this catalog in force on the current thread: nested configs
    /// (`Tagged<S>` inside other configs) decode through it.
    pub fn enter<R>(self: &Arc<Self>, f: impl FnOnce() -> R) -> R {
        let key = TypeId::of::<Catalog<S>>();
        let prev = CURRENT.with(|c| {
            c.borrow_mut()
                .insert(key, self.clone() as Arc<dyn Any + Send + Sync>)
        });
        struct Restore(TypeId, Option<Arc<dyn Any + Send + Sync>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| {
                    let mut c = c.borrow_mut();
                    match self.1.take() {
                        Some(p) => c.insert(self.0, p),
                        None => c.remove(&self.0),
                    };
                });
            }
        }
        let _restore = Restore(key, prev);
        f()
    }

    /// The catalog in force on this thread ([`Catalog::enter`]), else the built-ins.
    pub fn current() -> Arc<Self> {
        let key = TypeId::of::<Catalog<S>>();
        CURRENT
            .with(|c| c.borrow().get(&key).cloned())
            .and_then(|a| a.downcast::<Self>().ok())
            .unwrap_or_else(S::builtins)
    }
}

thread_local! {
    static CURRENT: RefCell<HashMap<TypeId, Arc<dyn Any + Send + Sync>>> =
        RefCell::new(HashMap::new());
}

/// The decoder of config type `C` as catalog `S`'s trait object; `into` is the
/// unsizing coercion (`|c| Box::new(c)`), which generic code cannot spell.
pub fn decode_with<C: DeserializeOwned, S: ?Sized>(
    de: &mut dyn erased_serde::Deserializer<'_>,
    into: fn(C) -> Box<S>,
) -> Result<Box<S>, erased_serde::Error> {
    erased_serde::deserialize::<C>(de).map(into)
}

/// One config of catalog `S` with its class name: `{ type = "Linear", ... }`.
pub struct Tagged<S: ?Sized> {
    ty: &'static str,
    spec: Box<S>,
}

impl<S: ?Sized + Kind> Tagged<S> {
    /// A config of class `ty`.
    pub fn from_box(ty: &'static str, spec: Box<S>) -> Self {
        Self { ty, spec }
    }

    /// The class name (`"Linear"`).
    pub fn type_name(&self) -> &'static str {
        self.ty
    }

    /// The config.
    pub fn spec(&self) -> &S {
        &self.spec
    }

    /// The config, mutably.
    pub fn spec_mut(&mut self) -> &mut S {
        &mut self.spec
    }

    /// The config as its concrete type, if it is a `C`.
    pub fn downcast_ref<C: 'static>(&self) -> Option<&C> {
        self.spec.any().downcast_ref()
    }

    /// The config as its concrete type, mutably, if it is a `C`.
    pub fn downcast_mut<C: 'static>(&mut self) -> Option<&mut C> {
        self.spec.any_mut().downcast_mut()
    }

    /// The arguments as a TOML table (without `type`).
    pub fn args_table(&self) -> toml::Table {
        match toml::Value::try_from(self.spec.args()) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        }
    }
}

impl<S: ?Sized + Kind> std::ops::Deref for Tagged<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.spec
    }
}

impl<S: ?Sized + Kind> std::ops::DerefMut for Tagged<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.spec
    }
}

impl<S: ?Sized + Kind> Clone for Tagged<S> {
    fn clone(&self) -> Self {
        Self {
            ty: self.ty,
            spec: self.spec.clone_boxed(),
        }
    }
}

impl<S: ?Sized + Kind> PartialEq for Tagged<S> {
    fn eq(&self, other: &Self) -> bool {
        self.ty == other.ty && self.args_table() == other.args_table()
    }
}

impl<S: ?Sized + Kind> fmt::Debug for Tagged<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:?}", self.ty, self.args_table())
    }
}

impl<S: ?Sized + Kind> Serialize for Tagged<S> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let args = toml::Value::try_from(self.spec.args()).map_err(serde::ser::Error::custom)?;
        let mut table = toml::Table::new();
        table.insert("type".into(), toml::Value::String(self.ty.into()));
        if let toml::Value::Table(t) = args {
            table.extend(t);
        }
        table.serialize(s)
    }
}

impl<'de, S: ?Sized + Kind> Deserialize<'de> for Tagged<S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        use serde_value::Value;
        // any value of serde's data model (`null`, NaN) survives the buffering
        let mut table = match Value::deserialize(d)? {
            Value::Map(m) => m,
            other => {
                return Err(D::Error::custom(format!(
                    "expected a {} table like {{ type = \"...\" }}, found {other:?}",
                    S::WHAT
                )))
            }
        };
        let ty = match table.remove(&Value::String("type".into())) {
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`type` must be a string, found {other:?}"
                )))
            }
            None => return Err(D::Error::custom(format!("this {} has no `type`", S::WHAT))),
        };
        let catalog = Catalog::<S>::current();
        let args = serde_value::ValueDeserializer::<ArgError>::new(Value::Map(table));
        match catalog.decode(&ty, args) {
            Some(r) => r.map_err(D::Error::custom),
            None => {
                let known: Vec<_> = catalog.names().collect();
                Err(D::Error::custom(format!(
                    "unknown {} type `{ty}`{}",
                    S::WHAT,
                    suggestion(&ty, &known)
                )))
            }
        }
    }
}

/// An error decoding buffered arguments, with serde's own wording ("unknown field
/// `x`, expected one of ..."), which diagnostics read their suggestions from.
#[derive(Debug)]
struct ArgError(String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

impl serde::de::Error for ArgError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// `", did you mean `X`?"` for the closest known name, if one is close.
fn suggestion(word: &str, known: &[&str]) -> String {
    match suggest(word, known.iter().copied()) {
        Some(k) => format!(", did you mean `{k}`?"),
        None => String::new(),
    }
}

/// The candidate closest to `word` (same letters ignoring case, else within a third of
/// its length in Damerau-Levenshtein distance), for "did you mean" help.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c.to_lowercase() == lower {
            return Some(c);
        }
        let d = strsim::damerau_levenshtein(&lower, &c.to_lowercase());
        let limit = (word.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Implements the plumbing of an open catalog for the trait `$spec` (declared by the
/// catalog's crate with `DynClone + erased_serde::Serialize + Any + Debug + Send +
/// Sync` as supertraits):
/// - `Clone` for boxed configs and [`Kind`] for `dyn $spec`;
/// - the registering trait `$register` whose method `$method::<C>(name)` adds a config
///   type `C` to a catalog;
/// - `$ctor(name, config)`, a tagged config from a value of its type;
/// - for each built-in `Name(Config)`, `From<Config>` for the tagged config, and
///   `$builtins(catalog)`, which registers them all as a user's crate registers its
///   own (the built-in catalog, [`Kind::builtins`], is made by it).
#[macro_export]
macro_rules! open_catalog {
    (
        spec = $spec:ident, what = $what:literal,
        register = $register:ident :: $method:ident, constructor = $ctor:ident,
        builtins = $builtins:ident { $( $name:ident($cfg:ty) ),* $(,)? } $(,)?
    ) => {
        $crate::dyn_clone::clone_trait_object!($spec);

        impl $crate::catalog::Kind for dyn $spec {
            const WHAT: &'static str = $what;
            fn builtins() -> std::sync::Arc<$crate::catalog::Catalog<Self>> {
                static BUILTINS: std::sync::OnceLock<
                    std::sync::Arc<$crate::catalog::Catalog<dyn $spec>>,
                > = std::sync::OnceLock::new();
                BUILTINS
                    .get_or_init(|| {
                        let mut c = $crate::catalog::Catalog::new();
                        // the built-in names are distinct: registering them cannot fail
                        let _ = $builtins(&mut c);
                        std::sync::Arc::new(c)
                    })
                    .clone()
            }
            fn clone_boxed(&self) -> Box<Self> {
                $crate::dyn_clone::clone_box(self)
            }
            fn args(&self) -> &dyn $crate::erased_serde::Serialize {
                self
            }
            fn any(&self) -> &dyn std::any::Any {
                self
            }
            fn any_mut(&mut self) -> &mut dyn std::any::Any {
                self
            }
        }

        #[doc = concat!("Registering ", $what, " classes: `catalog.", stringify!($method), "::<MyConfig>(\"MyName\")`.")]
        pub trait $register {
            #[doc = concat!("Registers config type `C` as the ", $what, " class `name`.")]
            ///
            /// # Errors
            /// A name already registered.
            fn $method<C: $spec + serde::de::DeserializeOwned>(
                &mut self,
                name: &'static str,
            ) -> std::result::Result<&mut Self, $crate::catalog::DuplicateName>;
        }

        impl $register for $crate::catalog::Catalog<dyn $spec> {
            fn $method<C: $spec + serde::de::DeserializeOwned>(
                &mut self,
                name: &'static str,
            ) -> std::result::Result<&mut Self, $crate::catalog::DuplicateName> {
                self.insert(name, $crate::struct_fields::<C>(), |d| {
                    $crate::catalog::decode_with::<C, dyn $spec>(d, |c| Box::new(c))
                })?;
                Ok(self)
            }
        }

        #[doc = concat!("A ", $what, " config of class `name` from a value of its config type.")]
        pub fn $ctor(name: &'static str, spec: impl $spec) -> $crate::catalog::Tagged<dyn $spec> {
            $crate::catalog::Tagged::from_box(name, Box::new(spec))
        }

        $(
            impl From<$cfg> for $crate::catalog::Tagged<dyn $spec> {
                fn from(c: $cfg) -> Self {
                    $ctor(stringify!($name), c)
                }
            }
        )*

        #[doc = concat!("Registers wick's own ", $what, " classes in `catalog`, as a user's crate registers its own.")]
        ///
        /// # Errors
        /// A class of the same name is already there.
        pub fn $builtins(
            catalog: &mut $crate::catalog::Catalog<dyn $spec>,
        ) -> std::result::Result<(), $crate::catalog::DuplicateName> {
            $( catalog.$method::<$cfg>(stringify!($name))?; )*
            Ok(())
        }
    };
}
