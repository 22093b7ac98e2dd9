//! `launch` against a real Channel Access peer (EPICS Base's soft IOC) and a stand-in GUI
//! (`ibex-test-gui`) that records its working directory, its arguments and the instrument
//! preference it found when it started.
//!
//! The peer's fleet: LARMOR runs 26.2.1.1001, INST002 26.2.2.1002, INST003 26.2.0.1003, and the
//! last instrument (INST061) is listed but never answers.
#![allow(clippy::unwrap_used)] // fixtures: a failure to set one up should panic the test

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::channel_access::{Peer, python};
use crate::common::{ALLOW_UNSIGNED, Env, GENIE, GUI, Run};

const PREFERENCE: &str = "configuration/.settings/uk.ac.stfc.isis.ibex.instrument.prefs";

fn peer() -> Option<Peer> {
    Some(Peer::python(&python()?, "softioc", &[]))
}

fn gui_program(env: &Env) -> PathBuf {
    env.gui_dir().join(if cfg!(windows) {
        "ibex-client.exe"
    } else {
        "ibex-client"
    })
}

/// A client installed from `release` (both components), with the stand-in as its GUI program.
fn env_with_client(release: &str) -> Env {
    let env = Env::with_standard_share();
    // A short check, as a site with a slow network would not set; the silent instrument costs it.
    fs::write(
        env.dir.path().join("no-policy.toml"),
        format!("{ALLOW_UNSIGNED}launch_check_ms = 500\n"),
    )
    .unwrap();
    env.run(&["install", "--version", release]).assert_code(0);
    fs::copy(env!("CARGO_BIN_EXE_ibex-test-gui"), gui_program(&env)).unwrap();
    env
}

fn record_path(env: &Env) -> PathBuf {
    env.dir.path().join("gui-record.json")
}

fn launch(env: &Env, peer: &Peer, args: &[&str]) -> Run {
    let mut all = vec!["launch", "--json"];
    all.extend_from_slice(args);
    Run::from(
        env.command(&all)
            .envs(peer.env())
            .env("IBEX_TEST_GUI_RECORD", record_path(env))
            .output()
            .unwrap(),
    )
}

/// What the stand-in GUI recorded; it starts detached, so wait for it (for at most a minute).
fn gui_record(env: &Env) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = fs::read_to_string(record_path(env)) {
            return serde_json::from_str(&text).unwrap();
        }
        assert!(Instant::now() < deadline, "the GUI never started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn canonical(path: &Path) -> String {
    fs::canonicalize(path).unwrap().display().to_string()
}

#[test]
fn a_matching_client_points_the_gui_at_the_instrument_and_starts_it_in_client_e4() {
    let Some(peer) = peer() else { return };
    let env = env_with_client("26.2.1-hotfix");
    let run = launch(
        &env,
        &peer,
        &["--instrument", "larmor", "--", "-clean", "a b"],
    );
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["instrument"]["name"], "LARMOR");
    assert_eq!(out["instrument"]["from"], "named");
    assert_eq!(out["check"]["status"], "matches", "{out}");
    assert_eq!(out["check"]["server_version"], "26.2.1.1001");
    assert_eq!(out["preference"], "written");
    assert_eq!(out["gui"]["status"], "started");

    let record = gui_record(&env);
    // Both sides canonical: Windows gives a process its folder without the `\\?\` prefix.
    let cwd = Path::new(record["cwd"].as_str().unwrap());
    assert_eq!(canonical(cwd), canonical(&env.gui_dir()));
    assert_eq!(record["args"], serde_json::json!(["-clean", "a b"]));
    let preference = record["preference"]
        .as_str()
        .expect("written before the start");
    assert!(
        preference.contains("preferences/initialPV=IN\\:LARMOR\\:"),
        "{preference}"
    );
    assert!(preference.contains("preferences/initialHost=NDXLARMOR"));
}

#[test]
fn a_silent_instrument_never_holds_the_start_up() {
    let Some(peer) = peer() else { return };
    let env = env_with_client("26.2.1-hotfix");
    let run = launch(&env, &peer, &["--instrument", "INST061"]);
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["check"]["status"], "no-answer", "{out}");
    assert_eq!(out["gui"]["status"], "started");
    let record = gui_record(&env);
    assert!(
        record["preference"]
            .as_str()
            .unwrap()
            .contains("initialName=INST061")
    );
}

/// A mismatch with `--silent` asks nothing, changes nothing and starts the GUI the user has.
#[test]
fn a_mismatch_under_silent_starts_the_gui_that_is_installed() {
    let Some(peer) = peer() else { return };
    let env = env_with_client("26.2.0");
    let run = launch(&env, &peer, &["--silent", "--instrument", "LARMOR"]);
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["check"]["status"], "differs", "{out}");
    assert_eq!(out["asked"], "silent");
    assert_eq!(out["gui"]["status"], "started");
    gui_record(&env);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.0"));
    assert_eq!(env.installed_version(GENIE).as_deref(), Some("26.2.0"));
}

/// Without `--instrument`: the GUI's own preference first, then the instrument the updater
/// last used.
#[test]
fn the_instrument_comes_from_the_gui_then_from_the_updater() {
    let Some(peer) = peer() else { return };
    let env = env_with_client("26.2.1-hotfix");
    let preference = env.gui_dir().join(PREFERENCE);
    fs::create_dir_all(preference.parent().unwrap()).unwrap();
    fs::write(
        &preference,
        "eclipse.preferences.version=1\npreferences/initialHost=NDXINST002\n\
         preferences/initialName=INST002\npreferences/initialPV=IN\\:INST002\\:\n",
    )
    .unwrap();
    let out = launch(&env, &peer, &["--no-check"]).json();
    assert_eq!(out["instrument"]["name"], "INST002");
    assert_eq!(out["instrument"]["from"], "gui-preference");
    assert_eq!(out["check"]["status"], "skipped");
    assert_eq!(out["preference"], "unchanged");
    gui_record(&env);

    fs::remove_file(&preference).unwrap();
    fs::remove_file(record_path(&env)).unwrap();
    fs::create_dir_all(env.dir.path().join("data")).unwrap();
    fs::write(env.dir.path().join("data/last-instrument.txt"), "INST003").unwrap();
    let out = launch(&env, &peer, &[]).json();
    assert_eq!(out["instrument"]["name"], "INST003", "{out}");
    assert_eq!(out["instrument"]["from"], "last-used");
    assert_eq!(out["check"]["status"], "matches", "{out}");
    assert!(
        gui_record(&env)["preference"]
            .as_str()
            .unwrap()
            .contains("initialName=INST003")
    );
}

/// Kills the GUI a test started when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The GUI rewrites its preference when it closes, so a running GUI's file is left alone, and
/// it is not started a second time.
#[test]
fn a_running_gui_is_not_started_twice_and_its_preference_is_left_alone() {
    let Some(peer) = peer() else { return };
    let env = env_with_client("26.2.1-hotfix");
    let first_record = env.dir.path().join("first-gui.json");
    let _running = Running(crate::common::spawn_copied(
        Command::new(gui_program(&env))
            .current_dir(env.gui_dir())
            .env("IBEX_TEST_GUI_RECORD", &first_record)
            .env("IBEX_TEST_GUI_STAY", "120"),
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !first_record.exists() {
        assert!(Instant::now() < deadline, "the first GUI never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = launch(&env, &peer, &["--instrument", "INST003"]);
    run.assert_code(0);
    let out = run.json();
    assert_eq!(out["gui"]["status"], "already-running", "{out}");
    assert_eq!(out["preference"], "left-alone");
    assert!(!env.gui_dir().join(PREFERENCE).exists());
    let text = env
        .command(&["launch", "--instrument", "INST003"])
        .envs(peer.env())
        .output()
        .unwrap();
    let text = Run::from(text);
    assert!(text.stdout.contains("already running"), "{}", text.stdout);
    assert!(!record_path(&env).exists(), "no second GUI");
}

#[test]
fn launch_without_a_gui_installed_says_how_to_install_it() {
    let env = Env::with_standard_share();
    let run = env.run(&["launch", "--no-check"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("the IBEX GUI is not installed"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ibex-updater install"));
}
