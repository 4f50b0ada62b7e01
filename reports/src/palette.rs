//! Colours shared by the HTML timeline and the SVG plots, so a fault kind has one colour in
//! every picture of a run. A fault kind's colour is chosen by the order in which its first
//! window appears in the run: deterministic, and distinct for the first [`FAULT_COLOURS`]
//! kinds.

use crate::input::Timeline;

/// (red, green, blue) per fault kind, in order of first appearance.
pub const FAULT_COLOURS: [(u8, u8, u8); 6] = [
    (230, 126, 34),
    (142, 68, 173),
    (41, 128, 185),
    (192, 57, 43),
    (22, 160, 133),
    (127, 140, 141),
];

/// Fault kinds in order of first appearance.
pub fn fault_kinds(timeline: &Timeline) -> Vec<&str> {
    let mut kinds: Vec<&str> = Vec::new();
    for window in &timeline.faults {
        if !kinds.contains(&window.fault.as_str()) {
            kinds.push(&window.fault);
        }
    }
    kinds
}

/// The colour of fault kind `fault` among `kinds`.
pub fn fault_colour(kinds: &[&str], fault: &str) -> (u8, u8, u8) {
    let position = kinds.iter().position(|k| *k == fault).unwrap_or(0);
    FAULT_COLOURS[position % FAULT_COLOURS.len()]
}

/// `#e67e22`.
pub fn hex((red, green, blue): (u8, u8, u8)) -> String {
    format!("#{red:02x}{green:02x}{blue:02x}")
}
