//! Setting the window up: the first-run setup, an unverified share, settings and the policy, and
//! working off the instrument network.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eframe::egui::Rect;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use ibex_updater_core::config::policy::Policy;
use ibex_updater_core::index::trust::Trust;
use ibex_updater_core::source::ShareSource;
use ibex_updater_window::{Backend, UpdaterApp};

use crate::common::{has_label, step_until};
use crate::support::*;

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
