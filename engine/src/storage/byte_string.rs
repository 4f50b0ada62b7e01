//! Byte strings encoded as bytes rather than as sequences of numbers, for `#[serde(with)]` (here,
//! below the wire, because record batches and the wire protocol both use it).
//! postcard writes both the same way — a varint length, then the bytes — so the encoding on the
//! wire and on disk does not change, but a sequence goes through serde one `u8` at a time: in a
//! profile of `faultline bench produce` that was the brokers' and the producers' top cost.
//! A self-describing format reads either form back (a byte string, or a sequence of numbers).

use serde::de::{Error, SeqAccess, Visitor};
use serde::{Deserializer, Serialize, Serializer};
use std::fmt;

/// One byte string: `#[serde(with = "crate::storage::byte_string")]`.
pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    deserializer.deserialize_byte_buf(ByteString)
}

struct ByteString;

impl<'de> Visitor<'de> for ByteString {
    type Value = Vec<u8>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a byte string")
    }

    fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        Ok(bytes.to_vec())
    }

    fn visit_byte_buf<E: Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(bytes)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        // Bounded by the input: each element is one byte of it.
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Ok(bytes)
    }
}

/// A list of byte strings: `#[serde(with = "crate::storage::byte_string::list")]`.
pub mod list {
    use super::ByteString;
    use serde::de::{DeserializeSeed, SeqAccess, Visitor};
    use serde::ser::SerializeSeq;
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(list: &[Vec<u8>], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(list.len()))?;
        for bytes in list {
            seq.serialize_element(&super::Bytes(bytes))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Vec<u8>>, D::Error> {
        deserializer.deserialize_seq(List)
    }

    struct List;

    impl<'de> Visitor<'de> for List {
        type Value = Vec<Vec<u8>>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a list of byte strings")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Vec<u8>>, A::Error> {
            let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 10));
            while let Some(bytes) = seq.next_element_seed(Element)? {
                list.push(bytes);
            }
            Ok(list)
        }
    }

    struct Element;

    impl<'de> DeserializeSeed<'de> for Element {
        type Value = Vec<u8>;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<u8>, D::Error> {
            deserializer.deserialize_byte_buf(ByteString)
        }
    }
}

/// A borrowed byte string that serializes as bytes.
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct AsSequences {
        value: Vec<u8>,
        list: Vec<Vec<u8>>,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct AsBytes {
        #[serde(with = "super")]
        value: Vec<u8>,
        #[serde(with = "super::list")]
        list: Vec<Vec<u8>>,
    }

    #[test]
    fn postcard_encodes_the_same_either_way_and_reads_it_back() {
        let value: Vec<u8> = (0..=255).collect();
        let list = vec![vec![], vec![7], value.clone()];
        let sequences = AsSequences {
            value: value.clone(),
            list: list.clone(),
        };
        let bytes = AsBytes { value, list };
        let postcard = postcard::to_stdvec(&sequences).expect("encodes");
        assert_eq!(postcard, postcard::to_stdvec(&bytes).expect("encodes"));
        assert_eq!(postcard::from_bytes::<AsBytes>(&postcard), Ok(bytes));
    }
}
