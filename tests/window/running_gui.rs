//! A running IBEX GUI: started from the window, and waited for before an install. The programs
//! left running are copies of Linux ones (`/bin/sleep`, the demo's shell-script GUI); on Windows
//! the command line's tests show the same checks finding `ibex-client.exe` and `pythonw.exe`.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use ibex_updater_core::client::component::Component;
use ibex_updater_core::install::InstallRoot;
use ibex_updater_window::UpdaterApp;

use crate::common::{has_label, step_until};
use crate::support::*;

/// Once the client matches, the main action starts the GUI on the instrument picked, pointing
/// its preference there first: the window doubles as the instrument switcher.
// The demo's stand-in GUI is a shell script; on Windows its kits hold no runnable GUI.
#[test]
fn a_matching_client_starts_the_gui_on_the_instrument_picked() {
    let demo = Demo::new();
    let mut harness = harness(UpdaterApp::new(demo.backend()));
    pick(&mut harness, "LARMOR");
    click_button(&mut harness, "Install matching client");
    step_until(&mut harness, "the install to finish", |h| {
        has_label(h, "Your IBEX GUI 26.2.1 matches LARMOR")
    });
    click_button(&mut harness, "Start IBEX GUI on LARMOR");
    step_until(&mut harness, "the start", |h| {
        has_label(h, "Started the IBEX GUI.")
    });
    let client = InstallRoot::new(demo.install_root()).component_dir(Component::IbexGui);
    let preference = std::fs::read_to_string(
        client.join("configuration/.settings/uk.ac.stfc.isis.ibex.instrument.prefs"),
    )
    .unwrap();
    assert!(
        preference.contains("preferences/initialName=LARMOR"),
        "{preference}"
    );
    assert!(
        preference.contains("preferences/initialPV=IN\\:LARMOR\\:"),
        "{preference}"
    );
    let log = client.join("workspace/stand-in.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("started on LARMOR")) {
        assert!(Instant::now() < deadline, "the stand-in GUI never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running IBEX GUI stops the install; the window offers to wait, and the install goes on by
/// itself once the GUI has closed.
// The program left running in Client_E4 is a copy of /bin/sleep; on Windows the command line's
// tests show the same check finding ibex-client.exe and pythonw.exe.
#[test]
fn an_install_waits_for_a_running_gui_to_close_then_goes_on() {
    let demo = Demo::new();
    let gui = InstallRoot::new(demo.install_root()).component_dir(Component::IbexGui);
    let program = gui.join("ibex-client");
    std::fs::copy("/bin/sleep", &program).unwrap();
    let mut running = crate::common::spawn_copied(std::process::Command::new(&program).arg("60"));
    let mut harness = harness(UpdaterApp::new(demo.backend()));
    pick(&mut harness, "LARMOR");
    click_button(&mut harness, "Install matching client");
    step_until(&mut harness, "the offer to wait", |h| {
        h.query_by_role_and_label(Role::Button, "Wait for IBEX GUI to close")
            .is_some()
    });
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("25.8.0.1021")
    );
    click_button(&mut harness, "Wait for IBEX GUI to close");
    step_until(&mut harness, "the wait", |h| {
        has_label(
            h,
            "Waiting for IBEX GUI to close. The update goes on by itself once it has.",
        )
    });
    running.kill().unwrap();
    running.wait().unwrap();
    step_until(&mut harness, "the install after the wait", |h| {
        has_label(h, "Installed IBEX GUI 26.2.1.1302.")
    });
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("26.2.1.1302")
    );
}

/// The GUI closing while the window is still rereading the release source: the install starts
/// once the catalog it plans from is in, not never.
#[test]
fn a_gui_closing_while_the_releases_are_reread_still_lets_the_install_go_on() {
    let demo = Demo::new();
    let gui = InstallRoot::new(demo.install_root()).component_dir(Component::IbexGui);
    let program = gui.join("ibex-client");
    std::fs::copy("/bin/sleep", &program).unwrap();
    let mut running = crate::common::spawn_copied(std::process::Command::new(&program).arg("60"));
    let catalog_gate = Gate::default();
    catalog_gate.open();
    let source = GatedSource::holding_catalog(demo.share(), catalog_gate.clone());
    let mut harness = harness(UpdaterApp::new(
        demo.backend().with_source(Arc::new(source)),
    ));
    pick(&mut harness, "LARMOR");
    // From here on the release source answers only when the test says so.
    catalog_gate.0.store(false, Ordering::SeqCst);
    click_button(&mut harness, "Install matching client");
    click_button_when_shown(&mut harness, "Wait for IBEX GUI to close");
    running.kill().unwrap();
    running.wait().unwrap();
    // The watch sees the GUI gone while the catalog is still held back.
    step_until(&mut harness, "the wait to end", |h| {
        !has_label(h, "Waiting for IBEX GUI to close.")
    });
    assert!(!harness.state().is_busy());
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("25.8.0.1021")
    );
    catalog_gate.open();
    step_until(&mut harness, "the install after the reread", |h| {
        has_label(h, "Installed IBEX GUI 26.2.1.1302.")
    });
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("26.2.1.1302")
    );
}

fn click_button_when_shown(harness: &mut Harness<'_, UpdaterApp>, label: &str) {
    step_until(harness, label, |h| {
        h.query_by_role_and_label(Role::Button, label).is_some()
    });
    click_button(harness, label);
}
