//! Durations: `500ms`, `10s`, `1.5s`, `2m`, `1h`, always with a unit, parsed exactly (no
//! floating point) into whole milliseconds, because simulation ticks are whole milliseconds
//! (design.md §4). A value that is not a whole number of milliseconds (`1.5ms`) is rejected
//! rather than rounded, so a scenario means exactly what it says.

use super::error::BadText;

/// The longest duration a scenario may name: one simulated day. Anything longer is a typo
/// (`30m` meant as `30s`) or a run that would never finish in CI.
pub const DURATION_MS_MAX: u64 = 24 * 60 * 60 * 1000;

/// Digits after the decimal point that we accept (enough for `0.001s`; bounds 10^n).
const FRACTION_DIGITS_MAX: usize = 9;

/// Units, longest suffix first so `ms` is not read as `m`.
const UNITS: [(&str, u64); 4] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

const UNITS_HINT: &str = "write a number with a unit: 500ms, 10s, 1.5s, 2m or 1h";

/// Parses a duration into whole milliseconds.
pub fn parse_ms(text: &str) -> Result<u64, BadText> {
    let text = text.trim();
    if text.is_empty() {
        return Err(BadText::new("empty", UNITS_HINT));
    }
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    if number.is_empty() {
        return Err(BadText::new("does not start with a number", UNITS_HINT));
    }
    if unit.is_empty() {
        let hint = format!("durations need a unit: write {number}ms, {number}s or {number}m");
        return Err(BadText::new("no unit", hint));
    }
    let Some(&(_, unit_ms)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        let hint = match unit_alias(unit) {
            Some(known) => format!("did you mean \"{number}{known}\"? units: ms, s, m, h"),
            None => format!("units: ms, s, m, h ({UNITS_HINT})"),
        };
        return Err(BadText::new(format!("unknown unit \"{unit}\""), hint));
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || fraction.contains('.') || (number.contains('.') && fraction.is_empty()) {
        return Err(BadText::new(
            format!("\"{number}\" is not a number"),
            UNITS_HINT,
        ));
    }
    if fraction.len() > FRACTION_DIGITS_MAX {
        let hint = "durations are whole milliseconds: use fewer decimal places";
        return Err(BadText::new("too many decimal places", hint));
    }
    let too_long = || {
        BadText::new(
            "longer than a simulated day (24h)",
            "scenarios are bounded to 24h of simulated time; shorten it",
        )
    };
    let whole: u64 = whole.parse().map_err(|_| too_long())?;
    let whole_ms = whole.checked_mul(unit_ms).ok_or_else(too_long)?;
    if whole_ms > DURATION_MS_MAX {
        return Err(too_long());
    }
    let fraction_ms = if fraction.is_empty() {
        0
    } else {
        // fraction / 10^digits of a unit, exactly.
        let scale = 10u64.pow(fraction.len() as u32);
        let digits: u64 = fraction.parse().map_err(|_| too_long())?;
        let scaled = digits.checked_mul(unit_ms).ok_or_else(too_long)?;
        if scaled % scale != 0 {
            let low = whole_ms + scaled / scale;
            let hint = format!("ticks are 1ms: round to {}ms or {}ms", low, low + 1);
            return Err(BadText::new("not a whole number of milliseconds", hint));
        }
        scaled / scale
    };
    let total = whole_ms.checked_add(fraction_ms).ok_or_else(too_long)?;
    if total > DURATION_MS_MAX {
        return Err(too_long());
    }
    Ok(total)
}

/// Common spellings of a unit that mean one we know.
fn unit_alias(unit: &str) -> Option<&'static str> {
    match unit.to_ascii_lowercase().as_str() {
        "msec" | "msecs" | "millis" | "milli" | "millisecond" | "milliseconds" => Some("ms"),
        "sec" | "secs" | "second" | "seconds" => Some("s"),
        "min" | "mins" | "minute" | "minutes" => Some("m"),
        "hr" | "hrs" | "hour" | "hours" => Some("h"),
        "ms" => Some("ms"),
        "s" => Some("s"),
        "m" => Some("m"),
        "h" => Some("h"),
        _ => None,
    }
}

/// Prints milliseconds in the largest unit that keeps them exact; [`parse_ms`] reads it back.
pub fn format_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    for (name, unit_ms) in UNITS.iter().rev() {
        if ms % unit_ms == 0 {
            return format!("{}{name}", ms / unit_ms);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_ms("500ms"), Ok(500));
        assert_eq!(parse_ms("10s"), Ok(10_000));
        assert_eq!(parse_ms("1.5s"), Ok(1_500));
        assert_eq!(parse_ms("0.001s"), Ok(1));
        assert_eq!(parse_ms("2m"), Ok(120_000));
        assert_eq!(parse_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_ms(" 0s "), Ok(0));
    }

    #[test]
    fn rejects_bad_units_with_a_suggestion() {
        let bad = parse_ms("5sec").expect_err("unit");
        assert_eq!(bad.reason, "unknown unit \"sec\"");
        assert!(bad.hint.starts_with("did you mean \"5s\"?"), "{}", bad.hint);
        let bad = parse_ms("30").expect_err("no unit");
        assert_eq!(bad.reason, "no unit");
        assert!(bad.hint.contains("30s"), "{}", bad.hint);
        assert!(parse_ms("ms").is_err());
        assert!(parse_ms("-1s").is_err());
        assert!(parse_ms("1..2s").is_err());
        assert!(parse_ms("1.s").is_err());
        assert!(parse_ms("").is_err());
    }

    #[test]
    fn rejects_sub_millisecond_and_huge() {
        let bad = parse_ms("1.5ms").expect_err("sub-ms");
        assert!(bad.hint.contains("1ms or 2ms"), "{}", bad.hint);
        assert!(parse_ms("25h").is_err());
        assert!(parse_ms("99999999999999999999999s").is_err());
        assert!(parse_ms("18446744073709551615h").is_err());
        assert!(parse_ms("1.0000000001s").is_err());
        assert!(parse_ms("18446744073709551615.5ms").is_err());
        assert!(parse_ms("86400000.5ms").is_err());
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        assert_eq!(format_ms(0), "0s");
        assert_eq!(format_ms(1_500), "1500ms");
        assert_eq!(format_ms(8_000), "8s");
        assert_eq!(format_ms(120_000), "2m");
        assert_eq!(format_ms(7_200_000), "2h");
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(ms in 0..=DURATION_MS_MAX) {
            prop_assert_eq!(parse_ms(&format_ms(ms)), Ok(ms));
        }

        #[test]
        fn never_panics(text in "\\PC{0,24}") {
            let _ = parse_ms(&text);
        }

        #[test]
        fn numbers_near_the_limits_never_panic(
            text in "[0-9]{0,25}(\\.[0-9]{0,12})?(ms|s|m|h|sec)?"
        ) {
            if let Ok(ms) = parse_ms(&text) {
                prop_assert!(ms <= DURATION_MS_MAX);
            }
            let _ = crate::scenario::range::parse_ms(&format!("{text}..{text}"));
            let _ = crate::scenario::rate::parse_per_s(&format!("{text}/s"));
        }
    }
}
