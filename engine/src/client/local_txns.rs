//! A transactional producer's local transactions: its durable [`LocalTxnStore`] plus the
//! transactions running in this process right now, behind one lock, and the rule that turns
//! them into a check-back answer.
//!
//! Fault model: the producer process dies at any point of a transaction and a new instance
//! opens the same store. Invariant: a check-back is answered commit or rollback only when that
//! is final. A transaction with an outcome answers it. A transaction begun but without an
//! outcome is still `Unknown` while this process runs it; once no process runs it (the one
//! that began it crashed, or dropped the call), its local transaction can never commit — the
//! closure that would have run it is gone — so it is durably recorded as rolled back and
//! answered so. A transaction this store never saw gets no answer: it belongs to another
//! instance's store (its `Begun` entry is synced before its half is sent), and answering
//! unknown for it would count towards rolling back a transaction its owner may have committed.

use crate::client::txn_store::{LocalState, LocalTxnStore, TxnStoreError};
use crate::wire::broker_protocol::LocalOutcome;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

struct Inner {
    store: LocalTxnStore,
    running: BTreeSet<String>,
}

/// Shared by a producer's sends and its check-back responders.
#[derive(Clone)]
pub struct LocalTxns {
    inner: Arc<Mutex<Inner>>,
}

/// Marks a transaction as running in this process until dropped.
pub struct Running {
    txns: LocalTxns,
    txn_id: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.txns.lock().running.remove(&self.txn_id);
    }
}

impl LocalTxns {
    pub fn new(store: LocalTxnStore) -> LocalTxns {
        LocalTxns {
            inner: Arc::new(Mutex::new(Inner {
                store,
                running: BTreeSet::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the transaction running and durably begins it.
    pub fn begin(&self, txn_id: &str) -> Result<Running, TxnStoreError> {
        let mut inner = self.lock();
        inner.store.begin(txn_id)?;
        inner.running.insert(txn_id.to_string());
        Ok(Running {
            txns: self.clone(),
            txn_id: txn_id.to_string(),
        })
    }

    /// Durably records the outcome and effect (one synced write). On a storage failure the
    /// store is reopened, so it reports what reached the disk.
    pub fn finish(
        &self,
        txn_id: &str,
        outcome: LocalOutcome,
        effect: Vec<u8>,
    ) -> Result<(), TxnStoreError> {
        let mut inner = self.lock();
        let result = inner.store.finish(txn_id, outcome, effect);
        if let Err(TxnStoreError::Storage(_)) = &result {
            if let Err(error) = inner.store.reopen() {
                tracing::warn!(%error, "the local transaction store cannot reopen yet");
            }
        }
        result
    }

    /// The answer to a check-back for `txn_id`, `None` when this store never saw it (see the
    /// module header).
    pub fn answer(&self, txn_id: &str) -> Option<LocalOutcome> {
        let mut inner = self.lock();
        let answer = match inner.store.state(txn_id)? {
            LocalState::Done { outcome, .. } => *outcome,
            LocalState::Begun if inner.running.contains(txn_id) => LocalOutcome::Unknown,
            LocalState::Begun => {
                match inner
                    .store
                    .finish(txn_id, LocalOutcome::Rollback, Vec::new())
                {
                    Ok(()) => {
                        tracing::info!(
                            txn_id,
                            "abandoned local transaction recorded as rolled back"
                        );
                        LocalOutcome::Rollback
                    }
                    Err(error) => {
                        tracing::warn!(txn_id, %error, "cannot record an abandoned transaction");
                        if let Err(error) = inner.store.reopen() {
                            tracing::warn!(%error, "the local transaction store cannot reopen yet");
                        }
                        LocalOutcome::Unknown
                    }
                }
            }
        };
        Some(answer)
    }

    pub fn state(&self, txn_id: &str) -> Option<LocalState> {
        self.lock().store.state(txn_id).cloned()
    }

    /// Every transaction in the store and its state: the producer's ground truth.
    pub fn entries(&self) -> Vec<(String, LocalState)> {
        self.lock()
            .store
            .entries()
            .map(|(id, state)| (id.clone(), state.clone()))
            .collect()
    }
}
