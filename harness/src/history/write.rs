//! Writing a history: one op per line, keys in the fixed order
//! `index, time, process, type, f, value`, and inside `value` every object's keys sorted. The
//! bytes depend only on the ops — not on serde_json features or map insertion order — so the
//! digest of a history is stable.

use super::op::{Op, Process};
use serde_json::Value;
use std::io::{self, Write};

/// Writes `ops` as JSON Lines.
pub fn write_history(ops: &[Op], out: &mut impl Write) -> io::Result<()> {
    for op in ops {
        write_op(op, out)?;
    }
    Ok(())
}

/// Writes one op and its newline.
pub fn write_op(op: &Op, out: &mut impl Write) -> io::Result<()> {
    write!(
        out,
        "{{\"index\":{},\"time\":{},\"process\":",
        op.index, op.time
    )?;
    match op.process {
        Process::Client(id) => write!(out, "{id}")?,
        Process::Nemesis => out.write_all(b"\"nemesis\"")?,
    }
    write!(out, ",\"type\":\"{}\",\"f\":", op.kind.as_str())?;
    serde_json::to_writer(&mut *out, op.f.name().as_ref())?;
    out.write_all(b",\"value\":")?;
    write_value(&op.value, out)?;
    out.write_all(b"}\n")
}

/// Canonical JSON: no whitespace, object keys sorted.
fn write_value(value: &Value, out: &mut impl Write) -> io::Result<()> {
    match value {
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.write_all(b",")?;
                }
                write_value(item, out)?;
            }
            out.write_all(b"]")
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.write_all(b"{")?;
            for (position, (key, item)) in entries.into_iter().enumerate() {
                if position > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, key)?;
                out.write_all(b":")?;
                write_value(item, out)?;
            }
            out.write_all(b"}")
        }
        scalar => serde_json::to_writer(&mut *out, scalar).map_err(io::Error::from),
    }
}
