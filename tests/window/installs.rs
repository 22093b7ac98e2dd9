//! Installing, cancelling, rolling back and waiting from the window, and what it says when an
//! install cannot go ahead.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::sync::Arc;
use std::time::Duration;

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use ibex_updater_core::client::component::Component;
use ibex_updater_core::config::policy::Policy;
use ibex_updater_core::source::ShareSource;
use ibex_updater_window::{Backend, UpdaterApp};

use crate::common::{has_label, step_until};
use crate::support::*;

#[test]
fn install_matching_client_shows_progress_then_completion_and_rolls_back() {
    let demo = Demo::new();
    let (mut harness, gate) = start_held_install(&demo);

    // The source holds the archive back: the bar names the stage and the archive's size.
    step_until(&mut harness, "the progress bar", |h| {
        has_label(h, "IBEX GUI: copying")
    });
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
fn a_newer_updater_in_the_signed_index_is_offered() {
    let demo = Demo::new();
    let build_dir = demo
        .share()
        .join("Updater/9.9.9")
        .join(ibex_updater_core::usecase::self_update::current_target());
    std::fs::create_dir_all(&build_dir).unwrap();
    std::fs::write(build_dir.join("ibex-updater"), "a newer build").unwrap();
    let mut harness = harness(UpdaterApp::new(signed_backend(&demo)));
    step_until(&mut harness, "the offer", |h| {
        has_label(h, "IBEX Updater 9.9.9 is available")
    });
    assert!(
        harness
            .query_by_role_and_label(Role::Button, "Update IBEX Updater")
            .is_some()
    );
}

/// Going back to a release installed before, and still kept, is a swap, and the window says so.
#[test]
fn going_back_to_a_kept_release_says_it_was_switched_in() {
    let demo = Demo::new();
    let mut harness = harness(UpdaterApp::new(signed_backend(&demo)));
    pick(&mut harness, "LARMOR");
    let both = |release: &str| format!("IBEX GUI {release} and genie_python {release}");
    install_by_name(
        &mut harness,
        "26.2.1-hotfix",
        &format!("Installed {}.", both("26.2.1.1310")),
    );
    // genie_python 26.2.0 was installed unsigned before the first install kept it: every file
    // passes the signed manifest's check, so it is switched in too.
    let kept = " (kept on this computer, so switched in at once)";
    install_by_name(
        &mut harness,
        "26.2.0",
        &format!("Installed IBEX GUI 26.2.0.1234 and genie_python 26.2.0.1234{kept}."),
    );
    install_by_name(
        &mut harness,
        "26.2.1-hotfix",
        &format!("Installed IBEX GUI 26.2.1.1310{kept} and genie_python 26.2.1.1310{kept}."),
    );
    assert_eq!(
        demo.installed(Component::IbexGui).as_deref(),
        Some("26.2.1.1310")
    );
}

/// The demo's share with a signed index, and a backend that trusts its key.
fn signed_backend(demo: &Demo) -> Backend {
    use ibex_updater_core::index::{signature, trust::Trust};
    use ibex_updater_core::usecase::publish::{PublishOptions, publish};

    let keys = demo.dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (secret, public) = (keys.join("team.key"), keys.join("team.pub"));
    signature::keygen(&secret, &public).unwrap();
    let options = PublishOptions {
        share: demo.share(),
        key: secret,
        out: demo.share(),
        serial: None,
        source_id: None,
        valid_for: Duration::from_secs(86_400),
        rotate_from: None,
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
    Backend::new(settings, demo.dir.path().join("data")).with_source(Arc::new(source))
}

/// Installs `release` from the release picker, and waits for the notice `done`.
fn install_by_name(harness: &mut Harness<'_, UpdaterApp>, release: &str, done: &str) {
    // After an install the window rereads the client and the source before it offers another.
    step_until(harness, "the window to settle", |h| h.state().is_settled());
    click_button(harness, "Install a specific release…");
    let choice = format!("{release} (IBEX GUI, genie_python)");
    step_until(harness, "the release list", |h| has_label(h, &choice));
    harness.get_by_label(&choice).click();
    let button = format!("Install release {release}");
    step_until(harness, "the choice", |h| has_label(h, &button));
    click_button(harness, &button);
    step_until(harness, "the install", |h| has_label(h, done));
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
