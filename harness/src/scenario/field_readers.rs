//! The field readers every per-noun resolver shares: one place for each kind of check (a
//! count in a range, a ratio, a duration, a rate, a word of a fixed vocabulary) and its
//! message, so that `resolve` and the nouns it calls need not name each other.

use super::duration;
use super::error::{BadText, Invalid, Problem};
use super::locate::YamlPath;
use super::names::Keyword;
use super::range;
use super::rate;

/// A whole number in `min..=max`.
pub(crate) fn count(
    value: u64,
    path: &YamlPath,
    field: &str,
    min: u32,
    max: u32,
    hint: &str,
) -> Result<u32, Invalid> {
    match u32::try_from(value) {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => {
            let problem = Problem::OutOfRange {
                field: field.to_owned(),
                value: value.to_string(),
                allowed: format!("{min}..={max}"),
            };
            Err(Invalid::new(path, problem, hint))
        }
    }
}

/// A share in `0..=1`.
pub(crate) fn ratio(value: f64, path: &YamlPath, field: &str) -> Result<f64, Invalid> {
    if (0.0..=1.0).contains(&value) {
        return Ok(value);
    }
    let problem = Problem::OutOfRange {
        field: field.to_owned(),
        value: value.to_string(),
        allowed: "0..=1".to_owned(),
    };
    let hint = "a share between 0 and 1, e.g. 0.1 for 10%";
    Err(Invalid::new(path, problem, hint))
}

/// A duration in milliseconds.
pub(crate) fn duration_at(text: &str, path: &YamlPath) -> Result<u64, Invalid> {
    duration::parse_ms(text).map_err(|bad| bad_duration(text, bad, path))
}

/// A duration that must not be zero; `field` and `example` name it in the error.
pub(crate) fn positive_duration_at(
    text: &str,
    path: &YamlPath,
    field: &str,
    example: &str,
) -> Result<u64, Invalid> {
    let ms = duration_at(text, path)?;
    if ms == 0 {
        let problem = Problem::OutOfRange {
            field: field.to_owned(),
            value: "0s".to_owned(),
            allowed: "at least 1ms".to_owned(),
        };
        return Err(Invalid::new(path, problem, example));
    }
    Ok(ms)
}

fn bad_duration(text: &str, bad: BadText, path: &YamlPath) -> Invalid {
    let problem = Problem::BadDuration {
        text: text.to_owned(),
        reason: bad.reason,
    };
    Invalid::new(path, problem, bad.hint)
}

/// An inclusive range of durations, or one duration.
pub(crate) fn range_ms_at(
    text: &str,
    path: &YamlPath,
    example: &str,
) -> Result<(u64, u64), Invalid> {
    range::parse(text, duration::parse_ms, example).map_err(|bad| {
        if text.contains("..") {
            let problem = Problem::BadRange {
                text: text.to_owned(),
                reason: bad.reason,
            };
            Invalid::new(path, problem, bad.hint)
        } else {
            bad_duration(text, bad, path)
        }
    })
}

/// Operations per second.
pub(crate) fn rate_at(text: &str, path: &YamlPath) -> Result<u64, Invalid> {
    rate::parse_per_s(text).map_err(|bad| {
        let problem = Problem::BadRate {
            text: text.to_owned(),
            reason: bad.reason,
        };
        Invalid::new(path, problem, bad.hint)
    })
}

/// One word of a fixed vocabulary.
pub(crate) fn keyword_at<K: Keyword>(text: &str, path: &YamlPath) -> Result<K, Invalid> {
    K::parse(text.trim()).ok_or_else(|| {
        let problem = Problem::UnknownName {
            what: K::WHAT,
            text: text.to_owned(),
        };
        Invalid::new(path, problem, K::hint_for(text.trim()))
    })
}
