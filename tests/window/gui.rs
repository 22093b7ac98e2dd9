//! The window, driven through egui_kittest by role and label against the real app state: the
//! built-in demo share, the demo instrument fleet served over Channel Access on loopback, and a
//! real install root in a temporary folder. Image snapshots are rendered with wgpu on the CPU.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eframe::egui::Rect;
use eframe::egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable, by};
use egui_kittest::{Harness, SnapshotOptions};
use ibex_updater_core::catalog::Catalog;
use ibex_updater_core::client::component::Component;
use ibex_updater_core::client::version::ReleaseName;
use ibex_updater_core::config::policy::Policy;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::error::UpdateError;
use ibex_updater_core::index::trust::Trust;
use ibex_updater_core::install::InstallRoot;
use ibex_updater_core::release::Kit;
use ibex_updater_core::source::{ArchiveStream, ReleaseSource, ShareSource};
use ibex_updater_core::usecase::prompt::PromptMemory;
use ibex_updater_core::usecase::status;
use ibex_updater_window::{Backend, PromptApp, PromptOutcome, UpdaterApp};

use crate::common::{has_label, step_until};

struct Demo {
    dir: tempfile::TempDir,
    settings: Settings,
}

impl Demo {
    fn new() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::demo(&dir.path().join("demo"), Duration::from_secs(2)).unwrap();
        Demo { dir, settings }
    }

    fn backend(&self) -> Backend {
        Backend::new(self.settings.clone(), self.dir.path().join("data"))
    }

    fn share(&self) -> PathBuf {
        self.dir.path().join("demo").join("Releases")
    }

    fn install_root(&self) -> &Path {
        self.settings.install_root.path()
    }

    fn installed(&self, component: Component) -> Option<String> {
        ibex_updater_core::client::version_file::installed(
            &InstallRoot::new(self.install_root()).component_dir(component),
        )
        .map(|v| v.to_string())
    }
}

fn harness(app: UpdaterApp) -> Harness<'static, UpdaterApp> {
    Harness::builder()
        .with_size([980.0, 640.0])
        .wgpu()
        .build_ui_state(|ui, app: &mut UpdaterApp| app.show(ui), app)
}

fn pick(harness: &mut Harness<'_, UpdaterApp>, instrument: &str) {
    step_until(harness, "the instrument list", |h| has_label(h, instrument));
    harness.get_by_label(instrument).click();
    step_until(harness, "the verdicts", |h| {
        has_label(h, &format!("{instrument} runs IBEX")) && has_label(h, "Installed")
    });
}

fn click_button(harness: &mut Harness<'_, impl Sized>, label: &str) {
    harness.get_by_role_and_label(Role::Button, label).click();
    harness.step();
}

/// Picks LARMOR and starts "Install matching client" from a source that holds the archive back
/// halfway until the gate opens.
fn start_held_install(demo: &Demo) -> (Harness<'static, UpdaterApp>, Gate) {
    let gate = Gate::closed();
    let source = GatedSource::new(demo.share(), gate.clone());
    let mut harness = harness(UpdaterApp::new(
        demo.backend().with_source(Arc::new(source)),
    ));
    pick(&mut harness, "LARMOR");
    click_button(&mut harness, "Install matching client");
    (harness, gate)
}

/// Masks the footer, which shows the temporary folders' paths, then compares the snapshot.
fn snapshot(harness: &mut Harness<'_, UpdaterApp>, name: &str) {
    snapshot_masking(harness, name, |_| Vec::new());
}

/// Like [`snapshot`], masking also `masked`'s rects: paths that differ from one machine or
/// platform to the next.
fn snapshot_masking(
    harness: &mut Harness<'_, UpdaterApp>,
    name: &str,
    masked: impl Fn(&Harness<'_, UpdaterApp>) -> Vec<Rect>,
) {
    // A busy machine answers later: the picture waits for every answer, not for a time.
    step_until(harness, "the window to settle", |h| h.state().is_settled());
    harness.run_ok();
    // The footer's whole strip, and the rest of each line from where the text starts: the paths'
    // widths differ from one temporary folder to the next.
    let footer = harness.get_by_label_contains("Release source:").rect();
    harness.mask(Rect::from_x_y_ranges(0.0..=10_000.0, footer.y_range()));
    for rect in masked(harness) {
        harness.mask(rect);
    }
    harness.snapshot_options(name, &snapshot_options());
}

/// The images live in the repository's `tests/snapshots/`, beside the other fixtures.
fn snapshot_options() -> SnapshotOptions {
    SnapshotOptions::new().output_path(crate::common::workspace_root().join("tests/snapshots"))
}

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
fn install_matching_client_shows_progress_then_completion_and_rolls_back() {
    let demo = Demo::new();
    let (mut harness, gate) = start_held_install(&demo);

    // The archive is half copied and the source holds the rest back: progress is on show.
    step_until(&mut harness, "the progress bar", |h| {
        has_label(h, "IBEX GUI: copying")
    });
    // Half of the GUI kit's 8.4 MB archive has been copied when the source holds back.
    assert!(has_label(&harness, "MB of 8.4 MB"), "bytes are shown");
    assert!(
        harness
            .get_by_role_and_label(Role::Button, "Install matching client")
            .accesskit_node()
            .is_disabled()
    );
    gate.open();

    step_until(&mut harness, "the install to finish", |h| {
        has_label(h, "Installed IBEX GUI 26.2.1.1302.")
    });
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("26.2.1.1302")
    );
    step_until(&mut harness, "the new verdicts", |h| {
        has_label(h, "Your IBEX GUI 26.2.1 matches LARMOR")
    });
    assert!(has_label(&harness, "Your client matches LARMOR."));
    assert!(has_label(&harness, "(previous: 25.8.0.1021)"));

    // A rollback asks first, naming what goes back in place of what.
    click_button(&mut harness, "Roll back IBEX GUI");
    step_until(&mut harness, "the confirmation", |h| {
        has_label(
            h,
            "This puts IBEX GUI 25.8.0.1021 back in place of 26.2.1.1302. You can roll back again to return to 26.2.1.1302.",
        )
    });
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("26.2.1.1302"),
        "nothing rolls back before the yes"
    );
    click_button(&mut harness, "Roll back to 25.8.0.1021");
    step_until(&mut harness, "the rollback", |h| {
        has_label(h, "Rolled back to IBEX GUI 25.8.0.1021.")
    });
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("25.8.0.1021")
    );
    // The rollback's notice replaced the install's instead of piling up under it, with the
    // warning that the GUI is back on another line than genie_python; Dismiss takes each away.
    let shown = |h: &Harness<'_, UpdaterApp>| {
        h.state()
            .notices()
            .map(|n| n.split(". ").next().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shown(&harness),
        [
            "Rolled back to IBEX GUI 25.8.0.1021.",
            "Your IBEX GUI is on release line 25.8 and genie_python on 26.2"
        ]
    );
    harness
        .query_all_by_role_and_label(Role::Button, "Dismiss")
        .next()
        .unwrap()
        .click();
    harness.step();
    assert_eq!(
        shown(&harness),
        ["Your IBEX GUI is on release line 25.8 and genie_python on 26.2"]
    );
    step_until(&mut harness, "the dismissed notice to go", |h| {
        !has_label(h, "Rolled back to IBEX GUI 25.8.0.1021.")
    });

    // The history panel lists both transactions, newest first.
    step_until(&mut harness, "the history panel", |h| {
        has_label(h, "History")
    });
    // Below the release notes: scrolled to, as a user would.
    harness.get_by_label("History").scroll_to_me();
    harness.run_ok();
    harness.get_by_label("History").click();
    step_until(&mut harness, "the history", |h| {
        has_label(h, "IBEX GUI 26.2.1.1302 -> 25.8.0.1021")
            && has_label(h, "IBEX GUI 25.8.0.1021 -> 26.2.1.1302")
    });
}

/// Once the client matches, the main action starts the GUI on the instrument picked, pointing
/// its preference there first: the window doubles as the instrument switcher.
// The demo's stand-in GUI is a shell script; on Windows its kits hold no runnable GUI.
#[cfg(unix)]
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

#[test]
fn cancel_leaves_the_installed_client_exactly_as_it_was() {
    let demo = Demo::new();
    let before = crate::common::snapshot(demo.install_root());
    let (mut harness, gate) = start_held_install(&demo);
    step_until(&mut harness, "the Cancel button", |h| {
        h.query_by_role_and_label(Role::Button, "Cancel install")
            .is_some()
    });
    click_button(&mut harness, "Cancel install");
    step_until(&mut harness, "the button to say so", |h| {
        has_label(h, "Cancelling…")
    });
    gate.open();
    step_until(&mut harness, "the cancellation", |h| {
        has_label(h, "The install was cancelled. Your client was not changed.")
    });
    let staging = demo.install_root().join(".ibex-updater").join("staging");
    assert!(
        staging.read_dir().map_or(true, |mut d| d.next().is_none()),
        "staging is left empty"
    );
    let after = crate::common::snapshot(demo.install_root());
    let without_state = |s: &std::collections::BTreeMap<String, String>| {
        s.iter()
            .filter(|(k, _)| !k.starts_with(".ibex-updater"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(without_state(&before), without_state(&after));
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("25.8.0.1021")
    );
}

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

/// With no release source configured, the window opens on a setup: the source is checked and
/// what it holds is shown, a path that does not exist or is beside a share says so, and Save
/// waits for a source that reads. Settings stays in reach.
#[test]
fn with_no_release_source_the_window_opens_on_a_setup_that_checks_the_source() {
    let demo = Demo::new();
    let mut settings = demo.settings.clone();
    settings.demo = false;
    settings.source_location = None;
    settings.source = None;
    let mut harness = harness(UpdaterApp::new(Backend::new(
        settings,
        demo.dir.path().join("data"),
    )));
    step_until(&mut harness, "the setup", |h| {
        has_label(h, "Set up IBEX Updater")
    });
    assert!(
        harness
            .query_by_role_and_label(Role::Button, "Settings")
            .is_some()
    );
    let save_disabled = |h: &Harness<'_, UpdaterApp>| {
        h.get_by_role_and_label(Role::Button, "Save and continue")
            .accesskit_node()
            .is_disabled()
    };
    assert!(save_disabled(&harness));

    let mut typed = 0;
    let mut check = |harness: &mut Harness<'_, UpdaterApp>, path: &Path, shown: &str| {
        harness
            .get_by_role_and_label(Role::TextInput, "Release source")
            .click();
        harness.step();
        harness.key_press(eframe::egui::Key::End);
        for _ in 0..typed {
            harness.key_press(eframe::egui::Key::Backspace);
        }
        let text = path.display().to_string();
        typed = text.chars().count();
        harness
            .get_by_role_and_label(Role::TextInput, "Release source")
            .type_text(&text);
        click_button(harness, "Check the release source");
        step_until(harness, shown, |h| has_label(h, shown));
    };
    check(
        &mut harness,
        &demo.dir.path().join("nowhere"),
        "cannot read the release source",
    );
    assert!(save_disabled(&harness));
    check(
        &mut harness,
        &demo.dir.path().join("demo"),
        &format!("did you mean {}?", demo.share().display()),
    );
    assert!(save_disabled(&harness));
    check(
        &mut harness,
        &demo.share(),
        "Found 5 releases, newest 26.8.0",
    );
    assert!(!save_disabled(&harness));
    snapshot_masking(&mut harness, "main_window_first_run", |h| {
        ["Release source", "Install folder"]
            .iter()
            .map(|field| h.get_by_role_and_label(Role::TextInput, field).rect())
            .collect()
    });
}

/// The share as it is today (no signed index) on a machine whose policy does not allow that:
/// the versions and verdicts are shown, marked unverified, with both ways out; installing is off
/// and nothing says a release "failed its checks".
#[test]
fn an_unsigned_share_is_compared_but_not_installed_and_names_both_ways_out() {
    let demo = Demo::new();
    let trust = Trust::from_policy(&Policy::default(), demo.dir.path()).unwrap();
    let source = ShareSource::new(demo.share()).with_trust(trust);
    let mut harness = harness(UpdaterApp::new(
        demo.backend().with_source(Arc::new(source)),
    ));
    pick(&mut harness, "LARMOR");
    for text in [
        "Unverified release source: you can compare versions, not install.",
        "has no signed index.json",
        "packaging/RELEASING.md",
        "allow_unsigned = true in the machine policy",
        "ALLOW_UNSIGNED=1",
        &Policy::path().display().to_string(),
    ] {
        assert!(has_label(&harness, text), "{text}");
    }
    // What is installed and what LARMOR needs are still there.
    assert!(has_label(&harness, "25.8.0.1021"));
    assert!(has_label(&harness, "26.2.1.1302"));
    assert!(has_label(&harness, "Update required for LARMOR"));
    for label in [
        "Install matching client",
        "Install IBEX GUI 26.2.1",
        "Install a specific release…",
    ] {
        assert!(
            harness
                .get_by_role_and_label(Role::Button, label)
                .accesskit_node()
                .is_disabled(),
            "{label}"
        );
    }
    assert!(!has_label(&harness, "failed its checks"));
    assert!(harness.state().notices().next().is_none());
    let policy = Policy::path().display().to_string();
    // The same width on every platform: the path's own is longer on Windows.
    snapshot_masking(&mut harness, "main_window_unsigned", |h| {
        let line = h.get_by_label(&policy).rect();
        vec![Rect::from_min_size(
            line.min,
            eframe::egui::vec2(500.0, line.height()),
        )]
    });
}

#[test]
fn a_damaged_kit_is_reported_in_plain_words_with_the_detail_behind_a_toggle() {
    let demo = Demo::new();
    let archive = demo
        .share()
        .join("26.2.1")
        .join("Client")
        .join("zips")
        .join("Client.7z");
    let len = std::fs::metadata(&archive).unwrap().len() as usize;
    std::fs::write(&archive, vec![0x5a; len]).unwrap();
    let mut harness = harness(UpdaterApp::new(demo.backend()));
    pick(&mut harness, "LARMOR");
    click_button(&mut harness, "Install matching client");
    step_until(&mut harness, "the error", |h| {
        has_label(h, "The install failed.")
    });
    assert!(has_label(
        &harness,
        "failed its checks, so it was not installed"
    ));
    assert!(has_label(&harness, "Your client was not changed."));
    assert!(
        !has_label(&harness, "not a valid 7-Zip archive"),
        "the detail starts hidden"
    );
    snapshot(&mut harness, "main_window_error");
    harness.get_by_label("Details").click();
    harness.run_ok();
    assert!(has_label(&harness, "not a valid 7-Zip archive"));
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("25.8.0.1021")
    );
}

#[test]
fn a_hotfix_is_installed_by_name_from_the_release_picker() {
    let demo = Demo::new();
    let mut harness = harness(UpdaterApp::new(demo.backend()));
    pick(&mut harness, "LARMOR");
    click_button(&mut harness, "Install a specific release…");
    step_until(&mut harness, "the release list", |h| {
        has_label(h, "26.2.1-hotfix")
    });
    harness.get_by_label_contains("26.2.1-hotfix").click();
    step_until(&mut harness, "the choice", |h| {
        has_label(h, "Install release 26.2.1-hotfix")
    });
    click_button(&mut harness, "Install release 26.2.1-hotfix");
    step_until(&mut harness, "the install", |h| {
        has_label(
            h,
            "Installed IBEX GUI 26.2.1.1310 and genie_python 26.2.1.1310.",
        )
    });
    assert_eq!(
        demo.installed(Component::GeniePython).as_deref(),
        Some("26.2.1.1310")
    );
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

fn prompt_harness(demo: &Demo, memory: &Path, server: &str) -> Harness<'static, PromptApp> {
    prompt_harness_with(demo, memory, server, |app| app)
}

fn prompt_harness_with(
    demo: &Demo,
    memory: &Path,
    server: &str,
    adjust: impl FnOnce(PromptApp) -> PromptApp,
) -> Harness<'static, PromptApp> {
    let catalog = ShareSource::new(demo.share()).read_catalog().unwrap();
    let status = status::evaluate(
        &demo.settings.install_root,
        &catalog.releases,
        Some(&server.parse().unwrap()),
    )
    .unwrap();
    let can_skip = status.worst() != ibex_updater_core::client::verdict::Verdict::UpdateRequired;
    let app = PromptApp::new(
        demo.backend(),
        "LARMOR".into(),
        catalog,
        status,
        can_skip,
        Duration::from_secs(3600),
        memory.to_path_buf(),
    );
    let app = adjust(app);
    Harness::builder()
        .with_size([560.0, 320.0])
        .wgpu()
        .build_ui_state(|ui, app: &mut PromptApp| app.show(ui), app)
}

#[test]
fn the_pop_up_offers_no_skip_for_a_major_mismatch_and_updates_now() {
    let demo = Demo::new();
    let memory = demo.dir.path().join("prompt.toml");
    let mut harness = prompt_harness(&demo, &memory, "26.2.0.1234");
    harness.run_ok();
    assert!(has_label(
        &harness,
        "Your IBEX client does not match LARMOR"
    ));
    assert!(
        harness
            .query_by_role_and_label(Role::Button, "Skip this version")
            .is_none()
    );
    assert!(has_label(&harness, "cannot be skipped"));
    harness.snapshot_options("prompt_required", &snapshot_options());
    let outcome = harness.state().outcome_handle();
    click_button(&mut harness, "Update now");
    step_until(&mut harness, "the update", |h| {
        has_label(h, "Your IBEX client now matches.")
    });
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("26.2.1.1302")
    );
    click_button(&mut harness, "Close");
    assert_eq!(outcome.take(), PromptOutcome::Updated);
}

/// Opened by `launch`: what the update installs and fetches, the notes behind a toggle, and
/// after "Update now" the offer to start the GUI.
#[test]
fn the_launch_pop_up_says_what_it_installs_and_offers_to_start_the_gui_after() {
    let demo = Demo::new();
    let memory = demo.dir.path().join("prompt.toml");
    let notes = ShareSource::new(demo.share()).release_notes(&"26.2.1".parse().unwrap());
    assert!(notes.is_some(), "the demo has release notes");
    let mut harness = prompt_harness_with(&demo, &memory, "26.2.0.1234", |app| {
        app.launching()
            .with_notes(notes.map(|n| ("26.2.1".parse().unwrap(), n)))
    });
    harness.run_ok();
    assert!(has_label(
        &harness,
        "Update now installs IBEX GUI 26.2.1.1302"
    ));
    assert!(has_label(&harness, "MB to fetch"));
    assert!(has_label(
        &harness,
        "The IBEX GUI you have will not work with LARMOR. You can still start it."
    ));
    assert!(has_label(&harness, "the IBEX GUI starts next"));
    assert!(!has_label(
        &harness,
        "Faster start-up of the script generator"
    ));
    harness.get_by_label("Release notes for 26.2.1").click();
    harness.run_ok();
    assert!(has_label(
        &harness,
        "Faster start-up of the script generator"
    ));
    harness.snapshot_options("prompt_launch", &snapshot_options());

    let outcome = harness.state().outcome_handle();
    click_button(&mut harness, "Update now");
    step_until(&mut harness, "the update", |h| {
        has_label(h, "Your IBEX client now matches.")
    });
    click_button(&mut harness, "Start IBEX GUI");
    assert_eq!(outcome.take(), PromptOutcome::UpdatedStartGui);
}

#[test]
fn skipping_in_the_pop_up_is_remembered_for_that_release() {
    let demo = Demo::new();
    // Bring the GUI to 26.2.0, so that a 26.8 server is a minor (skippable) mismatch.
    let memory = demo.dir.path().join("prompt.toml");
    let root = InstallRoot::new(demo.install_root());
    let catalog = ShareSource::new(demo.share()).read_catalog().unwrap();
    let kit = catalog
        .releases
        .iter()
        .find(|r| r.name.to_string() == "26.2.0")
        .unwrap()
        .kit(Component::IbexGui)
        .unwrap()
        .clone();
    ibex_updater_core::install::install(
        &root,
        &ShareSource::new(demo.share()),
        &[&kit],
        &ibex_updater_core::progress::NoProgress,
        &ibex_updater_core::install::InstallOptions {
            hostname: "TEST".into(),
            lock_wait: Duration::from_secs(5),
            sync: true,
            epics_utils: None,
        },
    )
    .unwrap();
    let mut harness = prompt_harness(&demo, &memory, "26.8.0.1500");
    harness.run_ok();
    assert!(has_label(&harness, "Update recommended"));
    let outcome = harness.state().outcome_handle();
    click_button(&mut harness, "Skip this version");
    assert_eq!(outcome.take(), PromptOutcome::Skipped);
    let remembered = PromptMemory::load_from(&memory);
    assert_eq!(
        remembered.skipped.get("LARMOR").map(String::as_str),
        Some("26.8.0")
    );
}

/// Holds an archive back halfway until the test opens it, so that the test can look at (and
/// cancel) an install in progress without racing it.
#[derive(Clone, Default)]
struct Gate(Arc<AtomicBool>);

impl Gate {
    fn closed() -> Gate {
        Gate::default()
    }
    fn open(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct GatedSource {
    share: ShareSource,
    gate: Arc<AtomicBool>,
}

impl GatedSource {
    fn new(share: PathBuf, gate: Gate) -> GatedSource {
        GatedSource {
            share: ShareSource::new(share),
            gate: gate.0,
        }
    }
}

impl ReleaseSource for GatedSource {
    fn location(&self) -> String {
        self.share.location()
    }
    fn read_catalog(&self) -> Result<Catalog, UpdateError> {
        self.share.read_catalog()
    }
    fn open_archive(&self, kit: &Kit) -> Result<ArchiveStream, UpdateError> {
        let inner = self.share.open_archive(kit)?;
        let half = inner.len.unwrap_or(0) / 2;
        Ok(ArchiveStream {
            len: inner.len,
            reader: Box::new(GatedReader {
                inner: inner.reader,
                gate: self.gate.clone(),
                hold_at: half,
                read: 0,
            }),
        })
    }
    fn fetch_file(
        &self,
        path: &str,
        size: u64,
        sha256: &str,
        dest: &Path,
        progress: &dyn ibex_updater_core::progress::Progress,
    ) -> Result<(), UpdateError> {
        self.share.fetch_file(path, size, sha256, dest, progress)
    }

    fn release_notes(&self, release: &ReleaseName) -> Option<String> {
        self.share.release_notes(release)
    }
}

struct GatedReader {
    inner: Box<dyn Read + Send>,
    gate: Arc<AtomicBool>,
    hold_at: u64,
    read: u64,
}

impl Read for GatedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.read >= self.hold_at
            && !self.gate.load(Ordering::SeqCst)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        let limit = if self.gate.load(Ordering::SeqCst) {
            buf.len()
        } else {
            buf.len()
                .min((self.hold_at - self.read.min(self.hold_at)) as usize)
                .max(1)
        };
        let n = self.inner.read(&mut buf[..limit])?;
        self.read += n as u64;
        Ok(n)
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

#[test]
fn settings_fixed_by_the_policy_are_read_only() {
    let demo = Demo::new();
    let mut settings = demo.settings.clone();
    settings.demo = false;
    settings.policy = Policy {
        release_source: Some(demo.share().display().to_string()),
        users_may_change_settings: Some(false),
        ..Default::default()
    };
    settings.source_location = Some((
        demo.share().display().to_string(),
        ibex_updater_core::config::user::Origin::Policy,
    ));
    settings.install_root_origin = None;
    let backend = Backend::new(settings, demo.dir.path().join("data"));
    let mut harness = harness(UpdaterApp::new(backend));
    step_until(&mut harness, "the window", |h| has_label(h, "LARMOR"));
    click_button(&mut harness, "Settings");
    step_until(&mut harness, "the settings", |h| has_label(h, "Proxy"));
    let field = |h: &Harness<'_, UpdaterApp>, label: &str| {
        h.get_by_role_and_label(Role::TextInput, label)
            .accesskit_node()
            .is_disabled()
    };
    assert!(field(&harness, "Release source"), "the policy fixes it");
    assert!(!field(&harness, "Install folder"));
    assert!(!field(&harness, "Proxy"));
    assert!(has_label(&harness, "set by your IT department's policy"));
    click_button(&mut harness, "Close");
}

#[test]
fn a_newer_updater_in_the_signed_index_is_offered() {
    use ibex_updater_core::index::{signature, trust::Trust};
    use ibex_updater_core::usecase::publish::{PublishOptions, publish};

    let demo = Demo::new();
    let keys = demo.dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (secret, public) = (keys.join("team.key"), keys.join("team.pub"));
    signature::keygen(&secret, &public).unwrap();
    let build_dir = demo
        .share()
        .join("Updater/9.9.9")
        .join(ibex_updater_core::usecase::self_update::current_target());
    std::fs::create_dir_all(&build_dir).unwrap();
    std::fs::write(build_dir.join("ibex-updater"), "a newer build").unwrap();
    let options = PublishOptions {
        share: demo.share(),
        key: secret,
        out: demo.share(),
        serial: None,
        source_id: None,
        valid_for: Duration::from_secs(86_400),
    };
    publish(&options, std::time::SystemTime::now()).unwrap();
    let policy = Policy {
        trusted_keys: vec![std::fs::read_to_string(&public).unwrap()],
        ..Default::default()
    };
    let trust = Trust::from_policy(&policy, &demo.dir.path().join("data")).unwrap();
    let source = ShareSource::new(demo.share()).with_trust(trust);
    let mut settings = demo.settings.clone();
    settings.demo = false;
    let backend =
        Backend::new(settings, demo.dir.path().join("data")).with_source(Arc::new(source));
    let mut harness = harness(UpdaterApp::new(backend));
    step_until(&mut harness, "the offer", |h| {
        has_label(h, "IBEX Updater 9.9.9 is available")
    });
    assert!(
        harness
            .query_by_role_and_label(Role::Button, "Update IBEX Updater")
            .is_some()
    );
}

/// Off the instrument network no instrument answers: the window says what it searched and takes
/// a server version typed by hand, which picks the release as an instrument's would.
#[test]
fn with_no_instrument_reachable_a_typed_server_version_picks_the_release() {
    let demo = Demo::new();
    let mut settings = demo.settings.clone();
    // A port that nothing listens on.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    settings.ca =
        ibex_updater_core::instrument::ca::CaConfig::single(dead, Duration::from_millis(300));
    let backend = Backend::new(settings, demo.dir.path().join("data"));
    let mut harness = harness(UpdaterApp::new(backend));
    step_until(&mut harness, "the failed instrument list", |h| {
        has_label(
            h,
            "The instrument list could not be read. Use Refresh to try again.",
        )
    });
    assert!(
        harness
            .query_by_label_contains(&format!("searched {dead}"))
            .is_some(),
        "the addresses searched are named"
    );

    let field = harness.get_by_role_and_label(Role::TextInput, "Server version");
    field.click();
    harness.step();
    harness
        .get_by_role_and_label(Role::TextInput, "Server version")
        .type_text("not a version");
    click_button(&mut harness, "Use this version");
    step_until(&mut harness, "the refusal", |h| {
        h.query_by_label_contains("not an IBEX version").is_some()
    });
    harness
        .get_by_role_and_label(Role::TextInput, "Server version")
        .click();
    harness.step();
    harness.key_press(eframe::egui::Key::End);
    for _ in 0.."not a version".len() {
        harness.key_press(eframe::egui::Key::Backspace);
    }
    harness
        .get_by_role_and_label(Role::TextInput, "Server version")
        .type_text("26.2.0.1234");
    click_button(&mut harness, "Use this version");
    step_until(&mut harness, "the verdicts for the typed version", |h| {
        has_label(h, "A server running IBEX 26.2.0.1234 (typed by hand)")
            && has_label(h, "Update required")
    });
    assert!(has_label(&harness, "Install IBEX GUI 26.2.1"));
}

/// A running IBEX GUI stops the install; the window offers to wait, and the install goes on by
/// itself once the GUI has closed.
// The program left running in Client_E4 is a copy of /bin/sleep; on Windows the command line's
// tests show the same check finding ibex-client.exe and pythonw.exe.
#[cfg(unix)]
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
#[cfg(unix)]
#[test]
fn a_gui_closing_while_the_releases_are_reread_still_lets_the_install_go_on() {
    let demo = Demo::new();
    let gui = InstallRoot::new(demo.install_root()).component_dir(Component::IbexGui);
    let program = gui.join("ibex-client");
    std::fs::copy("/bin/sleep", &program).unwrap();
    let mut running = crate::common::spawn_copied(std::process::Command::new(&program).arg("60"));
    let catalog_gate = Gate::default();
    catalog_gate.open();
    let source = HeldCatalogSource {
        share: ShareSource::new(demo.share()),
        gate: catalog_gate.0.clone(),
    };
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

/// A share whose catalog is read only while the gate is open.
#[derive(Debug)]
struct HeldCatalogSource {
    share: ShareSource,
    gate: Arc<AtomicBool>,
}

impl ReleaseSource for HeldCatalogSource {
    fn location(&self) -> String {
        self.share.location()
    }
    fn read_catalog(&self) -> Result<Catalog, UpdateError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.gate.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.share.read_catalog()
    }
    fn open_archive(&self, kit: &Kit) -> Result<ArchiveStream, UpdateError> {
        self.share.open_archive(kit)
    }
    fn fetch_file(
        &self,
        path: &str,
        size: u64,
        sha256: &str,
        dest: &Path,
        progress: &dyn ibex_updater_core::progress::Progress,
    ) -> Result<(), UpdateError> {
        self.share.fetch_file(path, size, sha256, dest, progress)
    }
    fn release_notes(&self, release: &ReleaseName) -> Option<String> {
        self.share.release_notes(release)
    }
}

/// Before a lone component install that would split the GUI and genie_python across release
/// lines, its card says so.
#[test]
fn a_lone_install_that_would_split_the_release_lines_is_warned_about_first() {
    let demo = Demo::new();
    let mut harness = harness(UpdaterApp::new(demo.backend()));
    // ENGINX runs 26.8; the demo has GUI 25.8 and genie_python 26.2 installed.
    pick(&mut harness, "ENGINX");
    assert!(has_label(
        &harness,
        "Installing only this leaves genie_python on 26.2, another release line: the GUI uses the installed genie_python."
    ));
    assert!(has_label(
        &harness,
        "Installing only this leaves IBEX GUI on 25.8, another release line: the GUI uses the installed genie_python."
    ));
    // LARMOR's GUI update keeps both on 26.2: no warning.
    pick(&mut harness, "LARMOR");
    assert!(
        harness
            .query_by_label_contains("Installing only this leaves")
            .is_none()
    );
}

/// Browse… where no folder dialog can be shown (Linux without a desktop portal, as in CI) says so
/// and leaves the field to type in.
// Windows always has its folder dialog, which under Wine would open and wait for a click.
#[cfg(target_os = "linux")]
#[test]
fn browse_without_a_folder_dialog_says_to_type_the_path() {
    let demo = Demo::new();
    let mut settings = demo.settings.clone();
    settings.demo = false;
    let backend = Backend::new(settings, demo.dir.path().join("data"));
    let mut harness = harness(UpdaterApp::new(backend));
    step_until(&mut harness, "the window", |h| has_label(h, "LARMOR"));
    click_button(&mut harness, "Settings");
    step_until(&mut harness, "the settings", |h| has_label(h, "Proxy"));
    // The test's session has no desktop portal to answer.
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the window without a D-Bus session bus"
        );
        eprintln!("SKIPPED: this session has a D-Bus session bus, so a portal may answer");
        return;
    }
    click_button(&mut harness, "Browse for the release source…");
    step_until(&mut harness, "the message", |h| {
        h.query_by_label_contains("No folder dialog could be opened on this desktop")
            .is_some()
    });
    let field = harness.get_by_role_and_label(Role::TextInput, "Release source");
    assert!(!field.accesskit_node().is_disabled(), "still typeable");
}
