//! The Fleet view.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use ibex_updater_window::UpdaterApp;

use crate::common::{has_label, step_until};
use crate::support::*;

/// The Fleet view: every instrument of the demo fleet, grouped by release line with counts, and
/// the CSV export the command line prints.
#[test]
fn the_fleet_view_groups_instruments_by_release_line_and_exports_them() {
    let demo = Demo::new();
    let mut harness = harness(UpdaterApp::new(demo.backend()));
    step_until(&mut harness, "the instrument list", |h| {
        has_label(h, "LARMOR")
    });
    click_button(&mut harness, "Fleet");
    step_until(&mut harness, "the fleet", |h| {
        has_label(h, "Release line 26.2 (4)")
    });
    for text in [
        "Newest release: 26.8.0",
        "8 instruments: 1 on 26.8, 4 on 26.2, 1 on 25.8, 1 development, 1 unreachable",
        "Release line 26.8 (1)",
        "Release line 25.8 (1)",
        "Development servers (1)",
        "Did not answer (1)",
        "2 release lines behind",
        "no answer",
    ] {
        assert!(has_label(&harness, text), "{text}");
    }
    click_button(&mut harness, "Copy as CSV");
    let copied: Vec<&str> = harness
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            eframe::egui::OutputCommand::CopyText(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(copied.len(), 1, "{copied:?}");
    let csv = copied[0];
    assert!(
        csv.starts_with("\"instrument\",\"server version\",\"line\",\"standing\"\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("\"LARMOR\",\"26.2.0.1234\",\"26.2\",\"1 release line behind\"\r\n"),
        "{csv}"
    );
    assert_eq!(csv.matches("\r\n").count(), 9, "a header and 8 instruments");
    assert!(has_label(&harness, "Copied the fleet as CSV."));

    click_button(&mut harness, "Back to my client");
    harness.run_ok();
    assert!(has_label(&harness, "Pick your instrument on the left"));
}
