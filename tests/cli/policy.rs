//! Where settings come from: command line > environment > machine policy > user settings >
//! defaults, and a policy that locks its settings cannot be overridden.
#![allow(clippy::unwrap_used)] // the fixture helpers: a failure to set one up should panic the test

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::Run;

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let setup = Setup {
            dir: tempfile::tempdir().unwrap(),
        };
        setup.policy("");
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn policy(&self, text: &str) {
        // The tests' shares have no signed index.
        fs::write(
            self.path("policy.toml"),
            format!("{}{text}", crate::common::ALLOW_UNSIGNED),
        )
        .unwrap();
    }

    fn user_settings(&self, text: &str) {
        fs::create_dir_all(self.path("data")).unwrap();
        fs::write(self.path("data/settings.toml"), text).unwrap();
    }

    /// `releases --json` with only what the test sets: which source did it read?
    fn source_used(&self, args: &[&str], env: &[(&str, &Path)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ibex-updater"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("IBEX_UPDATER_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("IBEX_UPDATER_POLICY", self.path("policy.toml"))
            .env("IBEX_UPDATER_DATA_DIR", self.path("data"))
            .env("IBEX_UPDATER_INSTALL_ROOT", self.path("Apps"))
            .envs(env.iter().copied())
            .args(args)
            .args(["releases", "--json"]);
        Run::from(cmd.output().unwrap())
    }
}

fn source_of(run: &Run) -> String {
    run.assert_code(0);
    run.json()["source"].as_str().unwrap().to_string()
}

fn toml_path(path: &Path) -> String {
    format!("'{}'", path.display())
}

#[test]
fn command_line_beats_environment_beats_policy_beats_user_settings() {
    let s = Setup::new();
    let [cli, env, policy, user] = ["cli", "env", "policy", "user"].map(|n| {
        let share = s.path(n);
        fs::create_dir_all(&share).unwrap();
        share
    });
    s.user_settings(&format!("release_source = {}\n", toml_path(&user)));
    assert_eq!(
        source_of(&s.source_used(&[], &[])),
        user.display().to_string()
    );

    s.policy(&format!("release_source = {}\n", toml_path(&policy)));
    assert_eq!(
        source_of(&s.source_used(&[], &[])),
        policy.display().to_string()
    );

    let env_var = [("IBEX_UPDATER_SOURCE", env.as_path())];
    assert_eq!(
        source_of(&s.source_used(&[], &env_var)),
        env.display().to_string()
    );

    let flag = ["--source", cli.to_str().unwrap()];
    assert_eq!(
        source_of(&s.source_used(&flag, &env_var)),
        cli.display().to_string()
    );
}

#[test]
fn a_locked_policy_cannot_be_overridden() {
    let s = Setup::new();
    let [policy, mine] = ["policy", "mine"].map(|n| {
        let share = s.path(n);
        fs::create_dir_all(&share).unwrap();
        share
    });
    s.policy(&format!(
        "release_source = {}\nusers_may_change_settings = false\n",
        toml_path(&policy)
    ));
    s.user_settings(&format!("release_source = {}\n", toml_path(&mine)));
    // User settings never beat the policy.
    assert_eq!(
        source_of(&s.source_used(&[], &[])),
        policy.display().to_string()
    );
    // Neither the command line nor the environment may change a locked setting...
    for run in [
        s.source_used(&["--source", mine.to_str().unwrap()], &[]),
        s.source_used(&[], &[("IBEX_UPDATER_SOURCE", mine.as_path())]),
    ] {
        run.assert_code(2);
        assert!(
            run.stderr
                .contains("the machine policy fixes the release source"),
            "{}",
            run.stderr
        );
    }
    // ... but naming the value the policy sets is fine, and what it does not set stays free.
    assert_eq!(
        source_of(&s.source_used(&["--source", policy.to_str().unwrap()], &[])),
        policy.display().to_string()
    );
    let run = s.source_used(
        &["--install-root", s.path("elsewhere").to_str().unwrap()],
        &[],
    );
    run.assert_code(0);
}

#[test]
fn empty_policy_values_count_as_unset() {
    // The MSI writes every property, empty when it was not given.
    let s = Setup::new();
    let user = s.path("user");
    fs::create_dir_all(&user).unwrap();
    s.policy("release_source = ''\ninstrument = ''\n");
    s.user_settings(&format!("release_source = {}\n", toml_path(&user)));
    assert_eq!(
        source_of(&s.source_used(&[], &[])),
        user.display().to_string()
    );
}

#[test]
fn a_bad_user_settings_file_is_named() {
    let s = Setup::new();
    s.user_settings("release_source = [");
    let run = s.source_used(&[], &[]);
    run.assert_code(2);
    assert!(run.stderr.contains("settings.toml"), "{}", run.stderr);
}

#[test]
fn a_policy_file_that_is_not_text_is_named_with_exit_2() {
    let s = Setup::new();
    fs::write(s.path("policy.toml"), [0xff, 0xfe, b'a', b'=', 0x80]).unwrap();
    let run = s.source_used(&[], &[]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("the policy file") && run.stderr.contains("not UTF-8"),
        "{}",
        run.stderr
    );
}
