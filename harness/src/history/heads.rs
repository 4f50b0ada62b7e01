//! The heads of a history's ops, packed: 16 bytes an op instead of an [`OpHead`]'s 72. An op's
//! index is its position (the history refuses any other), its process is its slot's (each
//! slot is one logical process), and its function is one of the few the history names, so a
//! head keeps only its time, slot, function number and type, and [`Heads::get`] builds the
//! [`OpHead`] back. A history of 10^7 ops holds 160 MB of heads this way, not 720 MB.

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

#[derive(Clone, Copy, Debug)]
struct Packed {
    time: u64,
    slot: u32,
    function: u16,
    kind: OpType,
}

/// Too many distinct functions for [`FUNCTIONS_MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FunctionsFull;

#[derive(Debug)]
pub(crate) struct Heads {
    packed: Vec<Packed>,
    /// Function number -> function: [`FUNCTIONS_FIXED`], then the others as first met.
    functions: Vec<F>,
    /// The numbers of the functions beyond [`FUNCTIONS_FIXED`].
    numbers: BTreeMap<F, u16>,
    /// Slot -> process; the nemesis' slot is the last once sealed.
    processes: Vec<Process>,
}

impl Heads {
    pub(crate) fn new() -> Heads {
        Heads {
            packed: Vec::new(),
            functions: FUNCTIONS_FIXED.to_vec(),
            numbers: BTreeMap::new(),
            processes: Vec::new(),
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
        self.packed.push(Packed {
            time: head.time,
            slot,
            function,
            kind: head.kind,
        });
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
        let nemesis = self.processes.len() as u32;
        self.processes.push(Process::Nemesis);
        for packed in &mut self.packed {
            if packed.slot == NEMESIS_PENDING {
                packed.slot = nemesis;
            }
        }
        self.processes.len()
    }

    /// Bytes the packed heads hold.
    pub(crate) fn held_bytes(&self) -> usize {
        std::mem::size_of_val(self.packed.as_slice())
    }

    pub(crate) fn len(&self) -> usize {
        self.packed.len()
    }

    /// The head of op `index`.
    #[inline]
    pub(crate) fn get(&self, index: u64) -> OpHead {
        self.unpack(index, &self.packed[index as usize])
    }

    /// Every head, in history order.
    #[inline]
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = OpHead> + ExactSizeIterator + '_ {
        self.packed
            .iter()
            .enumerate()
            .map(|(position, packed)| self.unpack(position as u64, packed))
    }

    #[inline]
    fn unpack(&self, index: u64, packed: &Packed) -> OpHead {
        OpHead {
            index,
            time: packed.time,
            process: self.process(packed.slot),
            kind: packed.kind,
            f: self.functions[packed.function as usize].clone(),
        }
    }

    #[inline]
    fn process(&self, slot: u32) -> Process {
        if slot == NEMESIS_PENDING {
            return Process::Nemesis;
        }
        self.processes[slot as usize]
    }

    #[inline]
    pub(crate) fn time(&self, index: u64) -> u64 {
        self.packed[index as usize].time
    }

    #[inline]
    pub(crate) fn kind(&self, index: u64) -> OpType {
        self.packed[index as usize].kind
    }

    #[inline]
    pub(crate) fn f(&self, index: u64) -> &F {
        &self.functions[self.packed[index as usize].function as usize]
    }

    #[inline]
    pub(crate) fn slot(&self, index: u64) -> u32 {
        self.packed[index as usize].slot
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
        assert_eq!(std::mem::size_of::<Packed>(), 16);
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
}
