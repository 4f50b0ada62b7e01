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
    /// write, truncate, create, mknod and mkdir fail with EIO before touching anything.
    pub write_eio: bool,
    /// Reads succeed but one bit of what they return is flipped (the data stays intact).
    pub read_corrupt: bool,
}

impl Faults {
    /// Why a call that writes must fail now, if it must: EIO before ENOSPC (a failing device
    /// fails whatever the space).
    pub fn write_refused(&self, grows: bool) -> Option<i32> {
        if self.write_eio {
            Some(libc::EIO)
        } else if self.disk_full && grows {
            Some(libc::ENOSPC)
        } else {
            None
        }
    }

    /// What a read returns under `read_corrupt`: the middle byte's lowest bit inverted.
    pub fn corrupt_read(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        if self.read_corrupt && !bytes.is_empty() {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
        }
        bytes
    }

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
    fn write_eio_comes_before_disk_full_and_read_corruption_flips_one_bit() {
        let mut faults = Faults::default();
        assert_eq!(faults.write_refused(true), None);
        faults.disk_full = true;
        assert_eq!(faults.write_refused(false), None);
        assert_eq!(faults.write_refused(true), Some(libc::ENOSPC));
        faults.write_eio = true;
        assert_eq!(faults.write_refused(false), Some(libc::EIO));
        assert_eq!(faults.corrupt_read(vec![0, 0, 0]), vec![0, 0, 0]);
        faults.read_corrupt = true;
        assert_eq!(faults.corrupt_read(vec![0, 0, 0]), vec![0, 1, 0]);
        assert_eq!(faults.corrupt_read(Vec::new()), Vec::<u8>::new());
    }

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
