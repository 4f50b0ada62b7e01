//! Builds a [`History`] one op at a time, in history order, so a reader can stream: each
//! completion is matched to its invoke, process ids reused after an `info` become new logical
//! processes, and the log the ops imply is inferred on the way.

use super::bodies::Bodies;
use super::spare_vecs::SpareVecs;
use super::*;

/// At most this many reused process ids are named in the note about them.
const REUSES_LISTED_MAX: usize = 5;

/// The note about process ids used again after an `info`, if any were.
fn reuse_note(reuses: &[(u64, u64, u64)]) -> Option<String> {
    let listed: Vec<String> = reuses
        .iter()
        .take(REUSES_LISTED_MAX)
        .map(|(id, info, again)| {
            format!("process {id} at op {again} (after its info at op {info})")
        })
        .collect();
    if listed.is_empty() {
        return None;
    }
    let rest = reuses.len() - listed.len();
    let more = if rest > 0 {
        format!(" and {rest} more")
    } else {
        String::new()
    };
    Some(format!(
        "process ids used again after an info are judged as new logical processes: {}{more}",
        listed.join(", ")
    ))
}

struct Open {
    invoke: u64,
}

/// Client process ids below this find their slot by position in a vector (4 bytes an id up to
/// the largest seen, 4 MiB at most); larger ones in a map. Jepsen numbers processes from 0 and
/// a reconnected client takes the next free number, so real ids stay small.
const CLIENT_IDS_DIRECT: u64 = 1 << 20;

/// Client process id -> its current slot: looked up once an op, so small ids skip the map
/// (its search was a tenth of [`Builder::push`]).
#[derive(Default)]
struct ClientSlots {
    /// Slot by id, for ids below [`CLIENT_IDS_DIRECT`]; [`SLOT_NONE`] where none is known.
    direct: Vec<u32>,
    other: BTreeMap<u64, u32>,
}

/// No slot yet, in [`ClientSlots::direct`].
const SLOT_NONE: u32 = u32::MAX;

impl ClientSlots {
    fn get(&self, id: u64) -> Option<u32> {
        if id < CLIENT_IDS_DIRECT {
            let slot = *self.direct.get(id as usize)?;
            (slot != SLOT_NONE).then_some(slot)
        } else {
            self.other.get(&id).copied()
        }
    }

    fn insert(&mut self, id: u64, slot: u32) {
        assert_ne!(slot, SLOT_NONE, "fewer than 2^32 - 1 slots");
        if id < CLIENT_IDS_DIRECT {
            let at = id as usize;
            if at >= self.direct.len() {
                self.direct.resize(at + 1, SLOT_NONE);
            }
            self.direct[at] = slot;
        } else {
            self.other.insert(id, slot);
        }
    }
}

/// Validates and indexes ops one at a time, in history order, so a reader can stream them:
/// [`Builder::push`] each op's head and decoded value, then [`Builder::finish`].
pub(crate) struct Builder {
    errors: Vec<HistoryError>,
    keys: Keys,
    txns: Txns,
    heads: Heads,
    bodies: Bodies,
    partner: Vec<u32>,
    slot_of: ClientSlots,
    open: Vec<Option<Open>>,
    retired: Vec<Option<u64>>,
    /// (process id, its info, the op that used it again).
    reuses: Vec<(u64, u64, u64)>,
    final_state: Option<u64>,
    heal: Option<u64>,
    last_stop: Option<u64>,
    drain: Option<u64>,
    previous_time: u64,
    /// Admit request id -> the invoke that asked first.
    requests: BTreeMap<i64, u64>,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            errors: Vec::new(),
            keys: Keys::default(),
            txns: Txns::default(),
            heads: Heads::new(),
            bodies: Bodies::default(),
            partner: Vec::new(),
            slot_of: ClientSlots::default(),
            open: Vec::new(),
            retired: Vec::new(),
            reuses: Vec::new(),
            final_state: None,
            heal: None,
            last_stop: None,
            drain: None,
            previous_time: 0,
            requests: BTreeMap::new(),
        }
    }

    /// The interners (keys, transaction ids) the next op's value is decoded with.
    pub(crate) fn interners(&mut self) -> (&mut Keys, &mut Txns) {
        (&mut self.keys, &mut self.txns)
    }

    /// What the fast reader ([`super::line`]) reads the next op's value with: the interners,
    /// and the vectors of values already stored.
    pub(crate) fn line_parts(&mut self) -> (&mut Keys, &mut Txns, &mut SpareVecs) {
        (&mut self.keys, &mut self.txns, self.bodies.spare())
    }

    /// Ops pushed so far.
    pub(crate) fn len(&self) -> usize {
        self.heads.len()
    }

    /// Adds the next op: its head, and its value decoded with [`Builder::interners`] (or why it
    /// could not be).
    pub(crate) fn push(&mut self, op: OpHead, decoded: Result<Body, String>) {
        let position = self.heads.len();
        let index = position as u64;
        let errors = &mut self.errors;
        let mut fail = |error: OpError| {
            if errors.len() < ERRORS_MAX {
                errors.push(HistoryError { index, error });
            }
        };
        if op.index != index {
            fail(OpError::Index {
                expected: index,
                found: op.index,
            });
        }
        if op.time < self.previous_time {
            fail(OpError::TimeBackwards {
                previous: self.previous_time,
                time: op.time,
            });
        }
        self.previous_time = self.previous_time.max(op.time);

        // Dense process slots; the nemesis takes slot u32::MAX until the end.
        let open = &mut self.open;
        let retired = &mut self.retired;
        let heads = &mut self.heads;
        let slot = match op.process {
            Process::Nemesis => heads::NEMESIS_PENDING,
            Process::Client(id) => {
                let mut slot = match self.slot_of.get(id) {
                    Some(slot) => slot,
                    None => {
                        let next = open.len() as u32;
                        self.slot_of.insert(id, next);
                        open.push(None);
                        retired.push(None);
                        let named = heads.add_slot(op.process);
                        assert_eq!(named, next, "slots are numbered as opened");
                        next
                    }
                };
                // Jepsen's histories may use a process id again after an `info`: what
                // follows is a new logical process (a reconnected client), never the old
                // one continuing, so its reads and sends are not compared with the old
                // one's.
                if let Some(info) = retired[slot as usize] {
                    let next = open.len() as u32;
                    self.slot_of.insert(id, next);
                    open.push(None);
                    retired.push(None);
                    let named = heads.add_slot(op.process);
                    assert_eq!(named, next, "slots are numbered as opened");
                    self.reuses.push((id, info, index));
                    slot = next;
                }
                slot
            }
        };
        if self.heads.push(&op, slot).is_err() {
            fail(OpError::Functions {
                max: heads::FUNCTIONS_MAX,
            });
        }
        assert!(
            index < u64::from(PARTNER_NONE),
            "a history holds fewer than 2^32 - 1 ops"
        );
        self.partner.push(PARTNER_NONE);

        // An undecodable value is reported and read as opaque, so pairing still runs and
        // one bad line yields one problem, not a cascade.
        let (body, decoded) = match decoded {
            Ok(body) => (body, true),
            Err(reason) => {
                fail(OpError::Value(reason));
                (Body::Opaque, false)
            }
        };

        match (&op.process, &op.f) {
            (Process::Nemesis, f) if f.is_request() => fail(OpError::Process(format!(
                "\"{f}\" is a client function; the nemesis cannot perform it"
            ))),
            (Process::Nemesis, F::Expired) => fail(OpError::Process(
                "\"expired\" is a consumer's event; the nemesis cannot perform it".to_string(),
            )),
            (Process::Client(id), f) if f.is_nemesis_only() => fail(OpError::Process(format!(
                "process {id} performed \"{f}\", which only the nemesis performs (client functions: {})",
                op::CLIENT_FUNCTIONS
            ))),
            _ => {}
        }

        match &op.f {
            F::FinalState => {
                if let Some(first) = self.final_state {
                    fail(OpError::Pairing(format!(
                        "a second final-state op (the first is op {first}); record the ground truth once"
                    )));
                } else {
                    self.final_state = Some(index);
                }
            }
            F::Heal => self.heal = Some(index),
            F::Stop(_) => self.last_stop = Some(index),
            F::Drain => {
                self.drain.get_or_insert(index);
            }
            F::Admit if op.kind == OpType::Invoke => {
                if let Body::Admit(admit) = &body {
                    if let Some(&first) = self.requests.get(&admit.request) {
                        fail(OpError::DuplicateRequest {
                            request: admit.request,
                            first,
                        });
                    } else {
                        self.requests.insert(admit.request, index);
                    }
                }
            }
            _ => {}
        }

        // The invoke this op completes, once matched: its value and this one's may be stored
        // once.
        let mut matched = None;
        if let Process::Client(id) = op.process {
            let slot = slot as usize;
            // Jepsen records a client crash as an invoke and an `info`; faultline as one
            // event.
            let crash_request = op.f == F::Crash
                && (op.kind == OpType::Invoke
                    || open[slot]
                        .as_ref()
                        .is_some_and(|still| *self.heads.f(still.invoke) == F::Crash));
            if op.f.is_request() || crash_request {
                if op.kind == OpType::Invoke {
                    if let Some(still) = &open[slot] {
                        fail(OpError::Pairing(format!(
                            "process {id} invoked again while op {} is still open",
                            still.invoke
                        )));
                    }
                    open[slot] = Some(Open { invoke: index });
                } else {
                    match open[slot].take() {
                        None if !decoded => {}
                        None => fail(OpError::Pairing(format!(
                            "process {id} completed \"{}\" with no open invoke",
                            op.f
                        ))),
                        Some(Open { invoke }) => {
                            let invoked = self.heads.f(invoke);
                            if *invoked != op.f {
                                fail(OpError::Pairing(format!(
                                    "process {id} completed \"{}\" but its open invoke (op {invoke}) is \"{}\"",
                                    op.f, invoked
                                )));
                            } else if let Err(reason) =
                                matches_invoke(self.bodies.get(invoke), &body)
                            {
                                fail(OpError::Pairing(format!(
                                    "the completion does not match its invoke (op {invoke}): {reason}"
                                )));
                            } else {
                                self.partner[invoke as usize] = index as u32;
                                self.partner[position] = invoke as u32;
                                matched = Some(invoke);
                            }
                        }
                    }
                    if op.kind == OpType::Info {
                        retired[slot] = Some(index);
                    }
                }
            } else if op.kind == OpType::Invoke {
                fail(OpError::Pairing(format!(
                    "\"{}\" is an event, recorded once as ok or info, never invoked",
                    op.f
                )));
            }
        }
        match matched {
            Some(invoke) => self.bodies.push_completion(invoke, body),
            None => self.bodies.push(body),
        }
    }

    /// Infers the log and returns the history, or up to [`ERRORS_MAX`] problems, in order.
    /// `recorded`: the ops as recorded, if the caller has them; else `opaque`: the values of
    /// the ops decoded to [`Body::Opaque`], by index.
    pub(crate) fn finish(
        self,
        digest: HistoryDigest,
        recorded: Option<Vec<Op>>,
        opaque: Vec<(u64, serde_json::Value)>,
    ) -> Result<History, Vec<HistoryError>> {
        let Builder {
            errors,
            keys,
            txns,
            mut heads,
            mut bodies,
            partner,
            open,
            reuses,
            final_state,
            heal,
            last_stop,
            drain,
            ..
        } = self;
        if !errors.is_empty() {
            return Err(errors);
        }
        let slot_count = heads.seal();
        assert_eq!(
            slot_count,
            open.len() + 1,
            "one slot per client, then the nemesis"
        );

        let heal = heal.or(last_stop);
        bodies.seal();
        let log = match InferredLog::build(&heads, &bodies, &partner, slot_count, &keys, drain) {
            Ok(log) => log,
            Err(mut problems) => {
                problems.truncate(ERRORS_MAX);
                return Err(problems);
            }
        };

        let notes = reuse_note(&reuses).into_iter().collect();
        Ok(History {
            notes,
            heads,
            bodies,
            keys,
            txns,
            partner,
            slot_count,
            final_state,
            heal,
            drain,
            log,
            digest,
            recorded,
            opaque,
        })
    }
}

/// A completion repeats its invoke's micro-ops (adding offsets and records) and its
/// transactional message.
fn matches_invoke(invoke: BodyView<'_>, completion: &Body) -> Result<(), String> {
    match (invoke, completion) {
        (BodyView::Mops(asked), Body::Mops(answered)) => {
            if asked.len() != answered.len() {
                return Err(format!(
                    "{} micro-ops invoked, {} completed",
                    asked.len(),
                    answered.len()
                ));
            }
            for (position, (asked, answered)) in asked.iter().zip(answered).enumerate() {
                match (asked, answered) {
                    (MopView::Send(asked), Mop::Send(answered)) => {
                        if asked.key != answered.key || asked.value != answered.value {
                            return Err(format!(
                                "micro-op {position} sends a different key or value"
                            ));
                        }
                        match (asked.deadline, answered.deadline) {
                            (Some(set), Some(repeated)) if set != repeated => {
                                return Err(format!(
                                    "micro-op {position} was sent with deadline {set} but completed with deadline {repeated}"
                                ))
                            }
                            (None, Some(added)) => {
                                return Err(format!(
                                    "micro-op {position} completed with deadline {added}, which its invoke did not carry (the deadline is set when the message is sent)"
                                ))
                            }
                            _ => {}
                        }
                    }
                    (MopView::Poll(_), Mop::Poll(_)) => {}
                    _ => return Err(format!("micro-op {position} changed between send and poll")),
                }
            }
            Ok(())
        }
        (BodyView::Admit(asked), Body::Admit(answered)) => {
            if asked.key != answered.key || asked.request != answered.request {
                return Err(format!(
                    "the completion names another key or request (request {} invoked, request {} completed)",
                    asked.request, answered.request
                ));
            }
            if let (Some(read), Some(taken)) = (asked.token, answered.token) {
                if read != taken {
                    return Err(format!(
                        "the completion names another token than the invoke read ([{},{}] invoked, [{},{}] completed)",
                        read.offset, read.value, taken.offset, taken.value
                    ));
                }
            }
            Ok(())
        }
        (BodyView::Zk(asked), Body::Zk(answered)) => {
            let repeated = asked.path == answered.path && asked.expected == answered.expected;
            // A read's invoke names no data; a create's and write's completion repeats it.
            if !repeated || (asked.data.is_some() && asked.data != answered.data) {
                return Err("the completion names another znode, data or expected version".into());
            }
            Ok(())
        }
        (BodyView::TxnSend(asked), Body::TxnSend(answered)) => {
            if asked.txn != answered.txn
                || asked.key != answered.key
                || asked.value != answered.value
            {
                return Err("the transactional message differs".to_string());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
