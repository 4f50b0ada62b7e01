//! Small text helpers every renderer shares. Times are simulated nanoseconds and are printed
//! with integer arithmetic only (`3.461 s`, `2 ms`), so a rendering never depends on float
//! formatting.

/// `3.461 s`: seconds with millisecond precision.
pub fn seconds(time_ns: u64) -> String {
    let ms = time_ns / 1_000_000;
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

/// A duration: `850 µs`, `2 ms`, `1.250 s`.
pub fn duration(ns: u64) -> String {
    if ns < 1_000_000 {
        format!("{} µs", ns / 1000)
    } else if ns < 1_000_000_000 {
        format!("{} ms", ns / 1_000_000)
    } else {
        seconds(ns)
    }
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// A Markdown table cell: no line breaks, pipes escaped.
pub fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

/// `a–b`, or `a` when both ends are equal.
pub fn range<T: PartialEq + std::fmt::Display>(low: T, high: T) -> String {
    if low == high {
        low.to_string()
    } else {
        format!("{low}–{high}")
    }
}

/// `1 run`, `2 runs`.
pub fn count(n: u64, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("{n} {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// Up to `max` items joined by `, `, then `and N more`.
pub fn list(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!(
        "{}, and {} more",
        items[..max].join(", "),
        items.len() - max
    )
}

/// One sentence per group: how high its backlog rose and when, when members joined, and where
/// it ended, e.g. `Group workers: backlog peaked at 412 messages at 7.900 s; members joined at
/// 0.050 s, 8.000 s; 0 messages behind at the end (20.000 s).`
pub fn backlog_summary(backlogs: &[crate::input::Backlog]) -> String {
    let mut sentences = Vec::with_capacity(backlogs.len());
    for backlog in backlogs {
        let mut sentence = format!("Group {}: ", backlog.group);
        match backlog.peak() {
            Some((time, lag)) => sentence.push_str(&format!(
                "backlog peaked at {lag} messages at {}",
                seconds(time)
            )),
            None => sentence.push_str("no backlog recorded"),
        }
        if !backlog.joins_ns.is_empty() {
            let joins: Vec<String> = backlog.joins_ns.iter().map(|t| seconds(*t)).collect();
            sentence.push_str(&format!("; members joined at {}", joins.join(", ")));
        }
        if let Some((time, lag)) = backlog.points.last() {
            sentence.push_str(&format!(
                "; {lag} messages behind at the end ({})",
                seconds(*time)
            ));
        }
        sentence.push('.');
        sentences.push(sentence);
    }
    sentences.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_without_floats() {
        assert_eq!(seconds(3_461_000_000), "3.461 s");
        assert_eq!(seconds(999_999), "0.000 s");
        assert_eq!(duration(850_000), "850 µs");
        assert_eq!(duration(2_400_000), "2 ms");
        assert_eq!(duration(1_250_000_000), "1.250 s");
    }

    #[test]
    fn clip_cell_range_list() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(range(3, 3), "3");
        assert_eq!(range(3, 5), "3–5");
        let items: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(list(&items, 2), "a, b, and 1 more");
        assert_eq!(list(&items, 3), "a, b, c");
        assert_eq!(count(1, "run", "runs"), "1 run");
    }
}
