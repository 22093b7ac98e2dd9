//! `status`, `check` and `releases` against a realistic share: verdicts, JSON, exit codes, and
//! where the settings come from.

use std::fs;

use crate::common::{Env, GENIE, GUI, Share};

fn install(env: &Env, version: &str, component: &str) {
    env.run(&["install", "--version", version, "--component", component])
        .assert_code(0);
}

#[test]
fn status_json_has_the_documented_shape() {
    let env = Env::with_standard_share();
    install(&env, "26.2.0", GUI);
    let run = env.run(&["status", "--json", "--server-version", "26.2.0.1234"]);
    run.assert_code(0);
    assert_eq!(
        run.json(),
        serde_json::json!({
            "server": {"version": "26.2.0.1234", "instrument": null},
            "components": [
                {"component": "ibex-gui", "installed": "26.2.0.1234", "library": null, "target": "26.2.1", "verdict": "update-available"},
                {"component": "genie-python", "installed": null, "library": null, "target": "26.2.2", "verdict": "not-installed"}
            ],
            "ipython_profile_pending": false,
            "source": env.share.display().to_string(),
            "verification": {"signed": false, "serial": null, "installs_allowed": true}
        })
    );
    // Key order is part of the contract people read.
    assert!(run.stdout.starts_with("{\"server\":"), "{}", run.stdout);
}

#[test]
fn check_exit_code_is_the_worst_verdict() {
    let env = Env::with_standard_share();
    // Nothing installed: not-installed is as urgent as update-required.
    env.run(&["check", "--server-version", "26.2.0"])
        .assert_code(12);

    install(&env, "26.2.1", GUI);
    install(&env, "26.2.2", GENIE);
    env.run(&["check", "--server-version", "26.2.0"])
        .assert_code(0);

    install(&env, "26.2.0", GUI);
    env.run(&["check", "--server-version", "26.2.0"])
        .assert_code(10);

    install(&env, "25.8.0", GENIE);
    env.run(&["check", "--server-version", "26.2.0"])
        .assert_code(12);

    // A server on a line that has no kits (26.5): the newest older kits go with it, and once
    // they are installed there is nothing more to do.
    install(&env, "26.2.1", GUI);
    install(&env, "26.2.2", GENIE);
    env.run(&["check", "--server-version", "26.5.0"])
        .assert_code(0);

    // A major version apart.
    let env2 = Env::with_standard_share();
    install(&env2, "26.2.0", GUI);
    install(&env2, "26.2.0", GENIE);
    env2.run(&["check", "--server-version", "25.8.0"])
        .assert_code(12);
}

#[test]
fn check_recommends_when_the_minor_differs() {
    let env = Env::with_standard_share();
    Share::new(&env.share).add_kit("26.8.0", GUI, "1500");
    Share::new(&env.share).add_kit("26.8.0", GENIE, "1500");
    install(&env, "26.2.1", GUI);
    install(&env, "26.2.2", GENIE);
    let run = env.run(&["check", "--json", "--server-version", "26.8.0"]);
    run.assert_code(11);
    assert_eq!(run.json()["components"][0]["verdict"], "update-recommended");
}

#[test]
fn development_server_and_unknown_server_never_block() {
    let env = Env::with_standard_share();
    install(&env, "26.2.0", GUI);
    install(&env, "26.2.0", GENIE);
    let run = env.run(&["check", "--json", "--server-version", "0.0.0.1"]);
    run.assert_code(0);
    assert_eq!(run.json()["components"][0]["verdict"], "development");
    assert_eq!(
        run.json()["components"][0]["target"],
        serde_json::Value::Null
    );
    let run = env.run(&["check", "--json"]);
    run.assert_code(0);
    assert_eq!(run.json()["components"][1]["verdict"], "unknown");
    assert_eq!(
        run.json()["components"][0]["target"],
        "26.2.1",
        "latest plain release with a kit"
    );
}

#[test]
fn development_client_build_is_reported_as_development() {
    let env = Env::with_standard_share();
    install(&env, "26.2.0", GUI);
    fs::write(env.gui_dir().join("VERSION.txt"), "devel-1a2b3c4\r\n").unwrap();
    let run = env.run(&["status", "--json", "--server-version", "26.2.0"]);
    assert_eq!(run.json()["components"][0]["installed"], "devel-1a2b3c4");
    assert_eq!(run.json()["components"][0]["verdict"], "development");
}

/// A nightly's VERSION.txt that holds no version at all is a development build, not an error.
#[test]
fn a_version_file_without_a_version_is_a_development_build() {
    let env = Env::with_standard_share();
    install(&env, "26.2.0", GUI);
    fs::write(env.gui_dir().join("VERSION.txt"), "ECHO is on.\r\n").unwrap();
    let run = env.run(&["status", "--json", "--server-version", "26.2.0"]);
    run.assert_code(0);
    assert_eq!(run.json()["components"][0]["installed"], "ECHO is on.");
    assert_eq!(run.json()["components"][0]["verdict"], "development");
}

/// Release folders named with zero padding (`25.02.0`, as tags are) are the same releases.
#[test]
fn a_zero_padded_release_folder_is_found_and_installed() {
    let env = Env::new();
    let share = Share::new(&env.share);
    share.add_kit("25.02.0", GUI, "1021");
    let run = env.run(&["releases", "--json"]);
    run.assert_code(0);
    assert_eq!(run.json()["releases"][0]["name"], "25.2.0");
    assert_eq!(run.json()["releases"][0]["kits"][0]["complete"], true);
    env.run(&["install", "--version", "25.2.0", "--component", "ibex-gui"])
        .assert_code(0);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("25.2.0"));
}

#[test]
fn releases_lists_kits_and_why_some_cannot_be_installed() {
    let env = Env::with_standard_share();
    let run = env.run(&["releases", "--json"]);
    run.assert_code(0);
    let doc = run.json();
    let names: Vec<_> = doc["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["25.8.0", "26.2.0", "26.2.1", "26.2.1-hotfix", "26.2.2"]
    );
    let partial = &doc["releases"][2]["kits"];
    assert_eq!(
        partial.as_array().unwrap().len(),
        1,
        "26.2.1 holds only the GUI kit"
    );
    let incomplete = &doc["releases"][4]["kits"][0];
    assert_eq!(incomplete["complete"], false);
    assert!(
        incomplete["status"]
            .as_str()
            .unwrap()
            .contains("COPY_COMPLETE.txt")
    );
    let text = env.run(&["releases"]);
    assert!(text.stdout.contains("26.2.1-hotfix"), "{}", text.stdout);
    assert!(text.stdout.contains("not installable"), "{}", text.stdout);
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::with_standard_share();
    env.run(&["status", "--server-version", "banana"])
        .assert_code(2);
    env.run(&[
        "install",
        "--server-version",
        "26.2.0",
        "--version",
        "26.2.0",
    ])
    .assert_code(2);
    env.run(&["frobnicate"]).assert_code(2);
    let run = env.run(&["install", "--component", "everything"]);
    run.assert_code(2);
}

#[test]
fn unreachable_source_exits_4() {
    let env = Env::new();
    let run = env.run(&["status", "--server-version", "26.2.0"]);
    run.assert_code(4);
    assert!(
        run.stderr.contains("cannot read the release source"),
        "{}",
        run.stderr
    );
    let run = env.run(&["install", "--json"]);
    run.assert_code(4);
    assert_eq!(run.json()["error"]["code"], 4);
}

#[test]
fn source_falls_back_to_the_environment_then_the_policy_file() {
    let env = Env::with_standard_share();
    let releases =
        |cmd: &mut std::process::Command| crate::common::Run::from(cmd.output().unwrap());
    // No --source at all: a clear usage error naming the ways to set one.
    let mut bare = std::process::Command::new(env!("CARGO_BIN_EXE_ibex-updater"));
    bare.env_remove("IBEX_UPDATER_SOURCE")
        .env("IBEX_UPDATER_POLICY", env.dir.path().join("no-policy.toml"))
        .env("IBEX_UPDATER_INSTALL_ROOT", &env.root)
        .args(["releases", "--json"]);
    let run = releases(&mut bare);
    run.assert_code(2);
    assert!(run.stderr.contains("IBEX_UPDATER_SOURCE"), "{}", run.stderr);

    // The environment variable.
    bare.env("IBEX_UPDATER_SOURCE", &env.share);
    releases(&mut bare).assert_code(0);

    // The policy file, when neither flag nor environment says.
    let policy = env.dir.path().join("policy.toml");
    fs::write(
        &policy,
        format!(
            "{}release_source = '{}'\ninstall_root = '{}'\n",
            crate::common::ALLOW_UNSIGNED,
            env.share.display(),
            env.root.display()
        ),
    )
    .unwrap();
    bare.env_remove("IBEX_UPDATER_SOURCE")
        .env("IBEX_UPDATER_POLICY", &policy);
    releases(&mut bare).assert_code(0);

    // A broken policy file is named in the error.
    fs::write(&policy, "release_source = [").unwrap();
    let run = releases(&mut bare);
    run.assert_code(2);
    assert!(run.stderr.contains("policy.toml"), "{}", run.stderr);
}

#[test]
fn demo_works_on_a_fresh_machine() {
    let env = Env::new();
    let run = env.run(&[
        "--demo",
        "status",
        "--json",
        "--server-version",
        "26.2.0.1234",
    ]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["components"][0]["installed"], "25.8.0.1021");
    assert_eq!(doc["components"][0]["verdict"], "update-required");
    env.run(&["--demo", "install", "--server-version", "26.2.0.1234"])
        .assert_code(0);
    env.run(&["--demo", "check", "--server-version", "26.2.0.1234"])
        .assert_code(0);
    env.run(&["--demo", "rollback", "--component", "ibex-gui"])
        .assert_code(0);
    env.run(&["--demo", "check", "--server-version", "26.2.0.1234"])
        .assert_code(12);
    let run = env.run(&["--demo", "releases", "--json"]);
    assert!(run.stdout.contains("26.2.1-hotfix"));
}

/// A share path that does not exist cannot be reached (exit 4, the OS's reason once), whatever
/// the policy says about signing.
#[test]
fn a_share_that_does_not_exist_is_unreachable_not_unsigned() {
    let env = Env::new();
    fs::write(env.dir.path().join("no-policy.toml"), "").unwrap();
    let missing = env.dir.path().join("nowhere");
    let run = env.run_from(missing.to_str().unwrap(), &["releases"]);
    run.assert_code(4);
    assert!(
        run.stderr.contains("cannot read the release source"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("sign"), "{}", run.stderr);
}

/// A folder near a share (the folder above `Releases`, a release folder, a kit folder) gets the
/// share's path as a suggestion.
#[test]
fn a_folder_near_the_share_suggests_the_share() {
    let env = Env::with_standard_share();
    for near in [
        env.dir.path().to_path_buf(),
        env.share.join("26.2.0"),
        env.share.join("26.2.0").join("Client"),
    ] {
        let run = env.run_from(near.to_str().unwrap(), &["releases"]);
        run.assert_code(2);
        assert!(
            run.stderr
                .contains(&format!("did you mean {}?", env.share.display())),
            "{}: {}",
            near.display(),
            run.stderr
        );
    }
}
