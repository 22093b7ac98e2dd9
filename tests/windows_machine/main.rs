//! Where the updater finds its machine's settings and keeps its user's data, on Windows (under
//! Wine in CI): the machine policy from the registry, written with `reg add` into
//! `HKLM\Software\Policies\ISIS\IBEX Updater` as Group Policy and the MSI write it, is read back,
//! and a setting it locks is shown as locked, on the command line and in the window; per-user data
//! goes under `%LOCALAPPDATA%`.
//!
//! A test binary of its own: the registry belongs to the whole machine, and cargo runs test
//! binaries one after another, so no other test reads the policy while this one sets it.
#![cfg(windows)]
#![allow(clippy::unwrap_used)] // a test: a failure to set the registry up should panic it

#[path = "../common/mod.rs"]
mod common;

use std::process::Command;
use std::time::Duration;

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use ibex_updater_core::config::resolved::{Overrides, Settings};
use ibex_updater_core::config::user::Origin;
use ibex_updater_window::{Backend, UpdaterApp};

use common::{Env, Run, has_label, step_until, updater_exe};

const KEY: &str = r"HKLM\Software\Policies\ISIS\IBEX Updater";

/// The policy key, with the values given; deleted again on drop.
struct PolicyKey;

impl PolicyKey {
    fn set(values: &[(&str, &str, &str)]) -> PolicyKey {
        let key = PolicyKey;
        for (name, kind, data) in values {
            reg(&["add", KEY, "/v", name, "/t", kind, "/d", data, "/f"]);
        }
        key
    }
}

impl Drop for PolicyKey {
    fn drop(&mut self) {
        reg(&["delete", KEY, "/f"]);
    }
}

fn reg(args: &[&str]) {
    let out = Command::new("reg").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "reg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_registry_policy_is_read_and_locks_what_it_sets() {
    let env = Env::with_standard_share();
    let share = env.share.display().to_string();
    let root = env.root.display().to_string();
    let _key = PolicyKey::set(&[
        ("ReleaseSource", "REG_SZ", &share),
        ("InstallRoot", "REG_SZ", &root),
        ("Instrument", "REG_SZ", "LARMOR"),
        ("AllowUnsigned", "REG_DWORD", "1"),
        ("UsersMayChangeSettings", "REG_DWORD", "0"),
    ]);
    // The updater as a user runs it: no source or install root on its command line, and no
    // policy file (so only the registry says where the share is).
    let updater = |args: &[&str]| {
        let mut command = Command::new(updater_exe());
        command
            .env_remove("IBEX_UPDATER_SOURCE")
            .env_remove("IBEX_UPDATER_INSTALL_ROOT")
            .env("IBEX_UPDATER_POLICY", env.dir.path().join("absent.toml"))
            .env("IBEX_UPDATER_DATA_DIR", env.dir.path().join("data"))
            .args(args);
        Run::from(command.output().unwrap())
    };

    let run = updater(&["releases", "--json"]);
    run.assert_code(0);
    assert!(run.stdout.contains("26.2.1-hotfix"), "{}", run.stdout);
    updater(&["install", "--version", "26.2.0"]).assert_code(0);
    assert_eq!(
        env.installed_version(common::GUI).as_deref(),
        Some("26.2.0")
    );

    // The policy locks its settings: another source on the command line is refused, by name.
    let elsewhere = env.dir.path().join("elsewhere").display().to_string();
    let run = updater(&["--source", &elsewhere, "releases"]);
    run.assert_code(2);
    assert!(run.stderr.contains("policy"), "{}", run.stderr);

    // The window resolves the same settings (with the machine's own, absent, policy file) and
    // greys out what the policy fixes.
    let settings = Settings::resolve(&Overrides {
        ca_timeout: Duration::from_secs(1),
        ..Overrides::default()
    })
    .unwrap();
    assert_eq!(settings.source_location, Some((share, Origin::Policy)));
    assert_eq!(settings.install_root_origin, Some(Origin::Policy));
    assert_eq!(settings.instrument.as_deref(), Some("LARMOR"));
    let backend = Backend::new(settings, env.dir.path().join("data"));
    let mut harness = Harness::builder()
        .with_size([980.0, 640.0])
        .wgpu()
        .build_ui_state(
            |ui, app: &mut UpdaterApp| app.show(ui),
            UpdaterApp::new(backend),
        );
    step_until(&mut harness, "the window", |h| has_label(h, "Settings"));
    harness
        .get_by_role_and_label(Role::Button, "Settings")
        .click();
    step_until(&mut harness, "the settings", |h| has_label(h, "Proxy"));
    for field in ["Release source", "Install folder"] {
        let node = harness.get_by_role_and_label(Role::TextInput, field);
        assert!(node.accesskit_node().is_disabled(), "{field} is locked");
    }
    assert!(has_label(&harness, "set by your IT department's policy"));
}

/// Per-user data (here the demo's share and install root) goes under `%LOCALAPPDATA%`, never the
/// roaming profile, which would carry it from machine to machine.
#[test]
fn per_user_data_lives_under_local_app_data() {
    let local = std::path::PathBuf::from(std::env::var_os("LOCALAPPDATA").unwrap());
    let data = local.join(r"ISIS\IBEX Updater\data");
    let run = Run::from(
        Command::new(updater_exe())
            .env_remove("IBEX_UPDATER_DATA_DIR")
            .args(["--demo", "releases", "--json"])
            .output()
            .unwrap(),
    );
    run.assert_code(0);
    assert!(data.join(r"demo\Releases").is_dir(), "{}", data.display());
    let roaming = std::path::PathBuf::from(std::env::var_os("APPDATA").unwrap());
    assert!(!roaming.join(r"ISIS\IBEX Updater").exists());
}
