//! Scenario errors. Every problem with a scenario file is reported as
//! `file:LINE:COLUMN: message (hint: what to do)`, whether yaml_serde found it (syntax, unknown
//! key, wrong type) or resolve did (bad unit, out-of-range number, unknown target). The
//! variants are matchable so tests and the CLI can tell the classes apart; exit code 2 ("bad
//! input") covers all of them.

use super::locate::{locate, LineColumn, YamlPath};
use super::names::did_you_mean;
use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

/// A position in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// What is wrong, without where.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Problem {
    /// The text is not YAML (or not one YAML document).
    #[error("{message}")]
    Syntax { message: String },
    /// A key that this part of the file does not have.
    #[error("unknown key `{key}`")]
    UnknownKey { key: String, allowed: Vec<String> },
    /// A required key is absent.
    #[error("missing key `{key}`")]
    MissingKey { key: String },
    /// A value of the wrong type or shape, as yaml_serde describes it.
    #[error("{message}")]
    Shape { message: String },
    /// A duration without a known unit, or not a whole number of milliseconds.
    #[error("bad duration \"{text}\": {reason}")]
    BadDuration { text: String, reason: String },
    /// A `low..high` range that does not parse or is empty.
    #[error("bad range \"{text}\": {reason}")]
    BadRange { text: String, reason: String },
    /// A rate that is not `<count>/s`.
    #[error("bad rate \"{text}\": {reason}")]
    BadRate { text: String, reason: String },
    /// A number outside the range this field allows.
    #[error("{field} is {value}, out of range (allowed: {allowed})")]
    OutOfRange {
        field: String,
        value: String,
        allowed: String,
    },
    /// A word that is not one of a fixed set (check, anomaly, apply strategy, ...).
    #[error("unknown {what} \"{text}\"")]
    UnknownName { what: &'static str, text: String },
    /// A fault target that does not parse or names something the cluster does not have.
    #[error("unknown fault target \"{text}\"")]
    UnknownTarget { text: String },
    /// A target that exists but cannot receive this fault (e.g. `crash: client-1`).
    #[error("target \"{text}\" cannot be used for {fault}")]
    WrongTarget { text: String, fault: &'static str },
    /// Values that are fine alone but not together.
    #[error("{message}")]
    Conflict { message: String },
    /// The file is larger than a scenario may be (its size when known).
    #[error("the file is {}, larger than the {} limit for scenario files", describe_size(*.bytes), mib(*.limit as u64))]
    TooLarge { bytes: Option<u64>, limit: usize },
    /// Flow collections (`[`, `{`) nested deeper than the limit.
    #[error("flow collections nested more than {limit} deep")]
    TooDeep { limit: usize },
    /// Bytes that are not YAML text: not UTF-8, or a control character.
    #[error("{message}")]
    NotText { message: String },
    /// A text value longer than its field allows.
    #[error("{field} is {bytes} bytes long, more than the {limit} allowed")]
    TooLong {
        field: String,
        bytes: usize,
        limit: usize,
    },
}

fn describe_size(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "over the limit".to_owned(), mib)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

/// Every way loading a scenario (or a suite of them) can fail.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: cannot read: {source} (hint: check the path and its permissions)", .file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A directory given as a suite holds no scenario files.
    #[error("{}: no scenario files found (hint: a suite is a folder of *.yaml or *.yml files)", .dir.display())]
    EmptySuite { dir: PathBuf },
    /// A problem at a position in a file (boxed: errors travel through every `?`).
    #[error("{0}")]
    At(Box<Located>),
    /// Several files of a suite failed; one error per line.
    #[error("{}", render_all(.errors))]
    Several { errors: Vec<ScenarioError> },
}

fn render_all(errors: &[ScenarioError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// A problem, where it is, and what to do about it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{place}: {problem} (hint: {hint})")]
pub struct Located {
    pub place: Place,
    /// The YAML path of the offending node, e.g. `faults.schedule[1].crash`, when known.
    pub path: Option<String>,
    pub problem: Problem,
    pub hint: String,
}

impl ScenarioError {
    /// The problem, for errors at a position.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ScenarioError::At(located) => Some(&located.problem),
            _ => None,
        }
    }

    /// The position, for errors at a position.
    pub fn place(&self) -> Option<&Place> {
        match self {
            ScenarioError::At(located) => Some(&located.place),
            _ => None,
        }
    }

    /// The YAML path of the offending node, for errors at a position where it is known.
    pub fn yaml_path(&self) -> Option<&str> {
        match self {
            ScenarioError::At(located) => located.path.as_deref(),
            _ => None,
        }
    }

    /// The hint, for errors at a position.
    pub fn hint(&self) -> Option<&str> {
        match self {
            ScenarioError::At(located) => Some(&located.hint),
            _ => None,
        }
    }
}

/// Why a piece of text (a duration, range, rate, target) does not parse, and what to write
/// instead; resolve adds the path and the problem class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadText {
    pub reason: String,
    pub hint: String,
}

impl BadText {
    pub fn new(reason: impl Into<String>, hint: impl Into<String>) -> Self {
        BadText {
            reason: reason.into(),
            hint: hint.into(),
        }
    }
}

/// A problem found by resolve: the YAML path of the node at fault, located later.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    pub path: YamlPath,
    pub problem: Problem,
    pub hint: String,
}

impl Invalid {
    pub fn new(path: &YamlPath, problem: Problem, hint: impl Into<String>) -> Self {
        Invalid {
            path: path.clone(),
            problem,
            hint: hint.into(),
        }
    }

    /// Attaches the file and the node's line and column.
    pub fn locate(self, source: &str, file: &str) -> ScenarioError {
        let LineColumn { line, column } = locate(source, &self.path);
        ScenarioError::At(Box::new(Located {
            place: Place {
                file: file.to_owned(),
                line,
                column,
            },
            path: Some(self.path.to_string()),
            problem: self.problem,
            hint: self.hint,
        }))
    }
}

/// Turns a yaml_serde error (syntax, unknown key, wrong type, missing key) into a
/// [`ScenarioError`] with a hint. `source` is the text that failed to parse.
pub fn from_yaml(error: &yaml_serde::Error, source: &str, file: &str) -> ScenarioError {
    let (mut line, mut column) = error
        .location()
        .map(|location| (location.line(), location.column()))
        .unwrap_or((1, 1));
    let full = error.to_string();
    let message = strip_position(&full, line, column);
    let (path, message) = split_path(&message);
    let (problem, hint) = classify(message);
    // yaml_serde places a duplicate key at the start of its mapping; point at the repeat.
    if let Problem::Shape { message } = &problem {
        let duplicate = message
            .strip_prefix("duplicate field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(key, _)| key);
        if let Some(key) = duplicate {
            let parent = path.map(YamlPath::parse).unwrap_or_default();
            let found = locate(source, &parent.repeated_key(key));
            (line, column) = (found.line, found.column);
        }
    }
    ScenarioError::At(Box::new(Located {
        place: Place {
            file: file.to_owned(),
            line,
            column,
        },
        path: path.map(str::to_owned),
        problem,
        hint,
    }))
}

/// The error for a file with no YAML content.
pub fn empty(file: &str) -> ScenarioError {
    ScenarioError::At(Box::new(Located {
        place: Place {
            file: file.to_owned(),
            line: 1,
            column: 1,
        },
        path: None,
        problem: Problem::Syntax {
            message: "the file is empty".to_owned(),
        },
        hint: "a scenario needs at least `name`, `cluster` and `workload` (docs/scenarios.md)"
            .to_owned(),
    }))
}

/// yaml_serde appends " at line L column C" (or " at position N"); we print it in front.
fn strip_position(message: &str, line: usize, column: usize) -> Cow<'_, str> {
    let suffix = format!(" at line {line} column {column}");
    if let Some(stripped) = message.strip_suffix(&suffix) {
        return Cow::Borrowed(stripped);
    }
    // libyaml: "problem at line L column C, while parsing X at line M column N".
    if message.contains(&format!("{suffix}, ")) {
        return Cow::Owned(message.replacen(&suffix, "", 1));
    }
    match message.rfind(" at position ") {
        Some(start)
            if message[start + " at position ".len()..]
                .chars()
                .all(|c| c.is_ascii_digit()) =>
        {
            Cow::Borrowed(&message[..start])
        }
        _ => Cow::Borrowed(message),
    }
}

/// yaml_serde prefixes a path like `cluster.topics[0]: `; keep it apart from the message.
fn split_path(message: &str) -> (Option<&str>, &str) {
    if let Some((head, tail)) = message.split_once(": ") {
        let is_path = !head.is_empty()
            && head.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']' | '?')
            });
        if is_path {
            return (Some(head), tail);
        }
    }
    (None, message)
}

/// Names the class of a yaml_serde message and writes a hint for it.
fn classify(message: &str) -> (Problem, String) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((key, expected)) = rest.split_once('`') {
            let allowed = backticked(expected);
            let hint = match did_you_mean(key, allowed.iter().map(String::as_str)) {
                Some(close) => format!(
                    "did you mean `{close}`? allowed here: {}",
                    allowed.join(", ")
                ),
                None if allowed.is_empty() => "this mapping takes no keys".to_owned(),
                None => format!(
                    "allowed here: {} (docs/scenarios.md explains each)",
                    allowed.join(", ")
                ),
            };
            let problem = Problem::UnknownKey {
                key: key.to_owned(),
                allowed,
            };
            return (problem, hint);
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some((key, _)) = rest.split_once('`') {
            let hint = format!("add `{key}:` to this mapping (docs/scenarios.md lists every key)");
            return (
                Problem::MissingKey {
                    key: key.to_owned(),
                },
                hint,
            );
        }
    }
    if message.starts_with("duplicate field `") {
        let problem = Problem::Shape {
            message: message.to_owned(),
        };
        return (problem, "write each key once in a mapping".to_owned());
    }
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        let message = &readable_types(message);
        let hint = if message.contains("expected a whole number") {
            "write a whole number without quotes or units".to_owned()
        } else if message.ends_with("expected a number") {
            "write a number between 0 and 1, e.g. 0.1".to_owned()
        } else if message.ends_with("expected a list") {
            "write a list, e.g. [a, b] or one `- item` per line".to_owned()
        } else if message.ends_with("expected a mapping") {
            "write a mapping, e.g. {key: value} or one `key: value` per line".to_owned()
        } else if message.contains("expected a string") {
            "write a single value (quote it if it contains `: `, `#`, `{` or `[`)".to_owned()
        } else if message.contains("expected no value") {
            "write the key alone, e.g. partition: {halves}".to_owned()
        } else if message.ends_with("expected true or false") {
            "write true or false".to_owned()
        } else {
            "compare this value with docs/scenarios.md".to_owned()
        };
        let problem = Problem::Shape {
            message: message.to_owned(),
        };
        return (problem, hint);
    }
    if message.starts_with("EOF while parsing") {
        let problem = Problem::Syntax {
            message: "the file is empty".to_owned(),
        };
        let hint = "a scenario needs at least `name`, `cluster` and `workload`";
        return (problem, hint.to_owned());
    }
    if message.starts_with("unknown anchor") {
        let problem = Problem::Syntax {
            message: message.to_owned(),
        };
        let hint = "define the anchor (&name) before its first use (*name)";
        return (problem, hint.to_owned());
    }
    if message.contains("more than one document") {
        let problem = Problem::Syntax {
            message: "more than one YAML document".to_owned(),
        };
        let hint = "put one scenario per file; remove the `---` separators";
        return (problem, hint.to_owned());
    }
    let problem = Problem::Syntax {
        message: message.to_owned(),
    };
    let hint = "check the indentation and quoting here; quote values that contain `: ` or `#`";
    (problem, hint.to_owned())
}

/// serde names Rust types ("expected u64", "expected struct RawCluster"); say what to write.
fn readable_types(message: &str) -> String {
    let Some((head, expected)) = message.split_once(", expected ") else {
        return message.to_owned();
    };
    let expected = match expected {
        "u64" | "u32" | "usize" => "a whole number",
        "f64" => "a number",
        "a boolean" => "true or false",
        "a sequence" => "a list",
        other if other.starts_with("struct ") || other == "a map" => "a mapping",
        other => other,
    };
    format!("{head}, expected {expected}")
}

/// The backticked words of "expected one of `a`, `b`" / "expected `a` or `b`".
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Topic {
        name: String,
        partitions: Option<u64>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        topics: Vec<Topic>,
    }

    fn error_for(source: &str) -> ScenarioError {
        let error = yaml_serde::from_str::<Doc>(source).expect_err("should fail");
        from_yaml(&error, source, "x.yaml")
    }

    #[test]
    fn unknown_key_suggests_the_close_one() {
        let error = error_for("topics:\n  - {name: a, partitons: 3}\n");
        assert_eq!(
            error.to_string(),
            "x.yaml:2:15: unknown key `partitons` (hint: did you mean `partitions`? allowed \
             here: name, partitions)"
        );
        assert_eq!(error.yaml_path(), Some("topics[0]"));
    }

    #[test]
    fn wrong_types_and_missing_keys_have_hints() {
        let error = error_for("topics:\n  - {name: a, partitions: -3}\n");
        assert!(
            error.to_string().starts_with("x.yaml:2:27: invalid type"),
            "{error}"
        );
        assert_eq!(
            error.hint(),
            Some("write a whole number without quotes or units")
        );
        let error = error_for("topics:\n  - partitions: 3\n");
        assert_eq!(
            error.problem(),
            Some(&Problem::MissingKey { key: "name".into() })
        );
    }

    #[test]
    fn libyaml_messages_do_not_repeat_the_position() {
        let error = error_for("topics: \"unclosed\n");
        assert_eq!(
            error.to_string(),
            "x.yaml:2:1: found unexpected end of stream, while scanning a quoted scalar at line 1 \
             column 9 (hint: check the indentation and quoting here; quote values that contain \
             `: ` or `#`)"
        );
    }

    #[test]
    fn syntax_errors_keep_their_position() {
        let error = error_for("topics: [\n  - a: b\n  c\n");
        assert!(
            matches!(error.problem(), Some(Problem::Syntax { .. })),
            "{error}"
        );
        assert!(error.place().is_some_and(|place| place.line > 1), "{error}");
    }
}
