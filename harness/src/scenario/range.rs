//! Inclusive ranges written `low..high` (`1ms..5ms`, `2s..8s`, `1..20`), or a single value
//! meaning `value..value`. Both ends are inclusive — `seeds: 1..20` is twenty seeds, as on the
//! command line — and an empty range (`5..1`) is an error, never zero runs.

use super::duration;
use super::error::BadText;

/// Parses `low..high` or `value` with `parse` for each end.
pub fn parse<T: Ord + Copy>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, BadText>,
    example: &str,
) -> Result<(T, T), BadText> {
    let text = text.trim();
    let Some((low, high)) = text.split_once("..") else {
        let value = parse(text)?;
        return Ok((value, value));
    };
    let high = high.strip_prefix('=').unwrap_or(high);
    let low =
        parse(low).map_err(|bad| BadText::new(format!("low end: {}", bad.reason), bad.hint))?;
    let high =
        parse(high).map_err(|bad| BadText::new(format!("high end: {}", bad.reason), bad.hint))?;
    if high < low {
        let hint = format!("write the low end first, e.g. {example}");
        return Err(BadText::new(
            "empty: the high end is below the low end",
            hint,
        ));
    }
    Ok((low, high))
}

/// `1ms..5ms` → `(1, 5)` milliseconds.
pub fn parse_ms(text: &str) -> Result<(u64, u64), BadText> {
    parse(text, duration::parse_ms, "1ms..5ms")
}

/// `1..20` → `(1, 20)`.
pub fn parse_u64(text: &str) -> Result<(u64, u64), BadText> {
    parse(text, parse_whole, "1..20")
}

/// A whole number without unit or sign.
pub fn parse_whole(text: &str) -> Result<u64, BadText> {
    let text = text.trim();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        let reason = format!("\"{text}\" is not a whole number");
        return Err(BadText::new(reason, "write whole numbers, e.g. 1..20"));
    }
    text.parse()
        .map_err(|_| BadText::new(format!("\"{text}\" is too large"), "use a smaller number"))
}

/// Prints a millisecond range back as `low..high`, or a single value when both ends agree.
pub fn format_ms((low, high): (u64, u64)) -> String {
    if low == high {
        duration::format_ms(low)
    } else {
        format!(
            "{}..{}",
            duration::format_ms(low),
            duration::format_ms(high)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_single_values() {
        assert_eq!(parse_ms("1ms..5ms"), Ok((1, 5)));
        assert_eq!(parse_ms("2s..8s"), Ok((2_000, 8_000)));
        assert_eq!(parse_ms("3ms"), Ok((3, 3)));
        assert_eq!(parse_u64("1..20"), Ok((1, 20)));
        assert_eq!(parse_u64("1..=20"), Ok((1, 20)));
        assert_eq!(parse_u64("7"), Ok((7, 7)));
    }

    #[test]
    fn empty_and_malformed_ranges() {
        let bad = parse_u64("5..1").expect_err("empty");
        assert!(bad.reason.starts_with("empty"), "{}", bad.reason);
        assert!(bad.hint.contains("1..20"), "{}", bad.hint);
        let bad = parse_ms("1ms..5sec").expect_err("unit");
        assert_eq!(bad.reason, "high end: unknown unit \"sec\"");
        assert!(parse_u64("1...3").is_err());
        assert!(parse_u64("-1..3").is_err());
        assert!(parse_u64("..3").is_err());
        assert!(parse_ms("1..5ms").is_err());
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_ms((1, 5)), "1ms..5ms");
        assert_eq!(format_ms((2_000, 2_000)), "2s");
    }
}
