//! Declarative macros shared by the model modules.

/// Declares a protocol string enum: known variants with their wire strings (and read aliases), plus
/// an `Unknown(String)` variant that preserves any other value verbatim.
///
/// Generates `as_str`, `Display`, `FromStr` (infallible), `From<&str>`, `From<String>`,
/// `Serialize`, `Deserialize`, `is_known`, a `KNOWN` list and its `known_names`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal $(| $alias:literal)*
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[doc = concat!("Wire value `", $wire, "`.")]
                $variant,
            )+
            /// A value this version does not know, preserved verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every known variant, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire strings of [`Self::KNOWN`], in declaration order: the one list that
            /// checks and documents (the OpenAPI `enum`) of this type read.
            pub fn known_names() -> Vec<&'static str> {
                vec![$($wire),+]
            }

            /// The wire string of this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Unknown(s) => s.as_str(),
                }
            }

            /// Whether this is one of the values the protocol defines.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }

            /// Parses a wire string; read aliases map to their variant, anything else is `Unknown`.
            pub fn parse(s: &str) -> Self {
                match s {
                    $($wire $(| $alias)* => $name::$variant,)+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::parse(s))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::parse(s)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::parse(&s)
            }
        }

        impl From<&$name> for $name {
            fn from(v: &$name) -> Self {
                v.clone()
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Ok($name::parse(&s))
            }
        }
    };
}

/// Declares a wire model: a public struct plus a tolerant reader.
///
/// Reading goes through a `serde_json::Value`: keys listed under `aliases` are renamed to their
/// canonical key (the first alias present wins; when the canonical key is present the aliases are
/// dropped), so a body that carries a key and its synonym side by side never fails as a duplicate
/// field. Writing is the plain derived `Serialize` with canonical keys; see
/// [`crate::wire::to_superset_value`] for the superset form a server may emit.
macro_rules! wire_model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty
            ),* $(,)?
        }
        aliases { $($canon:literal <= [$($alias:literal),* $(,)?]),* $(,)? }
        also_emit { $($ecanon:literal => $eextra:literal),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(::serde::Deserialize)]
        #[serde(try_from = "::serde_json::Value")]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl $crate::wire::WireModel for $name {
            const READ_ALIASES: &'static [(&'static str, &'static [&'static str])] =
                &[$(($canon, &[$($alias),*])),*];
            const ALSO_EMIT: &'static [(&'static str, &'static str)] = &[$(($ecanon, $eextra)),*];
        }

        const _: () = {
            #[derive(::serde::Deserialize)]
            #[allow(dead_code)]
            struct Raw {
                $(
                    $(#[$fmeta])*
                    $field: $ty,
                )*
            }

            impl TryFrom<::serde_json::Value> for $name {
                type Error = ::serde_json::Error;
                fn try_from(mut value: ::serde_json::Value) -> Result<Self, Self::Error> {
                    $crate::wire::normalize_aliases(
                        &mut value,
                        <$name as $crate::wire::WireModel>::READ_ALIASES,
                    );
                    let raw: Raw = $crate::wire::from_value_with_path(value)?;
                    Ok($name { $($field: raw.$field),* })
                }
            }
        };
    };
}
