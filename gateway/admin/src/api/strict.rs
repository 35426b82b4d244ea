//! Strict reading of JSON request bodies.
//!
//! serde's derived structs also accept a JSON array, read field by field in
//! declaration order, at every depth: `{"unit": ["2024", "00001"]}` would
//! name a unit and `{"contacts": {"office_lead": ["Ngọc", null]}}` a
//! contact. A body is a document people write by hand and tools generate,
//! so a value in the wrong shape must be refused, not reinterpreted: this
//! wrapper around serde_json's deserializer accepts only an object where a
//! struct is expected (lists are already only read from arrays), and
//! remembers where in the body the first error was, so that the problem
//! names the field (`contacts.office_lead`, `numbers[2]`, or the unknown
//! field itself).

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};

/// Where a value sits in the body.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Key(&'a Seg<'a>, &'a str),
    Index(&'a Seg<'a>, usize),
}

impl fmt::Display for Seg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Root => Ok(()),
            Seg::Key(Seg::Root, k) => f.write_str(k),
            Seg::Key(parent, k) => write!(f, "{parent}.{k}"),
            Seg::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// The path of the innermost value an error came out of (errors propagate
/// outwards, so the first one noted is the most precise).
#[derive(Default)]
struct Track(RefCell<Option<String>>);

impl Track {
    fn note(&self, at: &Seg<'_>) {
        let mut slot = self.0.borrow_mut();
        if slot.is_none() {
            *slot = Some(at.to_string());
        }
    }
}

/// A body that did not deserialize, and the field at fault when there is
/// one (`None`: the body as a whole).
pub(crate) struct BodyError {
    pub error: serde_json::Error,
    pub field: Option<String>,
    /// The body is JSON, but not of the expected shape (serde_json reports
    /// some of those, such as an array for an enum, as syntax errors).
    pub shape: bool,
}

/// Reads `T` from a JSON body, objects only where a struct is expected.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let track = Track::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(Strict {
        de: &mut de,
        seg: &Seg::Root,
        track: &track,
        key: None,
    })
    .and_then(|v| de.end().map(|()| v));
    value.map_err(|error| {
        let mut field = track.0.into_inner().filter(|f| !f.is_empty());
        // serde names a missing field only in its message.
        if let Some(missing) = backticked(&error.to_string(), "missing field `") {
            field = Some(match field {
                Some(parent) => format!("{parent}.{missing}"),
                None => missing,
            });
        }
        let shape = matches!(error.classify(), serde_json::error::Category::Data)
            || serde_json::from_slice::<de::IgnoredAny>(bytes).is_ok();
        BodyError {
            error,
            field,
            shape,
        }
    })
}

fn backticked(message: &str, after: &str) -> Option<String> {
    let rest = message.strip_prefix(after)?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The deserializer of one value at `seg`. With `key`, it is a map key
/// and the key's text is kept there (so an unknown field can be named).
struct Strict<'a, D> {
    de: D,
    seg: &'a Seg<'a>,
    track: &'a Track,
    key: Option<&'a RefCell<Option<String>>>,
}

impl<'a, D> Strict<'a, D> {
    fn visitor<V>(&self, inner: V, object: bool) -> Wrap<'a, V> {
        Wrap {
            inner,
            seg: self.seg,
            track: self.track,
            key: self.key,
            object,
        }
    }
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            let v = self.visitor(visitor, false);
            self.de.$method($($arg,)* v)
        }
    )*};
}

impl<'de, 'a, D: Deserializer<'de>> Deserializer<'de> for Strict<'a, D> {
    type Error = D::Error;

    forward!(
        deserialize_any(),
        deserialize_bool(),
        deserialize_i8(),
        deserialize_i16(),
        deserialize_i32(),
        deserialize_i64(),
        deserialize_i128(),
        deserialize_u8(),
        deserialize_u16(),
        deserialize_u32(),
        deserialize_u64(),
        deserialize_u128(),
        deserialize_f32(),
        deserialize_f64(),
        deserialize_char(),
        deserialize_str(),
        deserialize_string(),
        deserialize_bytes(),
        deserialize_byte_buf(),
        deserialize_option(),
        deserialize_unit(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_seq(),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
        deserialize_identifier(),
        deserialize_ignored_any(),
    );

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = self.visitor(visitor, true);
        self.de.deserialize_struct(name, fields, v)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// The visitor of a value at `seg`: hands the nested accessors on wrapped,
/// and refuses an array for a struct (`object`).
struct Wrap<'a, V> {
    inner: V,
    seg: &'a Seg<'a>,
    track: &'a Track,
    key: Option<&'a RefCell<Option<String>>>,
    object: bool,
}

impl<V> Wrap<'_, V> {
    fn keep_key(&self, k: &str) {
        if let Some(slot) = self.key {
            *slot.borrow_mut() = Some(k.to_string());
        }
    }
}

macro_rules! visit {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.object {
            f.write_str("a JSON object")
        } else {
            self.inner.expecting(f)
        }
    }

    visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.keep_key(v);
        self.inner.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.keep_key(v);
        self.inner.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.keep_key(&v);
        self.inner.visit_string(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Strict {
            de: d,
            seg: self.seg,
            track: self.track,
            key: self.key,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Strict {
            de: d,
            seg: self.seg,
            track: self.track,
            key: self.key,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if self.object {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        self.inner.visit_seq(Seq {
            seq,
            seg: self.seg,
            track: self.track,
            index: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(Map {
            map,
            seg: self.seg,
            track: self.track,
            key: None,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(Enum {
            data,
            seg: self.seg,
            track: self.track,
        })
    }
}

/// A seed for the value at `seg`; notes `seg` when it fails (map keys are
/// noted by [`Map`], which knows the key's text).
struct Seed<'a, S> {
    seed: S,
    seg: &'a Seg<'a>,
    track: &'a Track,
    key: Option<&'a RefCell<Option<String>>>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        let (seg, track, is_key) = (self.seg, self.track, self.key.is_some());
        self.seed
            .deserialize(Strict {
                de: d,
                seg,
                track,
                key: self.key,
            })
            .inspect_err(|_| {
                if !is_key {
                    track.note(seg);
                }
            })
    }
}

struct Seq<'a, A> {
    seq: A,
    seg: &'a Seg<'a>,
    track: &'a Track,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seg = Seg::Index(self.seg, self.index);
        self.index += 1;
        self.seq.next_element_seed(Seed {
            seed,
            seg: &seg,
            track: self.track,
            key: None,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct Map<'a, A> {
    map: A,
    seg: &'a Seg<'a>,
    track: &'a Track,
    /// The text of the last key read, for the path of its value.
    key: Option<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let slot = RefCell::new(None);
        let got = self.map.next_key_seed(Seed {
            seed,
            seg: self.seg,
            track: self.track,
            key: Some(&slot),
        });
        self.key = slot.into_inner();
        if got.is_err() {
            // An unknown field: the path names the field itself.
            match &self.key {
                Some(k) => self.track.note(&Seg::Key(self.seg, k)),
                None => self.track.note(self.seg),
            }
        }
        got
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let key = self.key.take().unwrap_or_default();
        let seg = Seg::Key(self.seg, &key);
        self.map.next_value_seed(Seed {
            seed,
            seg: &seg,
            track: self.track,
            key: None,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

struct Enum<'a, A> {
    data: A,
    seg: &'a Seg<'a>,
    track: &'a Track,
}

impl<'a, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<'a, A> {
    type Error = A::Error;
    type Variant = Variant<'a, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (seg, track) = (self.seg, self.track);
        let (value, variant) = self.data.variant_seed(Seed {
            seed,
            seg,
            track,
            key: None,
        })?;
        Ok((
            value,
            Variant {
                variant,
                seg,
                track,
            },
        ))
    }
}

struct Variant<'a, A> {
    variant: A,
    seg: &'a Seg<'a>,
    track: &'a Track,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.variant.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.variant.newtype_variant_seed(Seed {
            seed,
            seg: self.seg,
            track: self.track,
            key: None,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.variant.tuple_variant(
            len,
            Wrap {
                inner: visitor,
                seg: self.seg,
                track: self.track,
                key: None,
                object: false,
            },
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.variant.struct_variant(
            fields,
            Wrap {
                inner: visitor,
                seg: self.seg,
                track: self.track,
                key: None,
                object: true,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        name: String,
        #[serde(default)]
        phone: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        numbers: Vec<String>,
        #[serde(default)]
        pair: Option<(u8, u8)>,
        #[serde(default)]
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Plain,
        Spec { level: u8 },
    }

    fn read(json: &str) -> Result<Outer, (String, Option<String>)> {
        from_slice::<Outer>(json.as_bytes()).map_err(|e| (e.error.to_string(), e.field))
    }

    #[test]
    fn objects_are_read_at_every_depth() {
        let o = read(
            r#"{"inner": {"name": "Hà", "phone": null}, "list": [{"name": "a"}],
                "numbers": ["1", "2"], "pair": [1, 2], "kind": {"spec": {"level": 3}}}"#,
        )
        .unwrap();
        assert_eq!(o.inner.unwrap().name, "Hà");
        assert_eq!(o.list[0].name, "a");
        assert_eq!(o.numbers, ["1", "2"]);
        // A tuple is a list: an array is its only form.
        assert_eq!(o.pair, Some((1, 2)));
        assert_eq!(o.kind, Some(Kind::Spec { level: 3 }));
        assert_eq!(
            read(r#"{"kind": "plain"}"#).unwrap().kind,
            Some(Kind::Plain)
        );
    }

    #[test]
    fn an_array_for_a_struct_is_refused_where_it_is() {
        for (json, field) in [
            (r#"["x"]"#, None),
            (r#"{"inner": ["Hà", null]}"#, Some("inner")),
            (r#"{"list": [{"name": "a"}, ["b"]]}"#, Some("list[1]")),
            (r#"{"kind": {"spec": [3]}}"#, Some("kind")),
        ] {
            let (msg, at) = read(json).unwrap_err();
            assert!(msg.contains("expected a JSON object"), "{json}: {msg}");
            assert_eq!(at.as_deref(), field, "{json}: {msg}");
        }
    }

    #[test]
    fn unknown_and_missing_fields_and_wrong_kinds_are_named() {
        for (json, field, says) in [
            (r#"{"colour": 1}"#, "colour", "unknown field `colour`"),
            (
                r#"{"inner": {"name": "a", "fax": "1"}}"#,
                "inner.fax",
                "unknown field `fax`",
            ),
            (
                r#"{"list": [{"name": "a"}, {"nom": "b"}]}"#,
                "list[1].nom",
                "unknown field `nom`",
            ),
            (r#"{"inner": {}}"#, "inner.name", "missing field `name`"),
            (r#"{"numbers": "100"}"#, "numbers", "expected a sequence"),
            (
                r#"{"numbers": {"0": "1"}}"#,
                "numbers",
                "expected a sequence",
            ),
            (
                r#"{"numbers": ["1", 2]}"#,
                "numbers[1]",
                "expected a string",
            ),
            (
                r#"{"inner": {"name": 7}}"#,
                "inner.name",
                "expected a string",
            ),
        ] {
            let (msg, at) = read(json).unwrap_err();
            assert!(msg.contains(says), "{json}: {msg}");
            assert_eq!(at.as_deref(), Some(field), "{json}: {msg}");
        }
    }

    #[test]
    fn trailing_data_and_syntax_errors_are_not_shape_errors() {
        for bad in [
            &b"{} {}"[..],
            br#"{"inner": {"name": "#,
            br#"{"kind": [1,}"#,
        ] {
            let e = from_slice::<Outer>(bad).err().unwrap();
            assert!(!e.shape, "{}", e.error);
        }
        // An array for an enum is well-formed JSON of the wrong shape, though
        // serde_json calls it a syntax error.
        let e = from_slice::<Outer>(br#"{"kind": ["plain"]}"#)
            .err()
            .unwrap();
        assert!(e.shape, "{}", e.error);
        assert_eq!(e.field.as_deref(), Some("kind"));
    }
}
