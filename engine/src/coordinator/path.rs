//! znode paths: absolute, `/`-separated, no empty, `.` or `..` components, no trailing slash
//! (except the root `/`), bounded in length.

use crate::wire::coordinator_protocol::CoordError;

pub const PATH_BYTES_MAX: usize = 1024;

pub fn validate(path: &str) -> Result<(), CoordError> {
    let bad = |reason: &str| CoordError::BadPath {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    if path.len() > PATH_BYTES_MAX {
        return Err(bad("longer than 1024 bytes"));
    }
    if !path.starts_with('/') {
        return Err(bad("must start with /"));
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(bad("must not end with /"));
    }
    for component in path[1..].split('/') {
        if component.is_empty() || component == "." || component == ".." {
            return Err(bad("empty, . or .. component"));
        }
        if component.chars().any(|c| c.is_control()) {
            return Err(bad("control character"));
        }
    }
    Ok(())
}

/// The parent of a valid, non-root path.
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last component of a valid, non-root path.
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates() {
        for good in ["/", "/a", "/a/b", "/brokers/ids/1"] {
            assert!(validate(good).is_ok(), "{good}");
        }
        for bad in ["", "a", "/a/", "//a", "/a//b", "/a/./b", "/a/.."] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        assert!(validate(&format!("/{}", "x".repeat(PATH_BYTES_MAX))).is_err());
    }

    #[test]
    fn splits() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(name("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
