//! A share laid out like the real ISIS one, with no signed `index.json`, on a machine whose
//! policy does not allow unsigned shares: everything but installing works and says "unverified";
//! installing is refused with both ways out.

use std::fs;

use crate::common::Env;

/// The share as it is, and a policy that says nothing about unsigned shares.
fn unsigned_env() -> Env {
    let env = Env::with_standard_share();
    fs::write(env.dir.path().join("no-policy.toml"), "").expect("the policy file is written");
    env
}

#[test]
fn status_check_and_releases_read_an_unsigned_share_and_say_it_is_unverified() {
    let env = unsigned_env();
    let run = env.run(&["status", "--server-version", "26.2.0.1234"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("unverified: no signed index.json; installing is refused"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("26.2.1"), "{}", run.stdout);

    let run = env.run(&["status", "--json", "--server-version", "26.2.0.1234"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(
        doc["verification"],
        serde_json::json!({"signed": false, "serial": null, "installs_allowed": false})
    );
    assert_eq!(doc["components"][0]["target"], "26.2.1");

    // Nothing installed: the verdict still decides the exit code, not the missing index.
    env.run(&["check", "--server-version", "26.2.0.1234"])
        .assert_code(12);

    let run = env.run(&["releases", "--json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["verification"]["installs_allowed"], false);
    assert!(!doc["releases"].as_array().unwrap().is_empty());
}

#[test]
fn installing_from_an_unsigned_share_is_refused_with_both_ways_out() {
    let env = unsigned_env();
    let before = env.snapshot();
    let run = env.run(&["install", "--server-version", "26.2.0.1234"]);
    run.assert_code(3);
    let policy = env.dir.path().join("no-policy.toml");
    for wanted in [
        "has no signed index.json",
        "can be compared but not installed",
        "ibex-updater publish",
        "packaging/RELEASING.md",
        "allow_unsigned = true",
        &policy.display().to_string(),
        "IBEX_UPDATER_POLICY",
        "ALLOW_UNSIGNED=1",
    ] {
        assert!(run.stderr.contains(wanted), "{wanted}: {}", run.stderr);
    }
    assert!(
        !run.stderr.contains("failed its checks"),
        "nothing was being checked: {}",
        run.stderr
    );
    assert_eq!(env.snapshot(), before, "the install root changed");

    let run = env.run(&["install", "--json", "--version", "26.2.0"]);
    run.assert_code(3);
    assert_eq!(run.json()["error"]["code"], 3);
    assert_eq!(env.snapshot(), before, "the install root changed");
}

/// Allowed by the policy, the same share installs, and still says it is unverified.
#[test]
fn a_policy_that_allows_unsigned_shares_lets_the_install_go_ahead() {
    let env = unsigned_env();
    fs::write(
        env.dir.path().join("no-policy.toml"),
        crate::common::ALLOW_UNSIGNED,
    )
    .unwrap();
    env.run(&["install", "--server-version", "26.2.0.1234"])
        .assert_code(0);
    let run = env.run(&["status", "--server-version", "26.2.0.1234"]);
    assert!(
        run.stdout
            .contains("unverified: no signed index.json; the machine policy allows installing"),
        "{}",
        run.stdout
    );
    // With the client matching, a refusing policy has nothing to refuse.
    fs::write(env.dir.path().join("no-policy.toml"), "").unwrap();
    env.run(&["install", "--server-version", "26.2.0.1234"])
        .assert_code(0);
}

/// A share path that does not exist says why once, the operating system's reason, and nothing
/// about signing.
#[test]
fn a_missing_share_gives_the_reason_once() {
    let env = unsigned_env();
    let missing = env.dir.path().join("nowhere");
    let run = env.run_from(missing.to_str().unwrap(), &["install"]);
    run.assert_code(4);
    let os_reason = fs::read_dir(&missing).unwrap_err().to_string();
    assert_eq!(
        run.stderr.matches(&os_reason).count(),
        1,
        "{os_reason}: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("sign"), "{}", run.stderr);
}
