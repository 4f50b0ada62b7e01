//! Rates: `200/s`, a whole number of operations per simulated second for each client. Whole
//! numbers keep the workload generator's arithmetic exact; the bound keeps a typo (`20000/s`)
//! from turning a run into an hour of simulation.

use super::error::BadText;

/// The most operations per second a single client may be asked for.
pub const RATE_PER_S_MAX: u64 = 10_000;

const RATE_HINT: &str = "write operations per second, e.g. 200/s";

/// Parses `<n>/s` with `1 <= n <= RATE_PER_S_MAX`.
pub fn parse_per_s(text: &str) -> Result<u64, BadText> {
    let text = text.trim();
    let Some((count, unit)) = text.split_once('/') else {
        let hint = if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
            format!("rates need a unit: write {text}/s")
        } else {
            RATE_HINT.to_owned()
        };
        return Err(BadText::new("no \"/s\" unit", hint));
    };
    if !matches!(unit.trim(), "s") {
        let hint = format!("the only unit is per second: write {}/s", count.trim());
        return Err(BadText::new(format!("unknown unit \"/{unit}\""), hint));
    }
    let count = count.trim();
    if count.is_empty() || !count.chars().all(|c| c.is_ascii_digit()) {
        let reason = format!("\"{count}\" is not a whole number");
        return Err(BadText::new(reason, RATE_HINT));
    }
    let allowed = format!("rates are 1/s..{RATE_PER_S_MAX}/s per client");
    let per_s: u64 = count
        .parse()
        .map_err(|_| BadText::new("too large", allowed.clone()))?;
    if per_s == 0 || per_s > RATE_PER_S_MAX {
        let hint = format!("{allowed}; to turn clients off, remove the section");
        return Err(BadText::new(format!("{per_s}/s is out of range"), hint));
    }
    Ok(per_s)
}

/// Prints a rate back as `<n>/s`.
pub fn format_per_s(per_s: u64) -> String {
    format!("{per_s}/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!(parse_per_s("200/s"), Ok(200));
        assert_eq!(parse_per_s(" 1 / s "), Ok(1));
        assert_eq!(format_per_s(20), "20/s");
    }

    #[test]
    fn rejects_missing_or_wrong_units_and_bounds() {
        assert!(parse_per_s("200").expect_err("unit").hint.contains("200/s"));
        assert!(parse_per_s("200/sec")
            .expect_err("unit")
            .hint
            .contains("200/s"));
        assert!(parse_per_s("0/s").is_err());
        assert!(parse_per_s("10001/s").is_err());
        assert!(parse_per_s("1.5/s").is_err());
        assert!(parse_per_s("/s").is_err());
        assert!(parse_per_s("99999999999999999999999/s").is_err());
    }
}
