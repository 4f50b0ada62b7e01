//! `rate-bound`: a gateway admits no more requests than its token bucket can pay for.
//!
//! Fault model. The bucket behind a token key gains `r` tokens per second and holds at most `C`
//! (the final state's `token-buckets`); its generator is synchronous, with one send in flight.
//! A gateway admits a request only after it took a token (`admit` ok). Whatever the faults,
//! a correct bucket hands out, within any closed interval of length `L`, at most the tokens it
//! held when the interval began (`C`), plus the tokens generated inside it (`r·L`, and one more
//! because a closed interval can hold one tick more than `r·L`), plus the generator's one
//! in-flight send, whose tick came earlier but which can land inside (one more). So every set
//! `S` of admissions that certainly happened within one interval of length `L` keeps
//!
//! ```text
//! |S| <= ceil(r·L) + C + 2
//! ```
//!
//! An admission happened at an unknown instant between its op's invoke and completion times;
//! `info` and unfinished admits may not have happened and are never counted.
//!
//! - `rate-exceeded`: more admissions certainly inside one interval than the bound allows.
//!   One anomaly per key, for its worst window.
//! - `double-take`: two ok admits took the same token (one offset of the token key): the
//!   bucket paid for two requests with one token. A take deletes its token with a
//!   compare-and-set on the queue's head, so this can only happen if an acknowledged delete
//!   was lost (a new leader without it) or the compare-and-set is broken.
//!
//! Unknown: the history has no `admit` op, or admits on a key the final state gives no token
//! bucket for (or has no final state at all).
//!
//! Algorithm: one n log n sort per key, then a linear scan. Sort the key's ok admits by
//! completion time `c`; let `lo_i` be the smallest invoke time at positions `>= i` (a suffix
//! minimum). For `i <= j`, the admissions at positions `i..=j` all lie in `[lo_i, c_j]`.
//! `ceil` does not make the bound non-linear: for an integer `n` and a real `x`,
//! `n > ceil(x) + C + 2` exactly when `n - C - 3 >= x`. So a violation is
//!
//! ```text
//! (j - i + 1) - (C + 3) >= r·(c_j - lo_i) / 1e9
//! ```
//!
//! With `r` in billionths of a token per second ([`TokenRate`]) and both sides times 1e18,
//! every term is an integer (`i128`: `r <= 1e18` and times `< 2^64` keep products below
//! 2^125), so there is no rounding at all: admissions exactly at the allowance are valid and
//! one more is invalid. The margin `(j + 1)·1e18 - r·c_j + (r·lo_i - i·1e18)` splits into a
//! term of `j` and a term of `i`, so scanning `j` while keeping the best `i` so far finds the
//! window with the largest margin — the most admissions above the rate's allowance.
//!
//! The scan is sound — every window it reports is a proof, so a correct bucket is never
//! reported — but not complete: when a window's start comes from a long admit, shorter admits
//! nested inside its span that completed before the window's first position are not counted.

use super::{Anomaly, CheckOptions, CheckResult, Checker, Findings};
use crate::history::{BodyKind, BodyView, History, KeyId, OpType, TokenBucket, TokenRate, F};
use std::time::Duration;

pub const NAME: &str = "rate-bound";

/// The anomalies this check reports.
pub const ANOMALIES: &[&str] = &["rate-exceeded", "double-take"];

/// At most this many admissions are named as proof of one window; the rest are counted.
const OPS_LISTED_MAX: usize = 50;

/// Nanoseconds per second times billionths of a token per token: the common scale of the
/// bound's terms.
const SCALE: i128 = 1_000_000_000_000_000_000;

/// Slack a correct bucket needs beyond `ceil(r·L) + C`: one tick for the closed window, one
/// for the generator's send in flight.
const SLACK: u64 = 2;

#[derive(Clone, Copy, Debug, Default)]
pub struct RateBound;

/// One ok admit.
#[derive(Clone, Copy, Debug)]
struct Admission {
    invoked: u64,
    completed: u64,
    /// Index of the invoke.
    invoke: u64,
    /// Index of the ok completion.
    op: u64,
}

/// The admissions at sorted positions `first..=last`, all inside `[start, end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    first: usize,
    last: usize,
    start: u64,
    end: u64,
    /// The invoke whose time is `start`.
    start_op: u64,
}

impl Checker for RateBound {
    fn name(&self) -> &'static str {
        NAME
    }

    fn anomalies(&self) -> &'static [&'static str] {
        ANOMALIES
    }

    fn applies(&self, history: &History) -> bool {
        history.ops().iter().any(|op| op.f == F::Admit)
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let mut findings = Findings::default();
        let mut admissions: Vec<Vec<Admission>> = vec![Vec::new(); history.keys().len()];
        // Per key: the first admit op of any type.
        let mut asked: Vec<Option<u64>> = vec![None; history.keys().len()];
        // (key, token offset, token value, op) of every ok admit.
        let mut taken: Vec<(KeyId, u64, i64, u64)> = Vec::new();
        for (op, body) in history.entries_of(&[BodyKind::Admit]) {
            let BodyView::Admit(admit) = body else {
                continue;
            };
            asked[admit.key.slot()].get_or_insert(op.index);
            if op.kind != OpType::Ok {
                continue;
            }
            if let Some(token) = admit.token {
                taken.push((admit.key, token.offset, token.value, op.index));
            }
            let Some(invoke) = history.invoke_of(op.index) else {
                continue;
            };
            admissions[admit.key.slot()].push(Admission {
                invoked: history.time(invoke),
                completed: op.time,
                invoke,
                op: op.index,
            });
        }
        if asked.iter().all(Option::is_none) {
            findings.doubt(|| "the history has no admit op".to_string());
            return findings.finish();
        }
        taken.sort_unstable();
        for run in taken.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            if run.len() > 1 {
                let (key, offset, value, _) = run[0];
                let key_name = history.key_name(key);
                findings.add(
                    "double-take",
                    Anomaly::new(format!(
                        "{} admits took the token at {key_name} offset {offset} (value {value}).",
                        run.len()
                    ))
                    .key(key_name)
                    .value(value)
                    .offsets([offset])
                    .ops(run.iter().map(|&(_, _, _, op)| op)),
                );
            }
        }

        let final_state = history.final_state();
        let buckets = final_state.and_then(|(_, state)| state.token_buckets.as_ref());
        for (slot, first) in asked.iter().enumerate() {
            let Some(first) = *first else { continue };
            let key = KeyId(slot as u32);
            let key_name = history.key_name(key);
            let Some(bucket) = buckets.and_then(|buckets| buckets.get(&key)) else {
                findings.doubt(|| match final_state {
                    None => format!(
                        "{key_name} has admit ops (op {first}), but the history has no final-state op to say what its token bucket is"
                    ),
                    Some((index, _)) => format!(
                        "{key_name} has admit ops (op {first}), but the final state (op {index}) records no token bucket for it (\"token-buckets\")"
                    ),
                });
                continue;
            };
            let admitted = &mut admissions[slot];
            let Some(window) = worst_window(admitted, bucket) else {
                continue;
            };
            findings.add("rate-exceeded", anomaly(key_name, admitted, bucket, window));
        }
        findings.finish()
    }
}

/// The window with the largest margin over the bound, if the margin shows a violation. Sorts
/// `admitted` by completion time.
fn worst_window(admitted: &mut [Admission], bucket: &TokenBucket) -> Option<Window> {
    admitted.sort_unstable_by_key(|a| (a.completed, a.invoked, a.op));
    // lo_i and the invoke it comes from.
    let mut low = vec![(u64::MAX, u64::MAX); admitted.len()];
    let mut min = (u64::MAX, u64::MAX);
    for (position, admission) in admitted.iter().enumerate().rev() {
        if admission.invoked < min.0 {
            min = (admission.invoked, admission.invoke);
        }
        low[position] = min;
    }
    let rate = i128::from(bucket.rate.nanotokens_per_s);
    // (r·lo_i - i·SCALE, i) for the best i so far; (margin, i, j) for the best window.
    let mut start_best: Option<(i128, usize)> = None;
    let mut worst: Option<(i128, usize, usize)> = None;
    for (j, admission) in admitted.iter().enumerate() {
        let start_term = rate * i128::from(low[j].0) - j as i128 * SCALE;
        if start_best.is_none_or(|(best, _)| start_term > best) {
            start_best = Some((start_term, j));
        }
        let (start_term, i) = start_best.expect("set above");
        let margin = (j as i128 + 1) * SCALE - rate * i128::from(admission.completed) + start_term;
        if worst.is_none_or(|(best, _, _)| margin > best) {
            worst = Some((margin, i, j));
        }
    }
    let (margin, first, last) = worst?;
    let threshold = (i128::from(bucket.capacity) + i128::from(SLACK) + 1) * SCALE;
    (margin >= threshold).then(|| Window {
        first,
        last,
        start: low[first].0,
        end: admitted[last].completed,
        start_op: low[first].1,
    })
}

/// `ceil(r·L) + C + 2`: the most admissions a correct bucket allows in `length_ns`.
fn allowed(rate: TokenRate, capacity: u64, length_ns: u64) -> u128 {
    let scale = SCALE as u128;
    let tokens = u128::from(rate.nanotokens_per_s) * u128::from(length_ns);
    tokens.div_ceil(scale) + u128::from(capacity) + u128::from(SLACK)
}

fn anomaly(
    key_name: &str,
    admitted: &[Admission],
    bucket: &TokenBucket,
    window: Window,
) -> Anomaly {
    let count = window.last - window.first + 1;
    let length_ns = window.end - window.start;
    let allowed = allowed(bucket.rate, bucket.capacity, length_ns);
    let mut ops: Vec<u64> = admitted[window.first..=window.last]
        .iter()
        .map(|admission| admission.op)
        .collect();
    ops.sort_unstable();
    let omitted = ops.len().saturating_sub(OPS_LISTED_MAX);
    ops.truncate(OPS_LISTED_MAX);
    let mut anomaly = Anomaly::new(format!(
        "{key_name} admitted {count} requests within {:?} (from {} ns to {} ns), but a token bucket of {} tokens/s holding at most {} allows at most {allowed} in a window that long.",
        Duration::from_nanos(length_ns),
        window.start,
        window.end,
        bucket.rate,
        bucket.capacity,
    ))
    .key(key_name)
    .ops(ops)
    .detail("window_start", window.start)
    .detail("window_end", window.end)
    .detail("window_start_op", window.start_op)
    .detail("admitted", count as u64)
    .detail("allowed", u64::try_from(allowed).unwrap_or(u64::MAX))
    .detail("rate_per_s", bucket.rate.to_string())
    .detail("capacity", bucket.capacity);
    if omitted > 0 {
        anomaly = anomaly.detail("ops_omitted", omitted as u64);
    }
    anomaly
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testing::{assert_exactly, assert_unknown, assert_valid, check};
    use std::fmt::Write as _;

    /// Admits on tokens/0, one process each, as (invoke ns, completion ns), then a final state
    /// with the bucket `bucket` (a JSON object).
    fn admits(spans: &[(u64, u64)], bucket: &str) -> String {
        // Every event in time order: (time, 0 = invoke | 1 = completion, request).
        let mut events: Vec<(u64, u8, usize)> = Vec::new();
        for (request, &(invoked, completed)) in spans.iter().enumerate() {
            events.push((invoked, 0, request));
            events.push((completed, 1, request));
        }
        events.sort_unstable();
        let mut text = String::new();
        for (index, &(time, kind, request)) in events.iter().enumerate() {
            let process = request + 1;
            let (kind, token) = match kind {
                0 => ("invoke", String::new()),
                _ => ("ok", format!(",\"token\":[{request},{}]", 1000 + request)),
            };
            writeln!(
                text,
                r#"{{"index":{index},"time":{time},"process":{process},"type":"{kind}","f":"admit","value":{{"key":"tokens/0","request":{request}{token}}}}}"#
            )
            .unwrap();
        }
        let end = events.last().map_or(0, |e| e.0);
        writeln!(
            text,
            r#"{{"index":{},"time":{end},"process":"nemesis","type":"ok","f":"final-state","value":{{"token-buckets":{{"tokens/0":{bucket}}}}}}}"#,
            events.len()
        )
        .unwrap();
        text
    }

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn three_admissions_at_one_instant_exceed_an_empty_bucket() {
        // r = 1/s, C = 0: in a window of length 0 at most ceil(0) + 0 + 2 = 2 admissions.
        let result = check(
            &RateBound,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":1}}
               {"index":1,"time":1000,"process":2,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":2}}
               {"index":2,"time":1000,"process":3,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":3}}
               {"index":3,"time":1000,"process":1,"type":"ok","f":"admit","value":{"key":"tokens/0","request":1,"token":[0,100]}}
               {"index":4,"time":1000,"process":2,"type":"ok","f":"admit","value":{"key":"tokens/0","request":2,"token":[1,101]}}
               {"index":5,"time":1000,"process":3,"type":"ok","f":"admit","value":{"key":"tokens/0","request":3,"token":[2,102]}}
               {"index":6,"time":2000,"process":"nemesis","type":"ok","f":"final-state","value":{"token-buckets":{"tokens/0":{"rate-per-s":1,"capacity":0}}}}"#,
        );
        assert_exactly(&result, &["rate-exceeded"]);
        let anomaly = &result.anomalies["rate-exceeded"][0];
        assert_eq!(anomaly.key.as_deref(), Some("tokens/0"));
        assert_eq!(anomaly.ops, vec![3, 4, 5]);
        assert_eq!(anomaly.detail["admitted"], 3);
        assert_eq!(anomaly.detail["allowed"], 2);
        assert_eq!(anomaly.detail["window_start"], 1000);
        assert_eq!(anomaly.detail["window_end"], 1000);
    }

    #[test]
    fn two_admissions_at_one_instant_are_the_slack() {
        let result = check(
            &RateBound,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":1}}
               {"index":1,"time":1000,"process":2,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":2}}
               {"index":2,"time":1000,"process":3,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":3}}
               {"index":3,"time":1000,"process":1,"type":"ok","f":"admit","value":{"key":"tokens/0","request":1,"token":[0,100]}}
               {"index":4,"time":1000,"process":2,"type":"ok","f":"admit","value":{"key":"tokens/0","request":2,"token":[1,101]}}
               {"index":5,"time":1000,"process":3,"type":"fail","f":"admit","value":{"key":"tokens/0","request":3}}
               {"index":6,"time":2000,"process":"nemesis","type":"ok","f":"final-state","value":{"token-buckets":{"tokens/0":{"rate-per-s":1,"capacity":0}}}}"#,
        );
        assert_valid(&result);
    }

    #[test]
    fn exactly_the_allowance_is_valid_and_one_more_is_not() {
        // r = 2/s, C = 1 over [0, 1 s]: ceil(2 · 1) + 1 + 2 = 5 admissions, at 0, 0.25, 0.5,
        // 0.75 and 1 s. r·L is a whole number here, where an inexact ceil would slip.
        let bucket = r#"{"rate-per-s":2,"capacity":1}"#;
        let at_allowance: Vec<(u64, u64)> =
            (0..5).map(|k| (k * SECOND / 4, k * SECOND / 4)).collect();
        assert_valid(&check(&RateBound, &admits(&at_allowance, bucket)));

        let mut one_more = at_allowance.clone();
        one_more.push((SECOND, SECOND));
        let result = check(&RateBound, &admits(&one_more, bucket));
        assert_exactly(&result, &["rate-exceeded"]);
        let anomaly = &result.anomalies["rate-exceeded"][0];
        assert_eq!(anomaly.detail["admitted"], 6);
        assert_eq!(anomaly.detail["allowed"], 5);
        assert_eq!(
            (
                &anomaly.detail["window_start"],
                &anomaly.detail["window_end"]
            ),
            (&serde_json::json!(0), &serde_json::json!(SECOND))
        );
        assert_eq!(anomaly.ops.len(), 6);
    }

    #[test]
    fn a_fractional_rate_is_exact() {
        // r = 0.5/s, C = 0 over [0, 4 s]: ceil(0.5 · 4) + 0 + 2 = 4.
        let bucket = r#"{"rate-per-s":0.5,"capacity":0}"#;
        let spans = [(0, 0), (4 * SECOND, 4 * SECOND)];
        let four: Vec<(u64, u64)> = spans.iter().chain(&spans).copied().collect();
        // Two at 0 and two at 4 s: each instant holds 2 (the slack), the whole window 4.
        assert_valid(&check(&RateBound, &admits(&four, bucket)));
        let mut five = four.clone();
        five.push((2 * SECOND, 2 * SECOND));
        assert_exactly(
            &check(&RateBound, &admits(&five, bucket)),
            &["rate-exceeded"],
        );
    }

    #[test]
    fn long_overlapping_admits_prove_nothing_beyond_their_span() {
        // r = 1/s, C = 0: twelve admits all open over [0, 10 s] may have happened one per
        // second; ceil(10) + 0 + 2 = 12 fit.
        let bucket = r#"{"rate-per-s":1,"capacity":0}"#;
        let twelve = vec![(0, 10 * SECOND); 12];
        assert_valid(&check(&RateBound, &admits(&twelve, bucket)));
        let thirteen = vec![(0, 10 * SECOND); 13];
        let result = check(&RateBound, &admits(&thirteen, bucket));
        assert_exactly(&result, &["rate-exceeded"]);
        assert_eq!(result.anomalies["rate-exceeded"][0].detail["allowed"], 12);
    }

    #[test]
    fn a_burst_inside_a_long_run_is_the_worst_window() {
        // A steady 1/s for 20 s, then ten admissions within one millisecond at 30 s. With
        // r = 1/s and C = 3 the burst allows ceil(0.001) + 3 + 2 = 6.
        let bucket = r#"{"rate-per-s":1,"capacity":3}"#;
        let mut spans: Vec<(u64, u64)> = (0..20).map(|s| (s * SECOND, s * SECOND + 1)).collect();
        spans.extend((0..10).map(|k| (30 * SECOND + k * 100_000, 30 * SECOND + k * 100_000)));
        let result = check(&RateBound, &admits(&spans, bucket));
        assert_exactly(&result, &["rate-exceeded"]);
        let anomaly = &result.anomalies["rate-exceeded"][0];
        assert_eq!(anomaly.detail["admitted"], 10);
        assert_eq!(anomaly.detail["allowed"], 6);
        assert_eq!(anomaly.detail["window_start"], 30 * SECOND);
    }

    #[test]
    fn the_proof_lists_at_most_fifty_admissions() {
        let bucket = r#"{"rate-per-s":1,"capacity":0}"#;
        let spans = vec![(5, 5); 60];
        let result = check(&RateBound, &admits(&spans, bucket));
        assert_exactly(&result, &["rate-exceeded"]);
        let anomaly = &result.anomalies["rate-exceeded"][0];
        assert_eq!(anomaly.ops.len(), OPS_LISTED_MAX);
        assert_eq!(anomaly.detail["ops_omitted"], 10);
        assert_eq!(anomaly.detail["admitted"], 60);
    }

    #[test]
    fn info_admits_are_never_counted() {
        let result = check(
            &RateBound,
            r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":1}}
               {"index":1,"time":1000,"process":2,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":2}}
               {"index":2,"time":1000,"process":3,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":3}}
               {"index":3,"time":1000,"process":1,"type":"ok","f":"admit","value":{"key":"tokens/0","request":1,"token":[0,100]}}
               {"index":4,"time":1000,"process":2,"type":"ok","f":"admit","value":{"key":"tokens/0","request":2,"token":[1,101]}}
               {"index":5,"time":1000,"process":3,"type":"info","f":"admit","value":{"key":"tokens/0","request":3}}
               {"index":6,"time":2000,"process":"nemesis","type":"ok","f":"final-state","value":{"token-buckets":{"tokens/0":{"rate-per-s":1,"capacity":0}}}}"#,
        );
        assert_valid(&result);
    }

    #[test]
    fn unknown_without_a_bucket_or_a_final_state() {
        let admit = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":1}}
            {"index":1,"time":2000,"process":1,"type":"ok","f":"admit","value":{"key":"tokens/0","request":1,"token":[0,100]}}"#;
        let reason = assert_unknown(&check(&RateBound, admit));
        assert!(reason.contains("no final-state"), "{reason}");
        let other_key = format!(
            "{admit}\n{}",
            r#"{"index":2,"time":3000,"process":"nemesis","type":"ok","f":"final-state","value":{"token-buckets":{"tokens/1":{"rate-per-s":1,"capacity":0}}}}"#
        );
        let reason = assert_unknown(&check(&RateBound, &other_key));
        assert!(
            reason.contains("records no token bucket for it"),
            "{reason}"
        );
        let reason = assert_unknown(&check(
            &RateBound,
            r#"{"index":0,"time":1000,"process":"nemesis","type":"info","f":"heal","value":null}"#,
        ));
        assert!(reason.contains("no admit op"), "{reason}");
    }

    #[test]
    fn a_violation_beats_an_unknown_key() {
        // tokens/1 has no bucket (unknown), but tokens/0 provably exceeded its own.
        let mut text = admits(&[(5, 5); 3], r#"{"rate-per-s":1,"capacity":0}"#);
        let final_state = text.lines().last().unwrap().to_string();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.pop();
        lines.push(r#"{"index":6,"time":5,"process":9,"type":"invoke","f":"admit","value":{"key":"tokens/1","request":9}}"#.to_string());
        lines.push(final_state.replace("\"index\":6", "\"index\":7"));
        text = lines.join("\n");
        assert_exactly(&check(&RateBound, &text), &["rate-exceeded"]);
    }

    #[test]
    fn the_worst_window_matches_a_brute_force_search() {
        // The quadratic search over every run i..=j in completion order (with its suffix-minimum
        // start) finds a violation exactly when the linear scan does, and the scan's window
        // is always a real one: every admission in it lies inside it, and they exceed the bound.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..300 {
            let count = rng.random_range(1..12);
            let mut spans: Vec<(u64, u64)> = (0..count)
                .map(|_| {
                    let invoked = rng.random_range(0..4_000u64);
                    (invoked, invoked + rng.random_range(0..1_500u64))
                })
                .collect();
            spans.sort_unstable();
            let bucket = TokenBucket {
                rate: TokenRate {
                    nanotokens_per_s: rng.random_range(1..3_000_000_000_000_000u64),
                },
                capacity: rng.random_range(0..3),
            };
            let mut admitted: Vec<Admission> = spans
                .iter()
                .enumerate()
                .map(|(k, &(invoked, completed))| Admission {
                    invoked,
                    completed,
                    invoke: 2 * k as u64,
                    op: 2 * k as u64 + 1,
                })
                .collect();
            // Brute force over every contiguous run in completion order with its true span.
            let mut sorted = admitted.clone();
            sorted.sort_unstable_by_key(|a| (a.completed, a.invoked, a.op));
            let mut violated = false;
            for i in 0..sorted.len() {
                for j in i..sorted.len() {
                    let start = sorted[i..].iter().map(|a| a.invoked).min().unwrap();
                    let length = sorted[j].completed - start;
                    let limit = allowed(bucket.rate, bucket.capacity, length);
                    if (j - i + 1) as u128 > limit {
                        violated = true;
                    }
                }
            }
            let found = worst_window(&mut admitted, &bucket);
            assert_eq!(found.is_some(), violated, "{spans:?} {bucket:?}");
            if let Some(window) = found {
                let inside = admitted[window.first..=window.last]
                    .iter()
                    .all(|a| a.invoked >= window.start && a.completed <= window.end);
                let count = (window.last - window.first + 1) as u128;
                let limit = allowed(bucket.rate, bucket.capacity, window.end - window.start);
                assert!(inside && count > limit, "{spans:?} {window:?}");
            }
        }
    }

    #[test]
    fn one_token_taken_by_two_admits_is_a_double_take() {
        // Well within the rate (1/s, capacity 5), but token 0 paid for requests 1 and 2.
        let history = r#"{"index":0,"time":1000,"process":1,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":1}}
               {"index":1,"time":2000,"process":1,"type":"ok","f":"admit","value":{"key":"tokens/0","request":1,"token":[0,100]}}
               {"index":2,"time":5000000000,"process":2,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":2}}
               {"index":3,"time":5000001000,"process":2,"type":"ok","f":"admit","value":{"key":"tokens/0","request":2,"token":[0,100]}}
               {"index":4,"time":6000000000,"process":2,"type":"invoke","f":"admit","value":{"key":"tokens/0","request":3}}
               {"index":5,"time":6000001000,"process":2,"type":"ok","f":"admit","value":{"key":"tokens/0","request":3,"token":[1,101]}}
               {"index":6,"time":7000000000,"process":"nemesis","type":"ok","f":"final-state","value":{"token-buckets":{"tokens/0":{"rate-per-s":1,"capacity":5}}}}"#;
        let result = check(&RateBound, history);
        assert_exactly(&result, &["double-take"]);
        let anomaly = &result.anomalies["double-take"][0];
        assert_eq!(anomaly.ops, vec![1, 3]);
        assert_eq!(anomaly.offsets, vec![0]);
        // Distinct tokens, the same spacing: valid.
        let result = check(
            &RateBound,
            &history.replace(
                "[0,100]}}\n               {\"index\":4",
                "[2,102]}}\n               {\"index\":4",
            ),
        );
        assert_valid(&result);
    }
}
