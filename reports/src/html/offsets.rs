//! The offset view as HTML tables: one per key, a row per offset, a column for the value a
//! producer was told landed there and one per reader. See [`crate::offset_view`].

use crate::offset_view::{Cell, KeyView, Mark, OffsetView, Shown};
use maud::{html, Markup};

pub fn offsets(view: &OffsetView) -> Markup {
    html! {
        p.legend {
            span { i style="background:#f8c9c7" {} "lost: acknowledged, never read" }
            span { i style="background:#d9c6f2" {} "duplicate: one value at two offsets" }
            span { i style="background:#ffd8a8" {} "differs: not the acknowledged value" }
            span { i style="background:#fff1a8" {} "named by another anomaly" }
        }
        @if view.keys.is_empty() {
            p.muted { "No key was written or read." }
        }
        @for key in &view.keys {
            (key_table(key))
        }
        @if view.keys_hidden > 0 {
            p.muted { (view.keys_hidden) " more keys are not shown." }
        }
    }
}

fn key_table(key: &KeyView) -> Markup {
    html! {
        h3 { code { (key.key) } }
        p.muted {
            (key.offsets_total) " offsets"
            @match key.shown {
                Shown::All => {}
                Shown::Marked => { ", " (key.rows.len()) " shown: those the anomalies name, with their neighbours" }
                Shown::Head => { ", the first " (key.rows.len()) " shown (no anomaly names this key; history.jsonl has the rest)" }
            }
            @if key.readers_hidden > 0 {
                "; " (key.readers_hidden) " more readers are not shown"
            }
            "."
        }
        div.tablewrap {
            table {
                thead {
                    tr {
                        th { "offset" }
                        th { "acknowledged" }
                        @for reader in &key.readers {
                            th { "process " (reader) }
                        }
                    }
                }
                tbody {
                    @for row in &key.rows {
                        @if row.gap_before {
                            tr.gap { td colspan=(key.readers.len() + 2) { "⋯" } }
                        }
                        tr {
                            td { (row.offset) }
                            (cell(&row.acked))
                            @for seen in &row.seen {
                                (cell(seen))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn cell(cell: &Cell) -> Markup {
    let values: Vec<String> = cell
        .values
        .iter()
        .map(|value| {
            if cell.lost.contains(value) {
                format!("{value} lost")
            } else {
                value.to_string()
            }
        })
        .collect();
    let text = values.join(" / ");
    match cell.mark {
        None | Some(Mark::None) => html! { td { (text) } },
        Some(mark) => {
            let word = match mark {
                Mark::Duplicate => " dup",
                Mark::Differs => " ≠",
                Mark::Lost | Mark::Anomaly | Mark::None => "",
            };
            html! {
                td class=(mark.class()) title=(cell.names.join(", ")) { (text) (word) }
            }
        }
    }
}
