//! Reads back what criterion measured in this run and prints, per group, each benchmark's
//! median and its ratio to the hand-written SDK baseline (criterion has no API for results;
//! it writes them as JSON under `target/criterion`).

use std::fmt::Write as _;
use std::path::PathBuf;

/// Where criterion writes its results for this workspace.
pub fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        },
        PathBuf::from,
    );
    target.join("criterion")
}

/// The median, in nanoseconds, of benchmark `id` in `group`, as criterion recorded it.
pub fn median_ns(group: &str, id: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(id)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// A markdown table of the groups' medians and their ratios to `baseline`.
pub fn table(groups: &[(&str, &[&str])], baseline: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| group | benchmark | median | × {baseline} |");
    let _ = writeln!(out, "|---|---|---:|---:|");
    for (group, ids) in groups {
        let base = median_ns(group, baseline);
        for id in *ids {
            let Some(ns) = median_ns(group, id) else {
                continue;
            };
            let ratio = base.map_or_else(|| "–".to_owned(), |b| format!("{:.2}", ns / b));
            let _ = writeln!(out, "| {group} | {id} | {} | {ratio} |", format_ns(ns));
        }
    }
    out
}

fn format_ns(ns: f64) -> String {
    if ns >= 10_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else if ns >= 100.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{ns:.1} ns")
    }
}
