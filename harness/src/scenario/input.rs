//! The bytes of a scenario file, before any YAML is parsed. Scenario files come from anywhere
//! (a pull request, a fuzzer, a copy from a web page), so the loader treats them as hostile:
//! the YAML parser's memory grows with the input (87 MB of keys took 2.3 GB) and its time with
//! the square of the flow nesting (a 200 KB file of `[[[[` took 39 s). So before parsing, a
//! file is read through a size cap, decoded as UTF-8 (a leading byte-order mark is accepted
//! and dropped — editors on Windows write one), and checked for control characters and flow
//! nesting depth. Every rejection is a positioned error with a hint, like any other scenario
//! error, and costs time linear in the (capped) size.

use super::error::{Located, Place, Problem, ScenarioError};
use super::nesting;
use std::io::Read;
use std::path::Path;

/// Largest scenario file. The biggest real scenario is a few KiB; a MiB leaves room for long
/// hand-written schedules while keeping the parser's memory to a few tens of MB.
pub const SCENARIO_BYTES_MAX: usize = 1 << 20;
/// Deepest flow nesting (`[`, `{`). Scenarios nest three or four levels; the parser's time
/// grows with the square of this depth.
pub const FLOW_DEPTH_MAX: usize = 64;

const BOM: char = '\u{feff}';

/// Reads a scenario file through the size cap and decodes it. Errors name the file as `path`
/// is written.
pub fn read(path: &Path) -> Result<String, ScenarioError> {
    let read_error = |source| ScenarioError::Read {
        file: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    // `take` bounds the read even when the size is unknown (a FIFO, /dev/zero, a growing file).
    let mut bytes = Vec::new();
    file.take(SCENARIO_BYTES_MAX as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    assert!(bytes.len() <= SCENARIO_BYTES_MAX + 1);
    let label = path.display().to_string();
    if bytes.len() > SCENARIO_BYTES_MAX {
        let size = std::fs::metadata(path).map(|m| m.len()).ok();
        return Err(too_large(&bytes, size, &label));
    }
    decode(bytes, &label)
}

/// Decodes a file's bytes as UTF-8 text, naming the first byte that is not (or an earlier
/// control character: a binary file is named at its first sign of being one).
pub fn decode(bytes: Vec<u8>, file: &str) -> Result<String, ScenarioError> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(error) => {
            let bytes = error.as_bytes();
            let bad = error.utf8_error().valid_up_to();
            let valid = std::str::from_utf8(&bytes[..bad]).expect("valid up to `bad`");
            if let Some(offset) = first_forbidden(valid) {
                return Err(control_character(valid, offset, file));
            }
            let utf16 = bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]);
            let hint = if utf16 {
                "the file is UTF-16; save it as UTF-8".to_owned()
            } else {
                "scenario files are UTF-8 YAML text: save the file as UTF-8, or check that the \
                 path names a scenario and not a binary file"
                    .to_owned()
            };
            let problem = Problem::NotText {
                message: format!("byte 0x{:02x} is not UTF-8", bytes[bad]),
            };
            Err(at(file, position(bytes, bad), problem, hint))
        }
    }
}

/// Checks text already in memory before it is parsed: size, control characters, nesting.
/// Returns the text without a leading byte-order mark.
pub fn check<'a>(source: &'a str, file: &str) -> Result<&'a str, ScenarioError> {
    if source.len() > SCENARIO_BYTES_MAX {
        return Err(too_large(source.as_bytes(), None, file));
    }
    let source = source.strip_prefix(BOM).unwrap_or(source);
    if let Some(offset) = first_forbidden(source) {
        return Err(control_character(source, offset, file));
    }
    if let Some(found) = nesting::deeper_than(source, FLOW_DEPTH_MAX) {
        let problem = Problem::TooDeep {
            limit: FLOW_DEPTH_MAX,
        };
        let hint = "flatten the value: scenarios nest a few levels, e.g. \
                    {at: 5s, partition: {isolate: broker-1}}";
        return Err(at(file, (found.line, found.column), problem, hint));
    }
    Ok(source)
}

/// The byte offset of the first character YAML does not allow, after a leading BOM.
fn first_forbidden(text: &str) -> Option<usize> {
    let start = if text.starts_with(BOM) {
        BOM.len_utf8()
    } else {
        0
    };
    text[start..]
        .char_indices()
        .find(|&(_, c)| forbidden(c))
        .map(|(offset, _)| start + offset)
}

fn control_character(text: &str, offset: usize, file: &str) -> ScenarioError {
    let bad = text[offset..]
        .chars()
        .next()
        .expect("a character at `offset`");
    let problem = Problem::NotText {
        message: format!("control character U+{:04X}", u32::from(bad)),
    };
    let hint = "scenario files are YAML text: remove the character, or check that the path \
                names a scenario and not a binary file";
    at(file, position(text.as_bytes(), offset), problem, hint)
}

/// Characters YAML does not allow in a stream (YAML 1.2 §5.1): C0 controls other than tab and
/// line breaks, DEL, and C1 controls other than NEL. A BOM inside the text is one too.
fn forbidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}')) || c == BOM
}

fn too_large(bytes: &[u8], size: Option<u64>, file: &str) -> ScenarioError {
    let offset = SCENARIO_BYTES_MAX.min(bytes.len());
    let problem = Problem::TooLarge {
        bytes: size,
        limit: SCENARIO_BYTES_MAX,
    };
    let hint = "a scenario file is at most 1 MiB: check the path names a scenario, and keep \
                long text (descriptions, notes) outside it";
    at(file, position(bytes, offset), problem, hint)
}

/// The 1-based line and column (in characters) of byte `offset`; bytes that are not UTF-8
/// count as one column each.
fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    // UTF-8 continuation bytes (0b10xx_xxxx) do not start a character.
    let column = 1 + before[line_start..]
        .iter()
        .filter(|&&b| b & 0xc0 != 0x80)
        .count();
    (line, column)
}

fn at(
    file: &str,
    (line, column): (usize, usize),
    problem: Problem,
    hint: impl Into<String>,
) -> ScenarioError {
    ScenarioError::At(Box::new(Located {
        place: Place {
            file: file.to_owned(),
            line,
            column,
        },
        path: None,
        problem,
        hint: hint.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(position(b"ab\ncd", 0), (1, 1));
        assert_eq!(position(b"ab\ncd", 4), (2, 2));
        assert_eq!(position("é\né€x".as_bytes(), 8), (2, 3));
    }

    #[test]
    fn invalid_utf8_names_the_first_bad_byte() {
        let error = decode(b"name: x\ncluster: \xff\xfe".to_vec(), "bin.yaml").expect_err("bad");
        let text = error.to_string();
        assert!(
            text.starts_with(
                "bin.yaml:2:10: byte 0xff is not UTF-8 (hint: scenario files are UTF-8"
            ),
            "{text}"
        );
        let error = decode(b"\xff\xfen\x00".to_vec(), "wide.yaml").expect_err("bad");
        assert!(error.to_string().contains("UTF-16"), "{error}");
    }

    #[test]
    fn control_characters_and_inner_boms_are_rejected_with_a_place() {
        let error = check("name: x\n  \u{0}\u{0}", "nul.yaml").expect_err("nul");
        assert!(
            error
                .to_string()
                .starts_with("nul.yaml:2:3: control character U+0000"),
            "{error}"
        );
        assert_eq!(
            check("\u{feff}name: x\n", "bom.yaml").ok(),
            Some("name: x\n")
        );
        assert!(check("name: \u{feff}x\n", "bom.yaml").is_err());
        assert!(check("a:\tb\r\n", "tab.yaml").is_ok());
    }
}
