//! The mismatch pop-up that `check --prompt` and `launch` open.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::path::Path;
use std::time::Duration;

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use ibex_updater_core::client::component::Component;
use ibex_updater_core::config::policy::Policy;
use ibex_updater_core::index::trust::Trust;
use ibex_updater_core::install::InstallRoot;
use ibex_updater_core::source::{ReleaseSource, ShareSource};
use ibex_updater_core::usecase::prompt::PromptMemory;
use ibex_updater_core::usecase::status;
use ibex_updater_window::{PromptApp, PromptOutcome};

use crate::common::{has_label, step_until};
use crate::support::*;

fn prompt_harness(demo: &Demo, memory: &Path, server: &str) -> Harness<'static, PromptApp> {
    prompt_harness_with(demo, memory, server, |app| app)
}

fn prompt_harness_with(
    demo: &Demo,
    memory: &Path,
    server: &str,
    adjust: impl FnOnce(PromptApp) -> PromptApp,
) -> Harness<'static, PromptApp> {
    prompt_harness_from(
        demo,
        &ShareSource::new(demo.share()),
        memory,
        server,
        adjust,
    )
}

/// The pop-up over what `source` holds.
fn prompt_harness_from(
    demo: &Demo,
    source: &ShareSource,
    memory: &Path,
    server: &str,
    adjust: impl FnOnce(PromptApp) -> PromptApp,
) -> Harness<'static, PromptApp> {
    let catalog = source.read_catalog().unwrap();
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
            keep_releases: ibex_updater_core::install::DEFAULT_KEEP,
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

/// On a share that nothing vouches for, on a machine whose policy does not allow that, the
/// pop-up still says what does not match, and why it cannot update, instead of offering an
/// update that would be refused.
#[test]
fn on_an_unsigned_share_the_pop_up_says_why_it_cannot_update() {
    let demo = Demo::new();
    let memory = demo.dir.path().join("prompt.toml");
    let trust = Trust::from_policy(&Policy::default(), demo.dir.path()).unwrap();
    let source = ShareSource::new(demo.share()).with_trust(trust);
    let mut harness = prompt_harness_from(&demo, &source, &memory, "26.2.0.1234", |app| app);
    harness.run_ok();
    assert!(has_label(
        &harness,
        "Your IBEX client does not match LARMOR"
    ));
    assert!(has_label(
        &harness,
        "Unverified release source: you can compare versions, not install."
    ));
    assert!(
        harness
            .get_by_role_and_label(Role::Button, "Update now")
            .accesskit_node()
            .is_disabled()
    );
    assert!(
        !harness
            .get_by_role_and_label(Role::Button, "Remind me later")
            .accesskit_node()
            .is_disabled()
    );
    // What an update would install is not offered either.
    assert!(!has_label(&harness, "Update now installs"));
}
