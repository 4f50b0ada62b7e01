//! Where a node is in the source text. yaml_serde reports positions only on errors and has no
//! `Spanned<T>`, so semantic errors found after deserialisation are located by parsing the
//! document once more with a probe: a `DeserializeSeed` that walks the recorded path (keys and
//! list indexes) and, at the node, fails on purpose. yaml_serde stamps that failure with the
//! node's own mark, which is exactly the line and column we want, computed by the same parser
//! that read the file — flow maps, quoting and anchors included. Only the error path pays for
//! this second parse.

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use std::fmt;

/// One step from a node to its child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// The value under a key of a mapping.
    Key(String),
    /// The key itself (for "this key should not be here" errors). Only meaningful last.
    KeyItself(String),
    /// The second occurrence of a key in one mapping (for "duplicate key" errors). Only
    /// meaningful last.
    RepeatedKey(String),
    /// An element of a sequence.
    Index(usize),
}

/// A path from the document root, e.g. `faults.schedule[1].crash`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct YamlPath(pub Vec<Seg>);

impl YamlPath {
    pub fn root() -> Self {
        YamlPath(Vec::new())
    }

    /// The value under `key`.
    pub fn key(&self, key: &str) -> Self {
        self.with(Seg::Key(key.to_owned()))
    }

    /// The key `key` itself.
    pub fn key_itself(&self, key: &str) -> Self {
        self.with(Seg::KeyItself(key.to_owned()))
    }

    /// The second `key` in one mapping.
    pub fn repeated_key(&self, key: &str) -> Self {
        self.with(Seg::RepeatedKey(key.to_owned()))
    }

    /// Parses yaml_serde's path syntax (`cluster.topics[0]`, `.` for the root). Keys that
    /// contain `.` or `[` cannot be told apart from nesting; callers fall back to an ancestor.
    pub fn parse(text: &str) -> Self {
        let mut path = YamlPath::root();
        if text == "." {
            return path;
        }
        for piece in text.split('.') {
            let (key, mut indexes) = match piece.find('[') {
                Some(start) => piece.split_at(start),
                None => (piece, ""),
            };
            if !key.is_empty() {
                path = path.key(key);
            }
            while let Some(rest) = indexes.strip_prefix('[') {
                let Some((number, tail)) = rest.split_once(']') else {
                    break;
                };
                match number.parse() {
                    Ok(index) => path = path.index(index),
                    Err(_) => break,
                }
                indexes = tail;
            }
        }
        path
    }

    /// Element `index` of a sequence.
    pub fn index(&self, index: usize) -> Self {
        self.with(Seg::Index(index))
    }

    fn with(&self, seg: Seg) -> Self {
        let mut segs = self.0.clone();
        segs.push(seg);
        YamlPath(segs)
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(key) | Seg::KeyItself(key) | Seg::RepeatedKey(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Seg::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineColumn {
    pub line: usize,
    pub column: usize,
}

/// The probe's deliberate failure; any other error means the path was not found.
const FOUND: &str = "faultline-locate-found";

/// The position of the node at `path` in `source`, or of its nearest ancestor that exists,
/// or 1:1.
pub fn locate(source: &str, path: &YamlPath) -> LineColumn {
    let mut segs = path.0.as_slice();
    loop {
        if let Some(found) = locate_exact(source, segs) {
            return found;
        }
        match segs.split_last() {
            Some((_, parent)) => segs = parent,
            None => return LineColumn { line: 1, column: 1 },
        }
    }
}

/// The position of the node at `segs`, if the document has one there.
fn locate_exact(source: &str, segs: &[Seg]) -> Option<LineColumn> {
    let deserializer = yaml_serde::Deserializer::from_str(source);
    match (Probe { segs }).deserialize(deserializer) {
        Ok(()) => None,
        Err(error) if error.to_string().contains(FOUND) => {
            let location = error.location()?;
            Some(LineColumn {
                line: location.line(),
                column: location.column(),
            })
        }
        Err(_) => None,
    }
}

/// Walks `segs`; succeeds (with `()`) when the path does not exist and fails with [`FOUND`]
/// at the node when it does.
struct Probe<'a> {
    segs: &'a [Seg],
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Probe<'_> {
    fn here<E: de::Error>(&self) -> Result<(), E> {
        if self.segs.is_empty() {
            Err(E::custom(FOUND))
        } else {
            Ok(())
        }
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.here()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.here()
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.here()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.here()
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.here()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.here()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.here()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        // A YAML tag (`!foo value`): scenario files have none, so nothing to walk into.
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant::<IgnoredAny>(variant)?;
        self.here()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.segs.split_first() else {
            return Err(de::Error::custom(FOUND));
        };
        let Seg::Index(wanted) = first else {
            return Ok(());
        };
        let mut index = 0usize;
        loop {
            if index == *wanted {
                return seq.next_element_seed(Probe { segs: rest }).map(|_| ());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.segs.split_first() else {
            return Err(de::Error::custom(FOUND));
        };
        let (wanted, itself, skip) = match first {
            Seg::Key(key) => (key.as_str(), false, 0),
            Seg::KeyItself(key) => (key.as_str(), true, 0),
            Seg::RepeatedKey(key) => (key.as_str(), true, 1),
            Seg::Index(_) => return Ok(()),
        };
        let mut seen = 0usize;
        loop {
            let probe = KeyProbe {
                wanted,
                itself: itself && seen >= skip,
            };
            match map.next_key_seed(probe)? {
                None => return Ok(()),
                Some(true) if seen >= skip => return map.next_value_seed(Probe { segs: rest }),
                Some(true) => seen += 1,
                Some(false) => {}
            }
            map.next_value::<IgnoredAny>()?;
        }
    }
}

/// Reads one mapping key: `true` when it is `wanted`; fails with [`FOUND`] at the key itself
/// when `itself` is set and it matches.
struct KeyProbe<'a> {
    wanted: &'a str,
    itself: bool,
}

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl KeyProbe<'_> {
    fn matches<E: de::Error>(&self, text: &str) -> Result<bool, E> {
        if text != self.wanted {
            Ok(false)
        } else if self.itself {
            Err(E::custom(FOUND))
        } else {
            Ok(true)
        }
    }
}

impl<'de> Visitor<'de> for KeyProbe<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<bool, E> {
        self.matches(value)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<bool, E> {
        self.matches(&value.to_string())
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<bool, E> {
        self.matches(&value.to_string())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<bool, E> {
        self.matches(&value.to_string())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
name: x
cluster:
  brokers: 3
  topics:
    - {name: orders, partitions: 3}
    - name: audit
      partitions: 0
faults:
  schedule:
    - {at: 5s, crash: \"brokr-2\"}
checks: [no-loss, nope]
";

    fn at(path: YamlPath) -> (usize, usize) {
        let found = locate(DOC, &path);
        (found.line, found.column)
    }

    #[test]
    fn finds_block_and_flow_values() {
        let root = YamlPath::root();
        assert_eq!(at(root.key("name")), (1, 7));
        assert_eq!(at(root.key("cluster").key("brokers")), (3, 12));
        let topics = root.key("cluster").key("topics");
        assert_eq!(at(topics.index(0)), (5, 7));
        assert_eq!(at(topics.index(0).key("partitions")), (5, 34));
        assert_eq!(at(topics.index(1).key("partitions")), (7, 19));
        let event = root.key("faults").key("schedule").index(0);
        assert_eq!(at(event.key("crash")), (10, 23));
        assert_eq!(at(root.key("checks").index(1)), (11, 19));
    }

    #[test]
    fn finds_keys_themselves() {
        let root = YamlPath::root();
        assert_eq!(at(root.key("cluster").key_itself("brokers")), (3, 3));
        let event = root.key("faults").key("schedule").index(0);
        assert_eq!(at(event.key_itself("crash")), (10, 16));
    }

    #[test]
    fn a_missing_node_falls_back_to_its_nearest_ancestor() {
        let root = YamlPath::root();
        assert_eq!(at(root.key("cluster").key("coordinators")), (3, 3));
        assert_eq!(at(root.key("checks").index(9)), (11, 9));
        assert_eq!(at(root.key("nothing").key("deeper")), (1, 1));
    }

    #[test]
    fn finds_the_second_of_a_repeated_key() {
        let doc = "a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n";
        let found = locate(doc, &YamlPath::root().key("b").repeated_key("c"));
        assert_eq!((found.line, found.column), (5, 3));
    }

    #[test]
    fn parses_yaml_serde_paths() {
        let path = YamlPath::parse("faults.schedule[1].crash");
        assert_eq!(
            path,
            YamlPath::root()
                .key("faults")
                .key("schedule")
                .index(1)
                .key("crash")
        );
        assert_eq!(YamlPath::parse("."), YamlPath::root());
        assert_eq!(
            YamlPath::parse("a[0][2]"),
            YamlPath::root().key("a").index(0).index(2)
        );
        assert_eq!(YamlPath::parse("a[x]"), YamlPath::root().key("a"));
    }

    #[test]
    fn paths_print_like_yaml_serde_paths() {
        let path = YamlPath::root()
            .key("faults")
            .key("schedule")
            .index(1)
            .key("crash");
        assert_eq!(path.to_string(), "faults.schedule[1].crash");
        assert_eq!(YamlPath::root().to_string(), ".");
    }
}
