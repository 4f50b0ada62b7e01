//! The page's inline style sheet and script. The page loads nothing from anywhere: it must open
//! from a CI artefact on a machine without network. The script only highlights: clicking an
//! anomaly outlines its ops on the timeline. It marks `<html data-ready="yes">` when it has run,
//! which `ci/report-screenshot.sh` checks to prove the page's script raised no error.

pub const CSS: &str = r#"
:root { --ok: #2e9e5b; --fail: #d64541; --info: #f0a30a; --open: #9aa0a6; --ink: #1f2328; --muted: #636c76; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); margin: 0; padding: 20px 28px 60px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
summary h3 { display: inline; } summary { cursor: pointer; margin-top: 12px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff; font-weight: 600; text-transform: uppercase; font-size: 13px; vertical-align: 3px; }
.v-valid { background: var(--ok); } .v-invalid { background: var(--fail); } .v-unknown { background: var(--info); }
.facts { margin: 8px 0; padding-left: 18px; } .facts li { margin: 2px 0; }
.muted { color: var(--muted); }
.meaning { font-style: italic; color: var(--muted); margin: 2px 0 6px; }
.anomalies li[data-ops] { cursor: pointer; margin: 3px 0; }
.anomalies li[data-ops]:hover { background: #fff4d6; }
.anomalies li.selected { background: #ffe08a; }
.scroll { overflow: auto; max-width: 100%; border: 1px solid var(--line); }
.timeline .lane-label { font: 11px ui-monospace, Menlo, Consolas, monospace; fill: var(--muted); }
.timeline .tick { font: 10px sans-serif; fill: var(--muted); }
.timeline .o-ok { fill: var(--ok); } .timeline .o-fail { fill: var(--fail); } .timeline .o-info { fill: var(--info); } .timeline .o-open { fill: var(--open); }
.timeline .anom { stroke: #000; stroke-width: 1.5; }
.timeline .focus { stroke: #ff00aa; stroke-width: 3; }
.timeline .fault-label { font: 10px sans-serif; fill: #222; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 4px; border-radius: 2px; }
.offsets td, .offsets th { font: 12px ui-monospace, Menlo, Consolas, monospace; padding: 1px 6px; }
.offsets td.lost { background: #f8c9c7; font-weight: 700; }
.offsets td.dup { background: #d9c6f2; font-weight: 700; }
.offsets td.differs { background: #ffd8a8; font-weight: 700; }
.offsets td.anomaly { background: #fff1a8; }
.offsets tr.gap td { text-align: center; color: var(--muted); background: #fafbfc; }
.offsets .tablewrap { max-height: 460px; overflow: auto; display: inline-block; border: 1px solid var(--line); }
figure { margin: 12px 0; } figure svg { max-width: 100%; height: auto; border: 1px solid var(--line); }
"#;

pub const JS: &str = r#"
(function () {
  "use strict";
  function clear() {
    var old = document.querySelectorAll(".focus, .selected");
    for (var i = 0; i < old.length; i++) { old[i].classList.remove("focus"); old[i].classList.remove("selected"); }
  }
  function select(item) {
    clear();
    item.classList.add("selected");
    var ops = (item.getAttribute("data-ops") || "").split(" ");
    var first = null;
    for (var i = 0; i < ops.length; i++) {
      var node = document.getElementById("op-" + ops[i]);
      if (node) { node.classList.add("focus"); if (!first) { first = node; } }
    }
    if (first && first.scrollIntoView) { first.scrollIntoView({ block: "center", inline: "center" }); }
  }
  var items = document.querySelectorAll("li[data-ops]");
  for (var i = 0; i < items.length; i++) {
    items[i].addEventListener("click", function (event) { select(event.currentTarget); });
  }
  document.documentElement.setAttribute("data-ready", "yes");
})();
"#;
