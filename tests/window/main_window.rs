//! The main window as a scientist meets it: instruments, verdicts, search, the keyboard, scaling,
//! starting the GUI.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable, by};
use ibex_updater_window::UpdaterApp;

use crate::common::{has_label, step_until};
use crate::support::*;

#[test]
fn picking_an_instrument_shows_both_components_and_their_verdicts() {
    let demo = Demo::new();
    let mut harness = harness(UpdaterApp::new(demo.backend()));
    step_until(&mut harness, "the instrument list", |h| {
        has_label(h, "LARMOR")
    });
    // Grouped by science group, with the version each server answered, and the silent one marked.
    assert!(has_label(&harness, "SANS"));
    assert!(has_label(&harness, "no answer"));
    // With no instrument picked, a component's own button says it installs the newest release.
    step_until(&mut harness, "the components", |h| {
        h.query_by_role_and_label(Role::Button, "Install newest IBEX GUI (26.8.0)")
            .is_some()
    });
    assert!(
        harness
            .get_by_role_and_label(Role::Button, "Install matching client")
            .accesskit_node()
            .is_disabled()
    );

    pick(&mut harness, "LARMOR");
    assert!(has_label(&harness, "LARMOR runs IBEX 26.2.0.1234"));
    // One line for the whole client first, then each component's verdict.
    assert!(has_label(
        &harness,
        "Update required for LARMOR: your client will not work with it."
    ));
    assert!(has_label(&harness, "Update required"));
    assert!(has_label(
        &harness,
        "Your IBEX GUI is from release 25.8; LARMOR runs 26.2. They are a major version apart and will not work together."
    ));
    assert!(has_label(
        &harness,
        "Your genie_python 26.2.0 matches LARMOR"
    ));
    assert!(
        !harness
            .get_by_role_and_label(Role::Button, "Install matching client")
            .accesskit_node()
            .is_disabled()
    );
    // The target is the partial release's GUI kit, and its notes are shown.
    assert!(has_label(&harness, "26.2.1.1302"));
    assert!(has_label(&harness, "Release notes for 26.2.1"));
    snapshot(&mut harness, "main_window_mismatch");
}

#[test]
fn search_narrows_the_list() {
    let demo = Demo::new();
    let mut harness = harness(UpdaterApp::new(demo.backend()));
    step_until(&mut harness, "the instrument list", |h| {
        has_label(h, "LARMOR")
    });
    harness
        .get_by_role_and_label(Role::TextInput, "Search")
        .click();
    harness.step();
    harness
        .get_by_role_and_label(Role::TextInput, "Search")
        .type_text("zo");
    step_until(&mut harness, "the filter", |h| {
        h.query_by_label("LARMOR").is_none()
    });
    assert!(has_label(&harness, "ZOOM"));

    // A host name finds its instrument, and a science group all of its instruments.
    let mut typed = "zo".len();
    for (text, shown, hidden) in [("ndxiris", "IRIS", "ZOOM"), ("muons", "MUSR", "IRIS")] {
        for _ in 0..typed {
            harness.key_press(eframe::egui::Key::Backspace);
        }
        harness
            .get_by_role_and_label(Role::TextInput, "Search")
            .type_text(text);
        typed = text.len();
        step_until(&mut harness, "the filter", |h| {
            h.query_by_label(hidden).is_none() && h.query_by_label(shown).is_some()
        });
    }
}

#[test]
fn the_window_stays_readable_at_twice_the_scale() {
    let demo = Demo::new();
    let mut harness = Harness::builder()
        // A laptop screen at 200%: few points across, so the cards must stack.
        .with_size([640.0, 480.0])
        .with_pixels_per_point(2.0)
        .wgpu()
        .build_ui_state(
            |ui, app: &mut UpdaterApp| app.show(ui),
            UpdaterApp::new(demo.backend()),
        );
    pick(&mut harness, "LARMOR");
    // Narrower in points, the cards stack instead of squeezing, and every action stays reachable.
    for label in [
        "Install IBEX GUI 26.2.1",
        "Install genie_python 26.2.0",
        "Install matching client",
        "Settings",
    ] {
        assert!(
            harness
                .query_by_role_and_label(Role::Button, label)
                .is_some(),
            "{label}"
        );
    }
    snapshot(&mut harness, "main_window_scale_200");
}

#[test]
fn every_control_is_reachable_with_the_keyboard() {
    let demo = Demo::new();
    let mut harness = harness(UpdaterApp::new(demo.backend()));
    pick(&mut harness, "LARMOR");
    let mut focused = Vec::new();
    for _ in 0..40 {
        harness.key_press(eframe::egui::Key::Tab);
        harness.step();
        if let Some(node) = harness.query(by().predicate(|n| n.is_focused())) {
            focused.push(node.accesskit_node().label().unwrap_or_default());
        }
    }
    for label in [
        "Settings",
        "Search",
        "Install IBEX GUI 26.2.1",
        "Install matching client",
        "Install a specific release…",
    ] {
        assert!(
            focused.iter().any(|f| f == label),
            "{label} never took the focus: {focused:?}"
        );
    }
}

#[test]
fn the_last_instrument_used_is_picked_at_start() {
    let demo = Demo::new();
    std::fs::create_dir_all(demo.dir.path().join("data")).unwrap();
    std::fs::write(
        demo.dir.path().join("data").join("last-instrument.txt"),
        "ZOOM\n",
    )
    .unwrap();
    let mut harness = harness(UpdaterApp::new(demo.backend()));
    step_until(&mut harness, "the preselected instrument", |h| {
        has_label(h, "ZOOM runs IBEX 26.2.1.1302")
    });
}
