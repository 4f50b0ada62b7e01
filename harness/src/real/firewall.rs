//! Links cut with iptables inside the servers' namespaces (design.md §13). Every rule lives in a
//! namespace of ours and goes with it, but rules are also removed one by one when a fault is
//! lifted, so faults can overlap: each cut is counted, and a link is open again only when its
//! last cut is lifted.
//!
//! A link x -> y is dropped where a server is: at y's INPUT if y is a server, else at x's
//! OUTPUT. Clients share the root namespace's address, so a cut that names one client cuts
//! them all from that server (the clients never talk to each other).
//!
//! Over TCP a DROP rule is also a clog: the kernel retransmits what was dropped, and it arrives
//! once the rule is gone, unless a side gave up on the connection first.

use crate::real::shell::{self, ShellError};
use crate::real::testbed::Testbed;
use std::collections::BTreeMap;

/// Where a link's rule goes and what it matches.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    namespace: String,
    chain: &'static str,
    /// `-s` for INPUT, `-d` for OUTPUT.
    peer_flag: &'static str,
    peer: String,
}

#[derive(Default)]
pub struct Firewall {
    /// Cuts in force per rule.
    cuts: BTreeMap<Rule, u32>,
    /// The loss rule in force per namespace, as its probability text.
    loss: BTreeMap<String, String>,
}

fn iptables(namespace: &str, args: &[&str]) -> Result<String, ShellError> {
    let mut full = vec!["netns", "exec", namespace, "iptables", "-w"];
    full.extend_from_slice(args);
    shell::run("ip", &full)
}

/// Adds (`-A`) or deletes (`-D`) the rule that drops a share `probability` of what arrives.
fn loss_rule(namespace: &str, action: &str, probability: &str) -> Result<String, ShellError> {
    let rule = [
        action,
        "INPUT",
        "-m",
        "statistic",
        "--mode",
        "random",
        "--probability",
        probability,
        "-j",
        "DROP",
    ];
    iptables(namespace, &rule)
}

impl Firewall {
    fn rule(testbed: &Testbed, from: &str, to: &str) -> Option<Rule> {
        if testbed.is_server(to) {
            Some(Rule {
                namespace: testbed.namespace(to),
                chain: "INPUT",
                peer_flag: "-s",
                peer: testbed.ip(from),
            })
        } else if testbed.is_server(from) {
            Some(Rule {
                namespace: testbed.namespace(from),
                chain: "OUTPUT",
                peer_flag: "-d",
                peer: testbed.ip(to),
            })
        } else {
            None
        }
    }

    /// Drops traffic from `from` to `to`.
    pub fn cut(&mut self, testbed: &Testbed, from: &str, to: &str) -> Result<(), ShellError> {
        let Some(rule) = Self::rule(testbed, from, to) else {
            return Ok(());
        };
        let count = self.cuts.entry(rule.clone()).or_insert(0);
        *count += 1;
        if *count == 1 {
            iptables(
                &rule.namespace,
                &["-I", rule.chain, rule.peer_flag, &rule.peer, "-j", "DROP"],
            )?;
        }
        Ok(())
    }

    /// Lifts one cut of the link from `from` to `to`.
    pub fn mend(&mut self, testbed: &Testbed, from: &str, to: &str) -> Result<(), ShellError> {
        let Some(rule) = Self::rule(testbed, from, to) else {
            return Ok(());
        };
        let Some(count) = self.cuts.get_mut(&rule) else {
            return Ok(());
        };
        *count -= 1;
        if *count == 0 {
            self.cuts.remove(&rule);
            iptables(
                &rule.namespace,
                &["-D", rule.chain, rule.peer_flag, &rule.peer, "-j", "DROP"],
            )?;
        }
        Ok(())
    }

    /// Drops a share of every packet a server receives (0: none).
    pub fn set_loss(
        &mut self,
        testbed: &Testbed,
        servers: &[String],
        rate: f64,
    ) -> Result<(), ShellError> {
        for host in servers {
            let namespace = testbed.namespace(host);
            if let Some(old) = self.loss.remove(&namespace) {
                loss_rule(&namespace, "-D", &old)?;
            }
            if rate > 0.0 {
                let probability = format!("{rate:.4}");
                loss_rule(&namespace, "-A", &probability)?;
                self.loss.insert(namespace, probability);
            }
        }
        Ok(())
    }
}
