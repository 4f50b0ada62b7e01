//! Reading Jepsen's `history.edn` (design.md section 8): the history Jepsen's Kafka workload
//! writes, one op map per form, e.g.
//! `{:type :ok, :f :send, :process 3, :value [[:send 0 [5 17]]], :index 1, :time 1730000}`.
//! Each op becomes the same [`Op`] its JSON Lines form reads to, so a Jepsen history is judged
//! exactly as the same history in JSON Lines.
//!
//! Mapping: keywords become strings (`:send` -> `"send"`, `:nemesis` -> `"nemesis"`); integer
//! and keyword keys become key names (`0` -> `"0"`, `:x` -> `"x"`), as integer keys do in JSON
//! Lines; vectors, lists and sets become lists; a map's keys become strings; a tagged form
//! (`#jepsen.history.Op{...}`) is read as what it tags. `:index` may be absent (ops are counted
//! from 0) and so may `:time` (the previous op's time is used); any other field of an op
//! (`:error`, `:poll-ms`, `:rebalance-log`, ...) is ignored. A file may also hold one vector of
//! op maps. The file is read whole (EDN forms may span lines); JSON Lines are streamed.

use super::op::{Op, OpType, Process, F};
use super::read_error::{LineError, ReadError};
use super::{History, OpError, ERRORS_MAX};
use clojure_reader::edn::{self, Edn};
use serde_json::{Map, Number, Value};

/// Parses and validates an EDN history; `source_name` prefixes error messages.
pub fn parse_edn_history(text: &str, source_name: &str) -> Result<History, ReadError> {
    let invalid = |problems| ReadError::Invalid {
        source_name: source_name.to_string(),
        problems,
    };
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut rest = text;
    // The 1-based line where `rest` starts.
    let mut line = 1u64;
    let mut time = 0u64;
    loop {
        let trimmed = skip_blank(rest, &mut line);
        if trimmed.is_empty() {
            break;
        }
        rest = trimmed;
        let form_line = line;
        let (form, after) = match edn::read(rest) {
            Ok(read) => read,
            Err(error) => {
                let at = error.line.map_or(form_line, |l| form_line + l as u64 - 1);
                problems.push(LineError {
                    line: at,
                    error: OpError::Syntax(format!("not EDN: {error}")),
                });
                break;
            }
        };
        line += rest[..rest.len() - after.len()]
            .bytes()
            .filter(|&b| b == b'\n')
            .count() as u64;
        rest = after;
        let maps: Vec<&Edn> = match untag(&form) {
            Edn::Vector(items) | Edn::List(items) => items.iter().collect(),
            _ => vec![&form],
        };
        for map in maps {
            match op_of(map, ops.len() as u64, time) {
                Ok(op) => {
                    time = op.time;
                    ops.push(op);
                    lines.push(form_line);
                }
                Err(reason) => {
                    problems.push(LineError {
                        line: form_line,
                        error: OpError::Syntax(reason),
                    });
                    if problems.len() >= ERRORS_MAX {
                        return Err(invalid(problems));
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    History::from_ops(ops).map_err(|errors| {
        invalid(
            errors
                .into_iter()
                .map(|error| LineError {
                    line: lines.get(error.index as usize).copied().unwrap_or(line),
                    error: error.error,
                })
                .collect(),
        )
    })
}

/// Does this text look like EDN rather than JSON Lines? An op map in EDN starts `{:` (or is
/// tagged, or the file is one vector of ops, or opens with a comment).
pub fn looks_like_edn(head: &[u8]) -> bool {
    let mut bytes = head.iter().copied().skip_while(u8::is_ascii_whitespace);
    match bytes.next() {
        Some(b'{') => bytes.find(|b| !b.is_ascii_whitespace()) == Some(b':'),
        Some(b'#' | b'[' | b'(' | b';') => true,
        _ => false,
    }
}

/// Skips whitespace, commas and `;` comments, counting newlines.
fn skip_blank<'t>(mut text: &'t str, line: &mut u64) -> &'t str {
    loop {
        let start = text.len();
        let kept = text.trim_start_matches(|c: char| {
            if c == '\n' {
                *line += 1;
            }
            c.is_whitespace() || c == ','
        });
        text = kept;
        if let Some(comment) = text.strip_prefix(';') {
            text = comment.find('\n').map_or("", |end| &comment[end..]);
        }
        if text.len() == start {
            return text;
        }
    }
}

fn untag<'a, 'e>(form: &'a Edn<'e>) -> &'a Edn<'e> {
    match form {
        Edn::Tagged(_, inner) => untag(inner),
        other => other,
    }
}

fn keyword(name: &'static str) -> Edn<'static> {
    Edn::Key(name.into())
}

/// One op map; `position` and `time` stand in for a missing `:index` and `:time`.
fn op_of(form: &Edn<'_>, position: u64, time: u64) -> Result<Op, String> {
    let Edn::Map(map) = untag(form) else {
        return Err(format!(
            "expected an op map like {{:type :invoke, :f :send, :process 0, :value [...]}}, found {}",
            shape(form)
        ));
    };
    let field = |name: &'static str| map.get(&keyword(name)).map(untag);
    let natural = |name: &'static str, default: u64| match field(name) {
        None | Some(Edn::Nil) => Ok(default),
        Some(Edn::Int(n)) if *n >= 0 => Ok(*n as u64),
        Some(other) => Err(format!(
            ":{name}: expected a non-negative integer, found {other}"
        )),
    };
    let process = match field("process") {
        Some(Edn::Int(id)) if *id >= 0 => Process::Client(*id as u64),
        Some(Edn::Key(name)) if name == "nemesis" => Process::Nemesis,
        Some(other) => {
            return Err(format!(
                ":process: expected a client id (a non-negative integer) or :nemesis, found {other}"
            ))
        }
        None => return Err("missing :process".to_string()),
    };
    let kind = match field("type") {
        Some(Edn::Key(name)) => match name.as_ref() {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            other => {
                return Err(format!(
                    ":type: unknown type :{other} (known: :invoke, :ok, :fail, :info)"
                ))
            }
        },
        Some(other) => return Err(format!(":type: expected a keyword, found {other}")),
        None => return Err("missing :type".to_string()),
    };
    let f = match field("f") {
        Some(Edn::Key(name) | Edn::Str(name) | Edn::Symbol(name)) if !name.is_empty() => {
            F::parse(name)
        }
        Some(other) => return Err(format!(":f: expected a keyword, found {other}")),
        None => return Err("missing :f".to_string()),
    };
    Ok(Op {
        index: natural("index", position)?,
        time: natural("time", time)?,
        process,
        kind,
        f,
        value: field("value").map_or(Value::Null, json_of),
    })
}

/// The JSON reading of an EDN value (see the module header for the mapping).
fn json_of(form: &Edn<'_>) -> Value {
    match form {
        Edn::Nil => Value::Null,
        Edn::Bool(b) => Value::Bool(*b),
        Edn::Int(n) => Value::from(*n),
        Edn::Double(x) => Number::from_f64(x.into_inner()).map_or(Value::Null, Value::Number),
        Edn::Rational((n, d)) => {
            Number::from_f64(*n as f64 / *d as f64).map_or(Value::Null, Value::Number)
        }
        Edn::Str(text) | Edn::Key(text) | Edn::Symbol(text) => Value::String(text.to_string()),
        Edn::Char(c) => Value::String(c.to_string()),
        Edn::Vector(items) | Edn::List(items) => Value::Array(items.iter().map(json_of).collect()),
        Edn::Set(items) => Value::Array(items.iter().map(json_of).collect()),
        Edn::Map(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (name_of(key), json_of(value)))
                .collect::<Map<String, Value>>(),
        ),
        Edn::Tagged(_, inner) => json_of(inner),
        other => Value::String(other.to_string()),
    }
}

/// A map key as a JSON object key: strings and keywords by name, anything else as EDN text.
fn name_of(key: &Edn<'_>) -> String {
    match untag(key) {
        Edn::Str(text) | Edn::Key(text) | Edn::Symbol(text) => text.to_string(),
        other => other.to_string(),
    }
}

fn shape(form: &Edn<'_>) -> &'static str {
    match untag(form) {
        Edn::Map(_) => "a map",
        Edn::Vector(_) | Edn::List(_) => "a list",
        Edn::Set(_) => "a set",
        Edn::Nil => "nil",
        Edn::Int(_) | Edn::Double(_) | Edn::Rational(_) => "a number",
        Edn::Str(_) => "a string",
        Edn::Key(_) => "a keyword",
        _ => "another value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jepsens_shape_reads_to_the_json_lines_ops() {
        let edn = r#"{:type :invoke, :f :send, :process 3, :value [[:send 0 17]], :time 10}
{:type :ok, :f :send, :process 3, :value [[:send 0 [5 17]]], :time 20, :error nil}
; a comment, and a tagged op without :index or :time
#jepsen.history.Op{:type :invoke, :f :poll, :process :nemesis, :value [[:poll]]}
{:type :info, :f :start-partition, :process :nemesis, :value [:isolated {"n1" #{"n2"}}]}
"#;
        let ops = match parse_edn_history(edn, "h.edn") {
            Err(error) => error.to_string(),
            Ok(_) => String::new(),
        };
        // The nemesis cannot poll: the history is read, then refused for that, at line 4.
        assert!(ops.starts_with("h.edn:4: "), "{ops}");
        assert!(ops.contains("the nemesis cannot perform it"), "{ops}");

        let edn = r#"{:type :invoke, :f :send, :process 3, :value [[:send 0 17] [:send :x 18]], :time 10}
{:type :ok, :f :send, :process 3, :value [[:send 0 [5 17]] [:send :x [nil 18]]], :time 20}
{:type :invoke, :f :poll, :process 4, :value [[:poll]]}
{:type :ok, :f :poll, :process 4, :value [[:poll {0 [[5 17]], :x []}]], :poll-ms 1000}
{:type :info, :f :start-partition, :process :nemesis, :value [:isolated {"n1" #{"n2"}}]}"#;
        let history = parse_edn_history(edn, "h.edn").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(history.len(), 5);
        let ops = history
            .recorded_ops()
            .expect("an EDN history keeps its ops");
        assert_eq!(
            ops[1].value,
            serde_json::json!([["send", 0, [5, 17]], ["send", "x", [null, 18]]])
        );
        assert_eq!(
            ops[3].value,
            serde_json::json!([["poll", {"0": [[5, 17]], "x": []}]])
        );
        assert_eq!((history.op(2).index, history.op(2).time), (2, 20));
        assert_eq!(
            ops[4].value,
            serde_json::json!(["isolated", {"n1": ["n2"]}])
        );
        assert!(history.keys().id("0").is_some() && history.keys().id("x").is_some());
    }

    #[test]
    fn one_vector_of_ops_reads_too() {
        let edn = "[{:type :invoke, :f :send, :process 0, :value [[:send 1 2]]}\n {:type :fail, :f :send, :process 0, :value [[:send 1 2]]}]";
        assert_eq!(parse_edn_history(edn, "h.edn").unwrap().len(), 2);
    }

    #[test]
    fn problems_name_their_line() {
        let edn = "{:type :invoke, :f :send, :process 0, :value [[:send 1 2]]}\n\n{:type :begin, :f :send, :process 0}\n";
        let error = parse_edn_history(edn, "h.edn").unwrap_err().to_string();
        assert!(error.starts_with("h.edn:3: "), "{error}");
        assert!(error.contains("unknown type :begin"), "{error}");
        let error = parse_edn_history("{:type :invoke\n [", "h.edn")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("h.edn:"), "{error}");
        assert!(error.contains("not EDN"), "{error}");
    }

    #[test]
    fn sniffing_tells_edn_from_json_lines() {
        assert!(looks_like_edn(b"  {:type :invoke}"));
        assert!(looks_like_edn(b"#jepsen.history.Op{:type :ok}"));
        assert!(looks_like_edn(b"[{:type :ok}]"));
        assert!(!looks_like_edn(br#"{"index":0}"#));
        assert!(!looks_like_edn(b""));
    }
}
