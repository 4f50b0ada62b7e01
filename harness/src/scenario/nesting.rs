//! Flow nesting depth, measured by the scanner that will parse the file. libyaml's scanner
//! re-checks every open flow level on every token (its "stale simple keys" pass), so its time
//! grows with the square of the nesting depth: a 200 KB file of `[[[[` took 39 s. yaml_serde
//! only applies its own depth limit after the whole document has been scanned, too late.
//!
//! A hand-written bracket counter would have to agree with YAML on every quote, comment, block
//! scalar and plain-scalar continuation, or a crafted file could hide its brackets inside
//! something the counter took for a string. So we run libyaml's own scanner (the crate
//! yaml_serde parses with) token by token and stop at the first flow collection deeper than
//! the limit: the same tokens the parser will see, and at most `limit` open levels (plus the
//! scanner's bounded look-ahead of 1024 characters) ever held, so the pass is linear.

use super::locate::LineColumn;
use libyaml_rs as sys;
use std::mem::MaybeUninit;

/// The position (1-based) of the first `[` or `{` that opens a flow collection nested deeper
/// than `limit`, or `None`. Text the scanner cannot read (a syntax error) ends the scan: the
/// parser reports that error with its own position.
pub fn deeper_than(source: &str, limit: usize) -> Option<LineColumn> {
    // Every token but the stream's and a block's end consumes at least one character, and a
    // block end pairs with a block start; so a scan has at most this many tokens.
    let tokens_max = 2 * source.len() + 8;
    let mut scanner = Scanner::new(source)?;
    let mut depth = 0usize;
    for _ in 0..tokens_max {
        let (kind, mark) = scanner.next()?;
        match kind {
            sys::YAML_FLOW_SEQUENCE_START_TOKEN | sys::YAML_FLOW_MAPPING_START_TOKEN => {
                depth += 1;
                if depth > limit {
                    return Some(mark);
                }
            }
            sys::YAML_FLOW_SEQUENCE_END_TOKEN | sys::YAML_FLOW_MAPPING_END_TOKEN => {
                depth = depth.saturating_sub(1);
            }
            sys::YAML_STREAM_END_TOKEN | sys::YAML_NO_TOKEN => return None,
            _ => {}
        }
        assert!(depth <= limit);
    }
    unreachable!(
        "the scanner produced more than {tokens_max} tokens for {} bytes",
        source.len()
    )
}

/// A libyaml scanner over borrowed text. Boxed: libyaml keeps a pointer to the parser struct
/// in its read handler, so it must not move after the input is set.
struct Scanner<'a> {
    parser: Box<MaybeUninit<sys::yaml_parser_t>>,
    _source: &'a str,
}

impl<'a> Scanner<'a> {
    fn new(source: &'a str) -> Option<Self> {
        let mut parser = Box::new(MaybeUninit::<sys::yaml_parser_t>::uninit());
        // SAFETY: `yaml_parser_initialize` zeroes and sets up the struct it is given; the
        // box is its final place. The input outlives the scanner (`'a`), as libyaml requires.
        unsafe {
            if sys::yaml_parser_initialize(parser.as_mut_ptr()).fail {
                return None;
            }
            sys::yaml_parser_set_input_string(
                parser.as_mut_ptr(),
                source.as_ptr(),
                source.len() as u64,
            );
        }
        Some(Scanner {
            parser,
            _source: source,
        })
    }

    /// The next token's kind and start (1-based), or `None` on a scanner error.
    fn next(&mut self) -> Option<(sys::yaml_token_type_t, LineColumn)> {
        let mut token = MaybeUninit::<sys::yaml_token_t>::uninit();
        // SAFETY: the parser was initialised in `new` and has not moved (boxed). `scan`
        // zeroes the token before filling it, so deleting it is valid whatever it returns.
        unsafe {
            let failed = sys::yaml_parser_scan(self.parser.as_mut_ptr(), token.as_mut_ptr()).fail;
            let kind = (*token.as_ptr()).type_;
            let mark = (*token.as_ptr()).start_mark;
            sys::yaml_token_delete(token.as_mut_ptr());
            if failed {
                return None;
            }
            Some((
                kind,
                LineColumn {
                    line: mark.line as usize + 1,
                    column: mark.column as usize + 1,
                },
            ))
        }
    }
}

impl Drop for Scanner<'_> {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`; deleted once, here.
        unsafe { sys::yaml_parser_delete(self.parser.as_mut_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_flow_collections_only() {
        assert_eq!(deeper_than("a: [[1], {b: [2]}]\n", 3), None);
        let found = deeper_than("a: [[1], {b: [2]}]\n", 2).expect("too deep");
        assert_eq!((found.line, found.column), (1, 14));
        // Brackets in strings, comments, block scalars and block-scalar look-alikes are text.
        let text = "a: \"[[[[\"\nb: '[[[['\n# [[[[\nc: |\n  \"[[[[\nd: x [[[[\n";
        assert_eq!(deeper_than(text, 1), None);
        // A quote that is text (inside a plain scalar) does not hide real brackets after it.
        let found = deeper_than("a: it\"s\nb: [[[[1]]]]\n", 3).expect("too deep");
        assert_eq!((found.line, found.column), (2, 7));
    }

    #[test]
    fn deep_nesting_is_found_quickly() {
        let source = format!("a: {}", "[".repeat(1 << 20));
        let found = deeper_than(&source, 64).expect("too deep");
        assert_eq!((found.line, found.column), (1, 4 + 64));
        // Flow content must be indented past its block, or the scanner stops at line 3.
        let source = format!("a:\n{}", "  [\n".repeat(200_000));
        assert_eq!(deeper_than(&source, 64).map(|f| f.line), Some(2 + 64));
    }

    #[test]
    fn syntax_errors_end_the_scan() {
        assert_eq!(deeper_than("a: \"unclosed\n[[[[[[", 2), None);
        assert_eq!(deeper_than("", 2), None);
    }
}
