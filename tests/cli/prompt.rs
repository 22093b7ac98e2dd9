//! `check --prompt` from the command line: when it stays quiet, and that it goes for the window
//! otherwise. (The pop-up itself is driven in `tests/gui.rs`.) These runs have no display, so a
//! run that tried to open the window would fail with exit code 1 and say so.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::fs;

use crate::common::{ALLOW_UNSIGNED, Env};

fn prompt(env: &Env, extra: &[&str]) -> crate::common::Run {
    let mut args = vec!["--demo", "check", "--instrument", "LARMOR", "--prompt"];
    args.extend_from_slice(extra);
    let mut command = env.command(&args);
    command.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    crate::common::Run::from(command.output().unwrap())
}

#[test]
fn says_nothing_and_exits_0_when_the_client_matches() {
    let env = Env::new();
    env.run(&["--demo", "install", "--instrument", "LARMOR"])
        .assert_code(0);
    let run = prompt(&env, &[]);
    run.assert_code(0);
    assert_eq!(run.stdout, "");
    assert!(!run.stderr.contains("window"), "{}", run.stderr);
}

#[test]
fn a_mismatch_goes_for_the_pop_up() {
    let env = Env::new();
    let run = prompt(&env, &[]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("could not open the window"),
        "{}",
        run.stderr
    );
    // --silent is for IT's scripts: it never prompts, and the exit code says what is wrong.
    prompt(&env, &["--silent"]).assert_code(12);
}

#[test]
fn remind_me_later_keeps_it_quiet_until_the_time_is_up() {
    let env = Env::new();
    let memory = env.dir.path().join("data").join("prompt.toml");
    fs::create_dir_all(memory.parent().unwrap()).unwrap();
    fs::write(&memory, "[remind_after]\nLARMOR = 99999999999\n").unwrap();
    let run = prompt(&env, &[]);
    run.assert_code(12);
    assert!(!run.stderr.contains("window"), "{}", run.stderr);
    fs::write(&memory, "[remind_after]\nLARMOR = 1\n").unwrap();
    prompt(&env, &[]).assert_code(1);
}

#[test]
fn an_instrument_that_does_not_answer_is_no_reason_to_interrupt() {
    let env = Env::new();
    let mut command = env.command(&[
        "--demo",
        "--ca-timeout",
        "0.3",
        "check",
        "--instrument",
        "OFFLINE",
        "--prompt",
    ]);
    command.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    let run = crate::common::Run::from(command.output().unwrap());
    run.assert_code(5);
    assert!(!run.stderr.contains("window"), "{}", run.stderr);
}

#[test]
fn the_logon_check_runs_only_when_the_policy_turns_it_on_and_not_too_often() {
    let env = Env::new();
    let policy = env.dir.path().join("no-policy.toml");
    let logon = |env: &Env| {
        let mut command = env.command(&[
            "check",
            "--prompt",
            "--logon",
            "--server-version",
            "26.2.0.1234",
        ]);
        command.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
        crate::common::Run::from(command.output().unwrap())
    };
    crate::common::Share::standard(&env.share);
    // Nothing installed: a mismatch, but auto_check is off, so nothing happens.
    logon(&env).assert_code(0);
    fs::write(&policy, format!("{ALLOW_UNSIGNED}auto_check = false\n")).unwrap();
    logon(&env).assert_code(0);

    fs::write(
        &policy,
        format!("{ALLOW_UNSIGNED}auto_check = true\ncheck_interval_hours = 24\n"),
    )
    .unwrap();
    let run = logon(&env);
    run.assert_code(1);
    assert!(
        run.stderr.contains("could not open the window"),
        "{}",
        run.stderr
    );
    // Within the interval, the next logon stays quiet.
    logon(&env).assert_code(0);
}
