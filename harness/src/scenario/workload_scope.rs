//! What every workload section shares: how many clients a run may have, a section's client
//! count, and which topics a section may name. Its own file so that `workload` and the
//! sections it calls (`consumers`, `token_bucket`, `coordinator_clients`) need not name each
//! other.

use super::cluster::Topic;
use super::error::{Invalid, Problem};
use super::field_readers::count;
use super::locate::YamlPath;

/// Most clients (all kinds together) in one simulation.
pub const CLIENTS_MAX: u32 = 64;

/// Which topics a workload section may name: every topic of the cluster except the token
/// bucket's, which belongs to the token generator and the gateways.
pub struct TopicScope<'a> {
    pub topics: &'a [Topic],
    pub bucket: Option<&'a str>,
}

impl TopicScope<'_> {
    /// `raw` checked against the cluster, or every topic in scope when absent.
    pub fn resolve(&self, raw: Option<&[String]>, path: &YamlPath) -> Result<Vec<String>, Invalid> {
        let in_scope: Vec<&str> = self
            .topics
            .iter()
            .map(|t| t.name.as_str())
            .filter(|name| Some(*name) != self.bucket)
            .collect();
        let Some(names) = raw else {
            if in_scope.is_empty() {
                let problem = Problem::Conflict {
                    message: "no topic to use: the only topic is the token bucket's".to_owned(),
                };
                return Err(Invalid::new(path, problem, "declare another topic"));
            }
            return Ok(in_scope.iter().map(|name| (*name).to_owned()).collect());
        };
        if names.is_empty() {
            let problem = Problem::Conflict {
                message: "topics is empty".to_owned(),
            };
            return Err(Invalid::new(
                path,
                problem,
                "name a topic, or remove topics for all",
            ));
        }
        let mut resolved: Vec<String> = Vec::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            let here = path.index(index);
            if Some(name.as_str()) == self.bucket {
                let problem = Problem::Conflict {
                    message: format!("\"{name}\" is the token bucket's topic"),
                };
                let hint = "tokens are sent by the token generator and taken by the gateways";
                return Err(Invalid::new(&here, problem, hint));
            }
            if !in_scope.contains(&name.as_str()) {
                let problem = Problem::Conflict {
                    message: format!("unknown topic \"{name}\""),
                };
                let hint = format!("known topics: {}", in_scope.join(", "));
                return Err(Invalid::new(&here, problem, hint));
            }
            if resolved.contains(name) {
                let problem = Problem::Conflict {
                    message: format!("topic \"{name}\" is listed twice"),
                };
                return Err(Invalid::new(&here, problem, "list each topic once"));
            }
            resolved.push(name.clone());
        }
        Ok(resolved)
    }
}

pub fn resolve_count(value: Option<u64>, default: u32, path: &YamlPath) -> Result<u32, Invalid> {
    match value {
        None => Ok(default),
        Some(value) => count(
            value,
            &path.key("count"),
            "count",
            1,
            CLIENTS_MAX,
            "1 to 64 clients; to have none, remove the section",
        ),
    }
}
