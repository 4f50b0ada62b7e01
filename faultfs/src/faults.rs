//! The fault switches the control commands flip. They are checked by the FUSE adapter before
//! it asks the model: a refused call never reaches the model, so a failed fsync cannot mark
//! anything durable and a refused write leaves nothing pending.

/// A shell-style path pattern: `*` matches any run of characters (also `/`), `?` one
/// character, everything else itself. Matched against the path relative to the mount root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
}

/// Longer patterns are refused: matching is O(pattern × path) and the line is bounded anyway.
pub const GLOB_CHARS_MAX: usize = 1024;

impl Glob {
    pub fn new(pattern: &str) -> Option<Glob> {
        let pattern = pattern.trim_start_matches('/');
        (pattern.chars().count() <= GLOB_CHARS_MAX).then(|| Glob {
            pattern: pattern.chars().collect(),
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        let text: Vec<char> = path.trim_start_matches('/').chars().collect();
        let (mut p, mut t) = (0usize, 0usize);
        // Where the last `*` was, and how much text it has swallowed: backtrack there on a
        // mismatch. One star of memory is enough for this greedy algorithm to be exact.
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(c) if *c == '?' || *c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((star_p, star_t)) => {
                        p = star_p + 1;
                        t = star_t + 1;
                        star = Some((star_p, star_t + 1));
                    }
                    None => return false,
                },
            }
        }
        self.pattern[p..].iter().all(|c| *c == '*')
    }
}

impl std::fmt::Display for Glob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.pattern.iter().collect::<String>())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// fsync and fdatasync of a file or directory whose path matches fail with EIO.
    pub fsync_eio: Option<Glob>,
    /// write, truncate-to-grow, create, mknod and mkdir fail with ENOSPC.
    pub disk_full: bool,
}

impl Faults {
    pub fn fsync_fails(&self, path: &str) -> bool {
        self.fsync_eio
            .as_ref()
            .is_some_and(|glob| glob.matches(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell_but_stars_cross_slashes() {
        let glob = |p: &str| Glob::new(p).unwrap();
        assert!(glob("*").matches("a/b/c"));
        assert!(glob("*.log").matches("topic-0/0001.log"));
        assert!(!glob("*.log").matches("topic-0/0001.index"));
        assert!(glob("/data/?.db").matches("data/x.db"));
        assert!(!glob("data/?.db").matches("data/xy.db"));
        assert!(glob("a*b*c").matches("aXbYbZc"));
        assert!(!glob("a*b*c").matches("aXbYbZ"));
        assert!(glob("").matches(""));
        assert!(!glob("").matches("a"));
    }

    #[test]
    fn fsync_fails_only_for_matching_paths_while_on() {
        let mut faults = Faults::default();
        assert!(!faults.fsync_fails("a"));
        faults.fsync_eio = Glob::new("wal/*");
        assert!(faults.fsync_fails("wal/1"));
        assert!(!faults.fsync_fails("data/1"));
    }
}
