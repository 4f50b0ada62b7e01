//! The ground truth read at the end of a run, recorded as one `final-state` op (at most one per
//! history, after the drain). Every field is optional; a check that needs a missing field says
//! `unknown` rather than guessing.
//!
//! ```json
//! {"txn-local": {"<txn id>": "commit" | "rollback" | "unknown", ...},
//!  "applied": {"<group>": {"<key>": [<value>, ...], ...}, ...},
//!  "committed-offsets": {"<group>": {"<key>": <offset>, ...}, ...}}
//! ```
//!
//! - `txn-local`: each transactional producer's local transaction record, the answer its
//!   check-back listener would give now.
//! - `applied`: each consumer group's business state: for every key, the values whose effect
//!   is in the state, in the order applied, one entry per application (so a value applied
//!   twice appears twice).
//! - `committed-offsets`: each group's committed offset per key as the broker reports it at
//!   the end (the next offset the group would read).

use super::body::{array, intern, object, offset_of, only_fields, At, KeyId, Keys, Local};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinalState {
    /// Transaction id -> local record. `None` when the field was absent.
    pub txn_local: Option<BTreeMap<String, Local>>,
    /// Group -> key -> values applied, in order.
    pub applied: Option<BTreeMap<String, BTreeMap<KeyId, Vec<i64>>>>,
    /// Group -> key -> committed offset.
    pub committed_offsets: Option<BTreeMap<String, BTreeMap<KeyId, u64>>>,
}

const VALUE: At<'static> = At::Root("value");

impl FinalState {
    pub(crate) fn decode(value: &Value, keys: &mut Keys) -> Result<FinalState, String> {
        let map = object(value, &VALUE)?;
        only_fields(map, &["txn-local", "applied", "committed-offsets"], &VALUE)?;
        let mut state = FinalState::default();
        if let Some(records) = map.get("txn-local") {
            let at = At::Field(&VALUE, "txn-local");
            let mut txn_local = BTreeMap::new();
            for (txn, local) in object(records, &at)? {
                let parsed = local.as_str().and_then(Local::parse).ok_or_else(|| {
                    format!(
                        "{}: expected \"commit\", \"rollback\" or \"unknown\", found {local}",
                        At::Field(&at, txn)
                    )
                })?;
                txn_local.insert(txn.clone(), parsed);
            }
            state.txn_local = Some(txn_local);
        }
        if let Some(groups) = map.get("applied") {
            let at = At::Field(&VALUE, "applied");
            let mut applied = BTreeMap::new();
            for (group, per_key) in object(groups, &at)? {
                let group_at = At::Field(&at, group);
                let mut by_key = BTreeMap::new();
                for (key, values) in object(per_key, &group_at)? {
                    let key_at = At::Field(&group_at, key);
                    let values = array(values, &key_at)?
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            v.as_i64().ok_or_else(|| {
                                format!(
                                    "{}: expected an integer value, found {v}",
                                    At::Index(&key_at, i)
                                )
                            })
                        })
                        .collect::<Result<Vec<i64>, String>>()?;
                    by_key.insert(intern(keys, key, &group_at)?, values);
                }
                applied.insert(group.clone(), by_key);
            }
            state.applied = Some(applied);
        }
        if let Some(groups) = map.get("committed-offsets") {
            let at = At::Field(&VALUE, "committed-offsets");
            let mut committed = BTreeMap::new();
            for (group, per_key) in object(groups, &at)? {
                let group_at = At::Field(&at, group);
                let mut by_key = BTreeMap::new();
                for (key, offset) in object(per_key, &group_at)? {
                    let offset = offset_of(offset, &At::Field(&group_at, key))?;
                    by_key.insert(intern(keys, key, &group_at)?, offset);
                }
                committed.insert(group.clone(), by_key);
            }
            state.committed_offsets = Some(committed);
        }
        Ok(state)
    }
}
