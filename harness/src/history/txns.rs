//! Transaction ids (`txn-send`'s `"txn"`, the final state's `txn-local` names) interned into
//! [`TxnId`]s: a transactional message holds 4 bytes for its transaction, not a string, and
//! the final state's records are a table by id. Reports print the name
//! ([`super::History::txn_name`]).

use super::interner::{InternedId, Interner};

/// An interned transaction id (`"t17"`; an integer id is named by its decimal digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxnId(pub u32);

impl InternedId for TxnId {
    const WHAT: &'static str = "transaction ids";

    fn at(position: u32) -> TxnId {
        TxnId(position)
    }

    fn position(self) -> u32 {
        self.0
    }
}

/// The transaction ids of one history, in the order first met, an id its name's position.
pub type Txns = Interner<TxnId>;
