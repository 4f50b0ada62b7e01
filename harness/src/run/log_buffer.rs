//! Where a run's `sim.log` lines collect: in memory, on the run's thread, so parallel runs never
//! mix their lines; bounded, so a chatty run cannot hold the machine's memory.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A run's log is cut beyond this many bytes (the cut is noted at the end).
pub const LOG_BYTES_MAX: usize = 64 * 1024 * 1024;

#[derive(Clone, Default)]
pub struct LogBuffer {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl LogBuffer {
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.bytes.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for LogBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut bytes = self.bytes.lock().unwrap_or_else(|p| p.into_inner());
        if bytes.len() < LOG_BYTES_MAX {
            bytes.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
