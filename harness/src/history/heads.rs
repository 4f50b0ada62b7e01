//! The heads of a history's ops, packed: 12 bytes an op instead of an [`OpHead`]'s 72. An op's
//! index is its position (the history refuses any other), its process is its slot's (each
//! slot is one logical process), and its function is one of the few the history names, so a
//! head keeps only its time (8 bytes, in a vector of its own so nothing pads it) and a 4-byte
//! code of its type, function number and slot; [`Heads::get`] builds the [`OpHead`] back. A
//! history of 10^7 ops holds 120 MB of heads this way, not 720 MB.
//!
//! The code is exact, never a cut: an op whose slot or function number does not fit its
//! field (over 4 million processes, or over 256 functions) has its code say so, and its slot
//! and function wait in a side table by op index, searched only for such an op.

use super::op::{OpHead, OpType, Process, F};
use std::collections::BTreeMap;

/// At most this many distinct functions (`f`) in one history: a function's number is a
/// `u16`. Client functions and phase markers are 16 of them; the rest are nemesis faults.
pub const FUNCTIONS_MAX: usize = 1 << 16;

/// The functions every history may name, numbered by their position here.
const FUNCTIONS_FIXED: [F; 19] = [
    F::Send,
    F::Poll,
    F::Txn,
    F::Assign,
    F::Subscribe,
    F::Crash,
    F::CommitOffsets,
    F::TxnSend,
    F::Apply,
    F::Expired,
    F::Admit,
    F::FinalState,
    F::SequenceGap,
    F::DebugTopicPartitions,
    F::Heal,
    F::Drain,
    F::ZkCreate,
    F::ZkRead,
    F::ZkWrite,
];

/// A slot not yet known to be a client's: the nemesis, until [`Heads::seal`] gives it the
/// last slot.
pub(crate) const NEMESIS_PENDING: u32 = u32::MAX;

/// A head's code: its type in the low [`KIND_BITS`], its function number in the next
/// [`FUNCTION_BITS`], its slot code in the high [`SLOT_BITS`].
const KIND_BITS: u32 = 2;
const FUNCTION_BITS: u32 = 8;
const SLOT_BITS: u32 = 32 - KIND_BITS - FUNCTION_BITS;
/// Function numbers below this fit a code; the rest are escaped.
const FUNCTION_CODES: u32 = 1 << FUNCTION_BITS;
/// The slot code of the nemesis, whichever slot [`Heads::seal`] gives it.
const SLOT_CODE_NEMESIS: u32 = (1 << SLOT_BITS) - 1;
/// The slot code of an escaped op: its slot and function are in [`Heads::escaped`].
const SLOT_CODE_ESCAPED: u32 = (1 << SLOT_BITS) - 2;

/// Type <-> its 2-bit number.
const KINDS: [OpType; 4] = [OpType::Invoke, OpType::Ok, OpType::Fail, OpType::Info];

/// The slot and function of an op whose code could not hold them.
#[derive(Clone, Copy, Debug)]
struct Escaped {
    index: u32,
    /// [`NEMESIS_PENDING`] for the nemesis.
    slot: u32,
    function: u16,
}

// A head is its time and its code: 12 bytes.
const _: () = assert!(std::mem::size_of::<u64>() + std::mem::size_of::<u32>() <= 12);

/// Too many distinct functions for [`FUNCTIONS_MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FunctionsFull;

#[derive(Debug)]
pub(crate) struct Heads {
    /// Op index -> its time (simulated ns).
    times: Vec<u64>,
    /// Op index -> its code (see [`KIND_BITS`]).
    codes: Vec<u32>,
    /// The ops whose code is escaped, by ascending index.
    escaped: Vec<Escaped>,
    /// Function number -> function: [`FUNCTIONS_FIXED`], then the others as first met.
    functions: Vec<F>,
    /// The numbers of the functions beyond [`FUNCTIONS_FIXED`].
    numbers: BTreeMap<F, u16>,
    /// Slot -> process; the nemesis' slot is the last once sealed.
    processes: Vec<Process>,
    /// The nemesis' slot: [`NEMESIS_PENDING`] until sealed.
    nemesis: u32,
}

impl Heads {
    pub(crate) fn new() -> Heads {
        Heads {
            times: Vec::new(),
            codes: Vec::new(),
            escaped: Vec::new(),
            functions: FUNCTIONS_FIXED.to_vec(),
            numbers: BTreeMap::new(),
            processes: Vec::new(),
            nemesis: NEMESIS_PENDING,
        }
    }

    /// Names the process of a new client slot; slots are numbered in the order named.
    pub(crate) fn add_slot(&mut self, process: Process) -> u32 {
        self.processes.push(process);
        (self.processes.len() - 1) as u32
    }

    /// Adds the next op's head; its index is its position. `slot` is its process' slot
    /// ([`NEMESIS_PENDING`] for the nemesis).
    pub(crate) fn push(&mut self, head: &OpHead, slot: u32) -> Result<(), FunctionsFull> {
        let function = self.number(&head.f)?;
        let kind = match head.kind {
            OpType::Invoke => 0,
            OpType::Ok => 1,
            OpType::Fail => 2,
            OpType::Info => 3,
        };
        debug_assert_eq!(KINDS[kind as usize], head.kind);
        let slot_code = match slot {
            NEMESIS_PENDING => Some(SLOT_CODE_NEMESIS),
            slot if slot < SLOT_CODE_ESCAPED => Some(slot),
            _ => None,
        };
        let (function_code, slot_code) =
            match slot_code.filter(|_| u32::from(function) < FUNCTION_CODES) {
                Some(slot_code) => (u32::from(function), slot_code),
                None => {
                    let index = u32::try_from(self.codes.len()).expect("op numbers fit a u32");
                    self.escaped.push(Escaped {
                        index,
                        slot,
                        function,
                    });
                    (0, SLOT_CODE_ESCAPED)
                }
            };
        self.times.push(head.time);
        self.codes
            .push(kind | function_code << KIND_BITS | slot_code << (KIND_BITS + FUNCTION_BITS));
        Ok(())
    }

    fn number(&mut self, f: &F) -> Result<u16, FunctionsFull> {
        let fixed = match f {
            F::Send => 0,
            F::Poll => 1,
            F::Txn => 2,
            F::Assign => 3,
            F::Subscribe => 4,
            F::Crash => 5,
            F::CommitOffsets => 6,
            F::TxnSend => 7,
            F::Apply => 8,
            F::Expired => 9,
            F::Admit => 10,
            F::FinalState => 11,
            F::SequenceGap => 12,
            F::DebugTopicPartitions => 13,
            F::Heal => 14,
            F::Drain => 15,
            F::ZkCreate => 16,
            F::ZkRead => 17,
            F::ZkWrite => 18,
            F::Start(_) | F::Stop(_) | F::Other(_) => {
                if let Some(&number) = self.numbers.get(f) {
                    return Ok(number);
                }
                if self.functions.len() >= FUNCTIONS_MAX {
                    return Err(FunctionsFull);
                }
                let number = self.functions.len() as u16;
                self.functions.push(f.clone());
                self.numbers.insert(f.clone(), number);
                return Ok(number);
            }
        };
        debug_assert_eq!(&FUNCTIONS_FIXED[fixed as usize], f);
        Ok(fixed)
    }

    /// Gives the nemesis the last slot, after every client's; returns the number of slots.
    pub(crate) fn seal(&mut self) -> usize {
        self.nemesis = self.processes.len() as u32;
        self.processes.push(Process::Nemesis);
        self.processes.len()
    }

    /// Bytes the packed heads hold.
    pub(crate) fn held_bytes(&self) -> usize {
        std::mem::size_of_val(self.times.as_slice())
            + std::mem::size_of_val(self.codes.as_slice())
            + std::mem::size_of_val(self.escaped.as_slice())
    }

    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }

    /// The head of op `index`.
    #[inline]
    pub(crate) fn get(&self, index: u64) -> OpHead {
        OpHead {
            index,
            time: self.time(index),
            process: self.process(index),
            kind: self.kind(index),
            f: self.f(index).clone(),
        }
    }

    /// Every head, in history order.
    #[inline]
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = OpHead> + ExactSizeIterator + '_ {
        (0..self.codes.len()).map(|index| self.get(index as u64))
    }

    #[inline]
    fn process(&self, index: u64) -> Process {
        match self.slot_code(index) {
            SLOT_CODE_NEMESIS => Process::Nemesis,
            SLOT_CODE_ESCAPED => match self.escape(index).slot {
                NEMESIS_PENDING => Process::Nemesis,
                slot => self.processes[slot as usize],
            },
            slot => self.processes[slot as usize],
        }
    }

    #[inline]
    pub(crate) fn time(&self, index: u64) -> u64 {
        self.times[index as usize]
    }

    #[inline]
    pub(crate) fn kind(&self, index: u64) -> OpType {
        KINDS[(self.codes[index as usize] & ((1 << KIND_BITS) - 1)) as usize]
    }

    #[inline]
    pub(crate) fn f(&self, index: u64) -> &F {
        let code = self.codes[index as usize];
        let function = match code >> (KIND_BITS + FUNCTION_BITS) {
            SLOT_CODE_ESCAPED => self.escape(index).function,
            _ => ((code >> KIND_BITS) & (FUNCTION_CODES - 1)) as u16,
        };
        &self.functions[function as usize]
    }

    /// The op's slot: the nemesis' is [`NEMESIS_PENDING`] until sealed.
    #[inline]
    pub(crate) fn slot(&self, index: u64) -> u32 {
        match self.slot_code(index) {
            SLOT_CODE_NEMESIS => self.nemesis,
            SLOT_CODE_ESCAPED => match self.escape(index).slot {
                NEMESIS_PENDING => self.nemesis,
                slot => slot,
            },
            slot => slot,
        }
    }

    #[inline]
    fn slot_code(&self, index: u64) -> u32 {
        self.codes[index as usize] >> (KIND_BITS + FUNCTION_BITS)
    }

    /// The side-table entry of an op whose code is escaped.
    fn escape(&self, index: u64) -> Escaped {
        let at = self
            .escaped
            .binary_search_by_key(&index, |escaped| u64::from(escaped.index))
            .expect("an escaped code has its side-table entry");
        self.escaped[at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(index: u64, process: Process, f: F) -> OpHead {
        OpHead {
            index,
            time: 10 * index,
            process,
            kind: OpType::Info,
            f,
        }
    }

    #[test]
    fn a_packed_head_reads_back_as_it_was_pushed() {
        let ops = [
            head(0, Process::Client(7), F::Send),
            head(1, Process::Nemesis, F::Start("partition".into())),
            head(2, Process::Client(3), F::Drain),
            head(3, Process::Nemesis, F::Stop("partition".into())),
            head(4, Process::Nemesis, F::Start("partition".into())),
            head(5, Process::Client(7), F::Other("lull".into())),
        ];
        let mut heads = Heads::new();
        let seven = heads.add_slot(Process::Client(7));
        let three = heads.add_slot(Process::Client(3));
        for op in &ops {
            let slot = match op.process {
                Process::Client(7) => seven,
                Process::Client(_) => three,
                Process::Nemesis => NEMESIS_PENDING,
            };
            heads.push(op, slot).unwrap();
        }
        assert_eq!(heads.seal(), 3);
        let read: Vec<OpHead> = (0..ops.len() as u64).map(|at| heads.get(at)).collect();
        assert_eq!(read, ops);
        assert_eq!((heads.slot(1), heads.slot(5)), (2, 0));
        // Each fault is numbered once, however often it starts.
        assert_eq!(heads.functions.len(), FUNCTIONS_FIXED.len() + 3);
    }

    #[test]
    fn too_many_distinct_functions_are_refused() {
        let mut heads = Heads::new();
        let mut refused = None;
        for number in 0..FUNCTIONS_MAX as u64 {
            let f = F::Other(format!("fault-{number}"));
            if heads.push(&head(number, Process::Nemesis, f), NEMESIS_PENDING) == Err(FunctionsFull)
            {
                refused = Some(number);
                break;
            }
        }
        assert_eq!(
            refused,
            Some((FUNCTIONS_MAX - FUNCTIONS_FIXED.len()) as u64)
        );
    }

    #[test]
    fn slots_and_functions_beyond_the_code_read_back_from_the_side_table() {
        // Slots past the code's field (a history of 2^24 processes and more), a function
        // number past it, and the nemesis with either, among ops whose codes hold them.
        let big = [
            (0, F::Send),
            (SLOT_CODE_ESCAPED - 1, F::Poll),
            (SLOT_CODE_ESCAPED, F::Send),
            (SLOT_CODE_NEMESIS, F::Txn),
            (1 << 24, F::Drain),
            (NEMESIS_PENDING - 1, F::Send),
        ];
        let mut heads = Heads::new();
        let mut expected: Vec<(u32, F, OpType)> = Vec::new();
        let kinds = [OpType::Invoke, OpType::Ok, OpType::Fail, OpType::Info];
        // Two new functions every eight ops: past the code's field well before the end.
        for round in 0..8 * u64::from(FUNCTION_CODES) {
            let fault = F::Other(format!("fault-{round}"));
            let (slot, f) = match round as usize % (big.len() + 2) {
                at if at < big.len() => big[at].clone(),
                at if at == big.len() => (NEMESIS_PENDING, fault),
                _ => (7, fault),
            };
            let kind = kinds[round as usize % kinds.len()];
            let op = OpHead {
                index: round,
                time: 3 * round,
                process: Process::Nemesis,
                kind,
                f: f.clone(),
            };
            heads.push(&op, slot).unwrap();
            expected.push((slot, f, kind));
        }
        assert!(heads.functions.len() > FUNCTION_CODES as usize);
        assert!(!heads.escaped.is_empty());
        let nemesis = heads.seal() as u32 - 1;
        for (index, (slot, f, kind)) in expected.into_iter().enumerate() {
            let index = index as u64;
            let slot = if slot == NEMESIS_PENDING {
                nemesis
            } else {
                slot
            };
            assert_eq!(heads.slot(index), slot, "op {index}");
            assert_eq!(
                (heads.f(index), heads.kind(index)),
                (&f, kind),
                "op {index}"
            );
            assert_eq!(heads.time(index), 3 * index);
        }
    }
}
