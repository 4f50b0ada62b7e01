//! Small readers of a JSON value, each naming where it looked (`value[0][1]["orders/0"]`), so
//! an error says which part of an op's value is wrong. Shared by the op bodies' decoder and
//! the final state's.

use super::keys::{KeyId, Keys};
use serde_json::{Map, Value};

/// Where in a value a reader looked: built without allocating, printed only on error, e.g.
/// `value[0][1]["orders/0"][3]`.
#[derive(Clone, Copy)]
pub(crate) enum At<'p> {
    Root(&'static str),
    Index(&'p At<'p>, usize),
    Field(&'p At<'p>, &'p str),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(name) => f.write_str(name),
            At::Index(parent, index) => write!(f, "{parent}[{index}]"),
            At::Field(parent, name) => {
                if name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    write!(f, "{parent}.{name}")
                } else {
                    write!(f, "{parent}[{name:?}]")
                }
            }
        }
    }
}

pub(crate) fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn object<'v>(value: &'v Value, at: &At<'_>) -> Result<&'v Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{at}: expected an object, found {}", shape(value)))
}

pub(crate) fn array<'v>(value: &'v Value, at: &At<'_>) -> Result<&'v Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("{at}: expected a list, found {}", shape(value)))
}

pub(crate) fn field<'v>(
    map: &'v Map<String, Value>,
    name: &str,
    at: &At<'_>,
) -> Result<&'v Value, String> {
    map.get(name)
        .ok_or_else(|| format!("{at}: missing field \"{name}\""))
}

pub(crate) fn only_fields(
    map: &Map<String, Value>,
    known: &[&str],
    at: &At<'_>,
) -> Result<(), String> {
    for name in map.keys() {
        if !known.contains(&name.as_str()) {
            return Err(format!(
                "{at}: unknown field {name:?} (known: {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

pub(crate) fn string_of<'v>(value: &'v Value, at: &At<'_>) -> Result<&'v str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("{at}: expected a string, found {}", shape(value)))
}

pub(crate) fn integer_of(value: &Value, at: &At<'_>) -> Result<i64, String> {
    value
        .as_i64()
        .ok_or_else(|| format!("{at}: expected an integer value, found {value}"))
}

pub(crate) fn offset_of(value: &Value, at: &At<'_>) -> Result<u64, String> {
    value
        .as_u64()
        .ok_or_else(|| format!("{at}: expected a non-negative integer, found {value}"))
}

pub(crate) fn intern(keys: &mut Keys, name: &str, at: &At<'_>) -> Result<KeyId, String> {
    if name.is_empty() {
        return Err(format!(
            "{at}: a key must not be empty (keys look like \"orders/0\")"
        ));
    }
    Ok(keys.intern(name))
}

/// A key written as a string (`"orders/0"`) or, as Jepsen's Kafka workload writes them, as a
/// non-negative integer (`3`, read as the key `"3"`, which is also how a poll's JSON object
/// names it).
pub(crate) fn key_of(keys: &mut Keys, value: &Value, at: &At<'_>) -> Result<KeyId, String> {
    match value {
        Value::String(name) => intern(keys, name, at),
        Value::Number(number) if number.is_u64() => intern(keys, &number.to_string(), at),
        other => Err(format!(
            "{at}: expected a key (a string like \"orders/0\" or an integer), found {}",
            shape(other)
        )),
    }
}
