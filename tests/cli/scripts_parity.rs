//! What the real install scripts do besides copying, and the quirks of real shares: genie_python's
//! per-user IPython step, genie's library version, linked releases, nightly version files and the
//! EPICS_UTILS mirror.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{ALLOW_UNSIGNED, Env, GENIE, GUI, Share, kit_files};

const KIT_CONFIG: &str =
    "c.InteractiveShellApp.exec_lines = ['from genie_python import genie as g']\r\n";

/// A share with 26.2.0 (both kits), whose genie_python kit carries `ipython_config.py`.
fn env_with_ipython_config() -> Env {
    let env = Env::new();
    let share = Share::new(&env.share);
    share.add_kit("26.2.0", GUI, "1234");
    let kit = share.add_kit("26.2.0", GENIE, "1234");
    fs::write(kit.join("ipython_config.py"), KIT_CONFIG).unwrap();
    env
}

fn profile_config(home: &Path) -> PathBuf {
    home.join(".ipython/profile_default/ipython_config.py")
}

fn install_genie(env: &Env, home: &Path) -> serde_json::Value {
    let run = env
        .command(&[
            "install",
            "--json",
            "--version",
            "26.2.0",
            "--component",
            "genie-python",
        ])
        .env("HOME", home)
        .env("USERPROFILE", home)
        .output()
        .unwrap();
    let run = crate::common::Run::from(run);
    run.assert_code(0);
    run.json()
}

#[test]
fn installing_genie_python_sets_up_the_users_ipython_profile_keeping_theirs_as_old() {
    let env = env_with_ipython_config();
    let home = env.home();
    fs::create_dir_all(profile_config(&home).parent().unwrap()).unwrap();
    fs::write(profile_config(&home), "# my own settings\n").unwrap();

    let report = install_genie(&env, &home);
    assert_eq!(report["ipython_profile"]["status"], "replaced", "{report}");
    assert_eq!(
        fs::read_to_string(profile_config(&home)).unwrap(),
        KIT_CONFIG
    );
    let old = profile_config(&home).with_file_name("ipython_config.py.old");
    assert_eq!(fs::read_to_string(old).unwrap(), "# my own settings\n");
    // The kit's config is installed with genie_python, so that the step can be done later too.
    assert_eq!(
        fs::read_to_string(env.genie_dir().join("ipython_config.py")).unwrap(),
        KIT_CONFIG
    );
}

#[test]
fn a_profile_that_already_has_the_kits_config_is_left_alone() {
    let env = env_with_ipython_config();
    let home = env.home();
    fs::create_dir_all(profile_config(&home).parent().unwrap()).unwrap();
    fs::write(profile_config(&home), KIT_CONFIG).unwrap();
    let report = install_genie(&env, &home);
    assert_eq!(report["ipython_profile"]["status"], "already-current");
    assert!(
        !profile_config(&home)
            .with_file_name("ipython_config.py.old")
            .exists()
    );
}

/// IT installs under its own account: the scientist's step is pending until their next logon
/// check, which does it. A system account's profile is never written.
#[test]
fn an_install_by_another_account_leaves_the_step_pending_until_the_users_logon() {
    let env = env_with_ipython_config();
    let admin = env.dir.path().join("admin-home");
    install_genie(&env, &admin);
    assert!(
        profile_config(&admin).is_file(),
        "the installing account's own profile"
    );

    let user = env.home();
    let status = env.run(&["status", "--json", "--server-version", "26.2.0"]);
    status.assert_code(0);
    assert_eq!(status.json()["ipython_profile_pending"], true);
    let text = env.run(&["status", "--server-version", "26.2.0"]);
    assert!(
        text.stdout
            .contains("IPython profile is not set up for you yet"),
        "{}",
        text.stdout
    );
    assert!(!profile_config(&user).exists());

    // The logon check catches up even where the policy leaves the check itself off.
    env.run(&["check", "--prompt", "--logon"]).assert_code(0);
    assert_eq!(
        fs::read_to_string(profile_config(&user)).unwrap(),
        KIT_CONFIG
    );
    let status = env.run(&["status", "--json", "--server-version", "26.2.0"]);
    assert_eq!(status.json()["ipython_profile_pending"], false);
}

/// The system account (which runs installs pushed by IT) has a profile of its own that no one
/// uses genie_python from.
#[test]
fn a_system_account_never_gets_the_profile_written() {
    let env = env_with_ipython_config();
    let system = if cfg!(windows) {
        r"C:\Windows\system32\config\systemprofile"
    } else {
        "/root"
    };
    let report = install_genie(&env, Path::new(system));
    assert_eq!(report["ipython_profile"]["status"], "pending", "{report}");
    assert!(
        report["ipython_profile"]["reason"]
            .as_str()
            .unwrap()
            .contains("system account")
    );
}

/// With a signed index, the config beside the archive is checked like the archive: a changed
/// one is refused and nothing is installed.
#[test]
fn a_kit_file_changed_after_publishing_is_refused() {
    let env = env_with_ipython_config();
    let (key, _) = env.trusted_key("release", "");
    env.publish(&key, &[]).assert_code(0);
    let config = env.share.join("26.2.0/genie_python_3/ipython_config.py");
    fs::write(&config, KIT_CONFIG.replace("genie", "evil")).unwrap();
    let run = env.run(&[
        "install",
        "--version",
        "26.2.0",
        "--component",
        "genie-python",
    ]);
    run.assert_code(3);
    assert!(run.stderr.contains("ipython_config.py"), "{}", run.stderr);
    assert!(!env.genie_dir().exists());
}

#[test]
fn genie_pythons_library_version_is_shown_beside_the_kits_when_they_differ() {
    let env = Env::new();
    let share = Share::new(&env.share);
    let mut files = kit_files(GENIE, "26.2.0");
    files.push((
        "Lib/site-packages/genie_python-26.2.5.dist-info/METADATA".into(),
        "Metadata-Version: 2.1\r\nName: genie_python\r\nVersion: 26.2.5\r\n".into(),
    ));
    share.add_kit_with("26.2.0", GENIE, "26.2.0    \r\n", "1234", &files);
    env.run(&[
        "install",
        "--version",
        "26.2.0",
        "--component",
        "genie-python",
    ])
    .assert_code(0);
    let status = env.run(&["status", "--json", "--server-version", "26.2.0"]);
    let genie = &status.json()["components"][1];
    assert_eq!(genie["installed"], "26.2.0.1234");
    assert_eq!(genie["library"], "26.2.5");
    let text = env.run(&["status", "--server-version", "26.2.0"]);
    assert!(
        text.stdout.contains("26.2.0.1234 (library 26.2.5)"),
        "{}",
        text.stdout
    );
}

/// A nightly kit whose VERSION.txt is `ECHO is on.` is listed as not installable; the rest of the
/// share still works.
#[test]
fn a_nightly_kit_without_a_version_does_not_block_the_share() {
    let env = Env::new();
    let share = Share::new(&env.share);
    share.add_kit("26.2.0", GUI, "1234");
    share.add_kit_with(
        "26.8.0",
        GUI,
        "ECHO is on.\r\n",
        "1500",
        &kit_files(GUI, "26.8.0"),
    );
    let run = env.run(&["releases", "--json"]);
    run.assert_code(0);
    let releases = run.json()["releases"].clone();
    assert_eq!(releases[1]["name"], "26.8.0");
    assert_eq!(releases[1]["kits"][0]["complete"], false);
    env.run(&["install", "--component", "ibex-gui"])
        .assert_code(0);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.0"));
}

/// A GUI-only release reaches the previous release's genie_python through a link in the share:
/// that kit is the older release's, says where it really is, and installs, signed or not.
// Windows: making a symlink needs a privilege and std cannot make a junction.
#[cfg(unix)]
#[test]
fn a_linked_kit_is_the_older_release_and_says_where_it_comes_from() {
    let env = Env::new();
    let share = Share::new(&env.share);
    share.add_kit("26.2.0", GUI, "1234");
    share.add_kit("26.2.0", GENIE, "1234");
    share.add_kit("26.2.1", GUI, "1302");
    std::os::unix::fs::symlink(
        env.share.join("26.2.0/genie_python_3"),
        env.share.join("26.2.1/genie_python_3"),
    )
    .unwrap();

    let run = env.run(&["releases", "--json"]);
    run.assert_code(0);
    let partial = &run.json()["releases"][1];
    assert_eq!(partial["name"], "26.2.1");
    let genie = &partial["kits"][1];
    assert_eq!(genie["component"], "genie-python");
    assert_eq!(genie["complete"], true, "{partial}");
    assert_eq!(genie["version"], "26.2.0.1234");
    let real = fs::canonicalize(env.share.join("26.2.0/genie_python_3")).unwrap();
    assert_eq!(genie["linked_from"], real.display().to_string());
    let text = env.run(&["releases"]);
    assert!(
        text.stdout.contains("26.2.0.1234 (linked)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains(&real.display().to_string()));

    let (key, _) = env.trusted_key("release", "");
    env.publish(&key, &[]).assert_code(0);
    env.run(&["install", "--version", "26.2.1"]).assert_code(0);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.1"));
    assert_eq!(env.installed_version(GENIE).as_deref(), Some("26.2.0"));
}

fn policy_with_epics_utils(env: &Env, source: &Path) {
    fs::write(
        env.dir.path().join("no-policy.toml"),
        format!(
            "{ALLOW_UNSIGNED}epics_utils_source = '{}'\n",
            source.display()
        ),
    )
    .unwrap();
}

fn install_json(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["install", "--json"];
    all.extend_from_slice(args);
    let run = env.run(&all);
    run.assert_code(0);
    run.json()
}

#[test]
fn epics_utils_is_mirrored_updated_and_never_fails_the_client_install() {
    let env = Env::with_standard_share();
    let tools = env.dir.path().join("EPICS_UTILS_site");
    fs::create_dir_all(tools.join("lib")).unwrap();
    fs::write(tools.join("caget.exe"), "caget 7.0\n").unwrap();
    fs::write(tools.join("lib/ca.dll"), "ca 7.0\n").unwrap();
    policy_with_epics_utils(&env, &tools);
    let mirrored = env.root.join("EPICS_UTILS");

    let first = install_json(&env, &["--version", "26.2.0", "--component", "ibex-gui"]);
    assert_eq!(first["epics_utils"]["status"], "mirrored", "{first}");
    assert_eq!(first["epics_utils"]["files"], 2);
    assert_eq!(
        fs::read_to_string(mirrored.join("lib/ca.dll")).unwrap(),
        "ca 7.0\n"
    );

    fs::write(tools.join("caget.exe"), "caget 7.1\n").unwrap();
    let updated = install_json(&env, &["--version", "26.2.0", "--component", "ibex-gui"]);
    assert_eq!(
        updated["installed"],
        serde_json::json!([]),
        "the client was current"
    );
    assert_eq!(updated["epics_utils"]["changed"], 1, "{updated}");
    assert_eq!(
        fs::read_to_string(mirrored.join("caget.exe")).unwrap(),
        "caget 7.1\n"
    );
    let kept = env
        .root
        .join(".ibex-updater/previous/EPICS_UTILS/caget.exe");
    assert_eq!(fs::read_to_string(kept).unwrap(), "caget 7.0\n");

    let again = install_json(&env, &["--version", "26.2.0", "--component", "ibex-gui"]);
    assert_eq!(again["epics_utils"]["status"], "unchanged");

    fs::rename(&tools, env.dir.path().join("gone")).unwrap();
    let unreachable = install_json(
        &env,
        &["--version", "26.2.0", "--component", "genie-python"],
    );
    assert_eq!(unreachable["installed"][0]["component"], "genie-python");
    assert_eq!(
        unreachable["epics_utils"]["status"], "not-updated",
        "{unreachable}"
    );
    assert_eq!(env.installed_version(GENIE).as_deref(), Some("26.2.0"));
    assert_eq!(
        fs::read_to_string(mirrored.join("caget.exe")).unwrap(),
        "caget 7.1\n"
    );
    let text = env.run(&["install", "--version", "26.2.0"]);
    text.assert_code(0);
    assert!(
        text.stdout
            .contains("warning: EPICS_UTILS was not updated (the client was)"),
        "{}",
        text.stdout
    );
}
