//! The use cases are written once, so the command line and the window must plan alike. Each
//! test here runs the same request through both front ends, from the same starting client, and
//! compares what they did to the install root.
#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use ibex_updater_core::client::component::Component;
use ibex_updater_core::client::version_file;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::install::InstallRoot;
use ibex_updater_window::{Backend, UpdaterApp};

use crate::common::{Run, has_label, step_until, updater_exe};

/// What an install left: each component's installed version, and whether a previous version is
/// kept for rollback (which shows that the component was replaced).
fn outcome(root: &Path) -> Vec<(Component, Option<String>, bool)> {
    let root = InstallRoot::new(root);
    Component::ALL
        .into_iter()
        .map(|c| {
            let installed = version_file::installed(&root.component_dir(c)).map(|v| v.to_string());
            (c, installed, root.previous_dir(c).is_dir())
        })
        .collect()
}

/// `ibex-updater --demo install --version RELEASE` in its own data folder; returns the demo's
/// install root and the components the JSON report says were installed.
fn install_on_the_command_line(data: &Path, release: &str) -> (std::path::PathBuf, Vec<String>) {
    let mut cmd = Command::new(updater_exe());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("IBEX_UPDATER_") {
            cmd.env_remove(key);
        }
    }
    let run = Run::from(
        cmd.env("IBEX_UPDATER_DATA_DIR", data)
            .args(["--demo", "--json", "install", "--version", release])
            .output()
            .unwrap(),
    );
    run.assert_code(0);
    let installed = run.json()["installed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component"].as_str().unwrap().to_string())
        .collect();
    (data.join("demo").join("Apps"), installed)
}

/// "Install a specific release…" in the window, with the same demo in `dir`.
fn install_in_the_window(dir: &Path, release: &str, expect_notice: &str) -> std::path::PathBuf {
    let settings = Settings::demo(&dir.join("demo"), Duration::from_secs(2)).unwrap();
    let root = settings.install_root.path().to_path_buf();
    let app = UpdaterApp::new(Backend::new(settings, dir.join("data")));
    let mut harness = Harness::builder()
        .with_size([980.0, 640.0])
        .build_ui_state(|ui, app: &mut UpdaterApp| app.show(ui), app);
    step_until(&mut harness, "the installed client", |h| {
        has_label(h, "Installed")
    });
    harness
        .get_by_role_and_label(Role::Button, "Install a specific release…")
        .click();
    step_until(&mut harness, "the release list", |h| {
        has_label(h, &format!("{release} ("))
    });
    harness
        .get_by_label_contains(&format!("{release} ("))
        .click();
    let confirm = format!("Install release {release}");
    step_until(&mut harness, "the choice", |h| has_label(h, &confirm));
    harness
        .get_by_role_and_label(Role::Button, &confirm)
        .click();
    step_until(&mut harness, "the install", |h| has_label(h, expect_notice));
    root
}

/// The demo client has IBEX GUI 25.8.0 and genie_python 26.2.0. Asking for release 26.2.0
/// installs the GUI and leaves genie_python alone, whichever front end asks (the window used to
/// reinstall genie_python too).
#[test]
fn a_specific_release_skips_what_is_already_installed_in_both_front_ends() {
    let cli = tempfile::tempdir().unwrap();
    let (cli_root, reported) = install_on_the_command_line(cli.path(), "26.2.0");
    assert_eq!(reported, ["ibex-gui"]);

    let window = tempfile::tempdir().unwrap();
    let window_root =
        install_in_the_window(window.path(), "26.2.0", "Installed IBEX GUI 26.2.0.1234.");

    let expected = vec![
        (Component::IbexGui, Some("26.2.0.1234".to_string()), true),
        (
            Component::GeniePython,
            Some("26.2.0.1234".to_string()),
            false,
        ),
    ];
    assert_eq!(outcome(&cli_root), expected);
    assert_eq!(outcome(&window_root), expected);
}

/// A release the client already has is a no-op in both: nothing replaced, and the window says so.
#[test]
fn a_release_already_installed_changes_nothing_in_either_front_end() {
    let cli = tempfile::tempdir().unwrap();
    let (cli_root, _) = install_on_the_command_line(cli.path(), "26.2.0");
    let before = outcome(&cli_root);
    let (_, reported) = install_on_the_command_line(cli.path(), "26.2.0");
    assert!(reported.is_empty(), "{reported:?}");
    assert_eq!(outcome(&cli_root), before);

    let window = tempfile::tempdir().unwrap();
    let window_root =
        install_in_the_window(window.path(), "26.2.0", "Installed IBEX GUI 26.2.0.1234.");
    let before = outcome(&window_root);
    // A second window on the same demo asks for the same release again.
    install_in_the_window(
        window.path(),
        "26.2.0",
        "Nothing to install: your client already has these versions.",
    );
    assert_eq!(outcome(&window_root), before);
}
