//! Fixed vocabularies (check names, anomaly names, apply strategies, ...) and the "did you
//! mean" that turns a typo into a one-word fix. Every vocabulary is a `Keyword` enum whose
//! spelling in YAML is exactly its `as_str`, so parsing and printing cannot drift apart.

/// An enum spelt in YAML as one of a fixed set of words.
pub trait Keyword: Copy + Sized + 'static {
    /// Every value, in the order the hint lists them.
    const ALL: &'static [Self];
    /// What the words are, for messages: "check", "anomaly", ...
    const WHAT: &'static str;

    /// The YAML spelling.
    fn as_str(&self) -> &'static str;

    /// The value spelt `text`, exactly.
    fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.as_str() == text)
    }

    /// "did you mean `x`? known: a, b, c" for an unknown word.
    fn hint_for(text: &str) -> String {
        let known: Vec<&str> = Self::ALL.iter().map(Keyword::as_str).collect();
        match did_you_mean(text, known.iter().copied()) {
            Some(close) => format!("did you mean \"{close}\"? known: {}", known.join(", ")),
            None => format!("known: {}", known.join(", ")),
        }
    }
}

/// Inputs longer than this get no suggestion: the distance is quadratic in length.
const SUGGEST_LEN_MAX: usize = 64;

/// The candidate closest to `text` if it is close enough to be a typo of it.
pub fn did_you_mean<'a>(text: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    if text.len() > SUGGEST_LEN_MAX {
        return None;
    }
    let limit = (text.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate.len() > SUGGEST_LEN_MAX {
            continue;
        }
        let distance = edit_distance(text, candidate);
        if distance <= limit && best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("brokr-2", "broker-2"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_close_words() {
        let words = ["no-loss", "liveness", "log-consistency"];
        assert_eq!(
            did_you_mean("no-los", words.iter().copied()),
            Some("no-loss")
        );
        assert_eq!(
            did_you_mean("livness", words.iter().copied()),
            Some("liveness")
        );
        assert_eq!(did_you_mean("zzz", words.iter().copied()), None);
    }
}
