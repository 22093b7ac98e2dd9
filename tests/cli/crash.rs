//! Kill the installer at every step and show that the install root is always consistent
//! afterwards: both components wholly the old release or both wholly the new one, never a mix,
//! and the next run tidies up and says what it found.

use std::collections::BTreeMap;

use crate::common::{Env, Run, component_files};
use ibex_updater_core::client::component::Component;
use ibex_updater_core::install::checkpoint::install_checkpoints;

const OLD: &str = "26.2.0";
const NEW: &str = "26.2.1-hotfix";

type Files = BTreeMap<String, String>;

#[derive(Debug, Clone)]
struct State {
    gui: Files,
    genie: Files,
}

impl State {
    fn of(env: &Env) -> State {
        let snapshot = env.snapshot();
        State {
            gui: component_files(&snapshot, "Client_E4"),
            genie: component_files(&snapshot, "Python3"),
        }
    }
}

/// The old and new states, from real installs into a scratch root.
fn reference_states() -> (State, State) {
    let env = Env::with_standard_share();
    env.run(&["install", "--version", OLD]).assert_code(0);
    let old = State::of(&env);
    env.run(&["install", "--version", NEW]).assert_code(0);
    (old, State::of(&env))
}

fn env_with_old_installed() -> Env {
    let env = Env::with_standard_share();
    env.run(&["install", "--version", OLD]).assert_code(0);
    env
}

/// After a crash: one `status` run recovers, then the root must be exactly old or exactly new.
/// Returns which one it is.
fn assert_consistent(env: &Env, old: &State, new: &State, what: &str) -> &'static str {
    let status = env.run(&["status", "--json"]);
    status.assert_code(0);
    let now = State::of(env);
    let which = if now.gui == old.gui && now.genie == old.genie {
        "old"
    } else if now.gui == new.gui && now.genie == new.genie {
        // The replaced version is kept for rollback.
        let snapshot = env.snapshot();
        assert_eq!(
            component_files(&snapshot, ".ibex-updater/previous/Client_E4"),
            old.gui,
            "{what}: previous GUI"
        );
        "new"
    } else {
        panic!(
            "{what}: the install root is a mix: gui old={} new={}, genie old={} new={}",
            now.gui == old.gui,
            now.gui == new.gui,
            now.genie == old.genie,
            now.genie == new.genie
        );
    };
    assert!(
        !env.root.join(".ibex-updater/journal.json").exists(),
        "{what}: journal left"
    );
    let staging = env.root.join(".ibex-updater/staging");
    assert_eq!(
        std::fs::read_dir(staging).map(|d| d.count()).unwrap_or(0),
        0,
        "{what}: staging left"
    );
    // And the updater is not wedged: the new release installs (or is already there).
    env.run(&["install", "--version", NEW]).assert_code(0);
    assert_eq!(
        State::of(env).gui,
        new.gui,
        "{what}: install after recovery"
    );
    which
}

fn expected_side(checkpoint: &str, all: &[String]) -> &'static str {
    let committed = all
        .iter()
        .position(|c| c == "committed")
        .expect("a committed checkpoint");
    let at = all
        .iter()
        .position(|c| c == checkpoint)
        .expect("a known checkpoint");
    if at < committed { "old" } else { "new" }
}

#[test]
fn abort_at_every_checkpoint_leaves_old_or_new() {
    let (old, new) = reference_states();
    let all = install_checkpoints(&Component::ALL);
    assert!(all.len() >= 14, "{all:?}");
    for checkpoint in &all {
        let env = env_with_old_installed();
        let run = Run::from(
            env.command(&["install", "--version", NEW])
                .env("IBEX_UPDATER_TEST_ABORT_AT", checkpoint)
                .output()
                .unwrap(),
        );
        assert_ne!(run.code, 0, "{checkpoint}: the abort hook did not fire");
        let side = assert_consistent(&env, &old, &new, checkpoint);
        assert_eq!(side, expected_side(checkpoint, &all), "{checkpoint}");
    }
}

/// Killed outright (SIGKILL; TerminateProcess on Windows) at each checkpoint.
#[test]
fn killed_at_every_checkpoint_leaves_old_or_new() {
    let (old, new) = reference_states();
    let all = install_checkpoints(&Component::ALL);
    for checkpoint in &all {
        let env = env_with_old_installed();
        let pause_file = env.dir.path().join("paused");
        let mut child = env
            .command(&["install", "--version", NEW])
            .env("IBEX_UPDATER_TEST_PAUSE_AT", checkpoint)
            .env("IBEX_UPDATER_TEST_PAUSE_FILE", &pause_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !pause_file.exists() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "{checkpoint} never reached"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let side = assert_consistent(&env, &old, &new, checkpoint);
        assert_eq!(side, expected_side(checkpoint, &all), "{checkpoint}");
    }
}

#[test]
fn killed_at_arbitrary_moments_leaves_old_or_new() {
    let (old, new) = reference_states();
    // Spread the kills over the length of a real install, measured here rather than assumed.
    let probe = env_with_old_installed();
    let started = std::time::Instant::now();
    probe.run(&["install", "--version", NEW]).assert_code(0);
    let span = started.elapsed().as_micros().max(1000) as u64;
    let mut seen = BTreeMap::new();
    for i in 0..24u64 {
        let env = env_with_old_installed();
        let mut child = env
            .command(&["install", "--version", NEW])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(span * i / 20));
        let _ = child.kill();
        child.wait().unwrap();
        *seen
            .entry(assert_consistent(&env, &old, &new, &format!("kill #{i}")))
            .or_insert(0) += 1;
    }
    eprintln!("outcomes of arbitrary kills: {seen:?}");
}
