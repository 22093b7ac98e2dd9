//! The install root is writable by every user of the machine: each test here plants what another
//! account could have left there, and checks the rule of the README's trust model it names.
#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::fs;
use std::path::Path;

use crate::common::{Env, GENIE, GUI, Share, run_within};

/// The state folder of `env`'s install root.
fn state(env: &Env) -> std::path::PathBuf {
    env.root.join(".ibex-updater")
}

fn env_with(release: &str) -> Env {
    let env = Env::with_standard_share();
    env.run(&["install", "--version", release]).assert_code(0);
    env
}

#[cfg(unix)]
fn fifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

/// Rule: the journal names nothing but the updater's own folders. A planted one that names a file
/// elsewhere is set aside, and nothing is moved.
#[test]
fn a_journal_naming_folders_outside_the_updaters_own_moves_nothing() {
    let env = env_with("26.2.0");
    let victim = env.dir.path().join("victim.txt");
    let elsewhere = env.dir.path().join("moved.txt");
    fs::write(&victim, "keep me here").unwrap();
    let journal = serde_json::json!({
        "tx": "tx-1-1", "state": "swapping", "keep": 2,
        "moves": [{"component": "ibex-gui", "installed": elsewhere, "incoming": victim,
                   "aside": elsewhere, "previous": elsewhere, "had_old": false}],
    });
    fs::write(state(&env).join("journal.json"), journal.to_string()).unwrap();
    let run = env.run(&["status", "--server-version", "26.2.0.1"]);
    run.assert_code(0);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me here");
    assert!(!elsewhere.exists());
    assert!(!state(&env).join("journal.json").exists());
    assert!(run.stderr.contains("set aside"), "{}", run.stderr);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.0"));
}

/// Rule: a privileged run does not act on state another account wrote. A journal in the
/// updater's own layout, owned by another user, is set aside by root, not acted on.
#[cfg(target_os = "linux")]
#[test]
fn root_does_not_act_on_a_journal_another_account_wrote() {
    use std::os::unix::fs::MetadataExt;
    let env = env_with("26.2.0");
    if fs::metadata(&env.root).unwrap().uid() != 0 {
        crate::common::peer_missing("root, to plant a file as another account", "run as root");
        return;
    }
    let root = &env.root;
    let tx = state(&env).join("staging/tx-1-1");
    fs::create_dir_all(tx.join("ibex-gui")).unwrap();
    let journal = serde_json::json!({
        "tx": "tx-1-1", "state": "swapping", "keep": 2,
        "moves": [{"component": "ibex-gui", "installed": root.join("Client_E4"),
                   "incoming": tx.join("ibex-gui"), "aside": tx.join("ibex-gui.old"),
                   "previous": state(&env).join("previous/Client_E4"), "had_old": true}],
    });
    let path = state(&env).join("journal.json");
    fs::write(&path, journal.to_string()).unwrap();
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    let before = crate::common::snapshot(&env.gui_dir());
    let run = env.run(&["status", "--server-version", "26.2.0.1"]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("another account (uid 65534)"),
        "{}",
        run.stderr
    );
    assert!(!path.exists());
    assert_eq!(crate::common::snapshot(&env.gui_dir()), before);
}

/// Rule: state files are never followed. A lock or a history that is a link to another file is
/// refused; nothing is written through it.
#[cfg(unix)]
#[test]
fn a_lock_or_history_that_is_a_link_is_never_written_through() {
    let env = env_with("26.2.0");
    let target = env.dir.path().join("precious.txt");
    fs::write(&target, "precious").unwrap();
    let history = state(&env).join("history.jsonl");
    fs::remove_file(&history).unwrap();
    std::os::unix::fs::symlink(&target, &history).unwrap();
    env.run(&["install", "--version", "26.2.1-hotfix", "--component", GUI])
        .assert_code(0);
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
    let lock = state(&env).join("lock");
    fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    env.run(&["status", "--server-version", "26.2.0.1"])
        .assert_code(0);
    let install = env.run(&["install", "--version", "26.2.0", "--component", GUI]);
    install.assert_code(1);
    assert!(
        install.stderr.contains("not a regular file"),
        "{}",
        install.stderr
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
}

/// Rule: the updater's own folders are never followed. A state folder, or a folder in it, that is
/// a link is refused before anything is written through it.
#[cfg(unix)]
#[test]
fn a_state_folder_that_is_a_link_is_refused() {
    let env = env_with("26.2.0");
    let elsewhere = env.dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    for folder in [state(&env).join("previous"), state(&env)] {
        let real = env.dir.path().join("moved-aside");
        fs::create_dir_all(&folder).unwrap();
        fs::rename(&folder, &real).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &folder).unwrap();
        let install = env.run(&["install", "--version", "26.2.1-hotfix", "--component", GUI]);
        install.assert_code(1);
        assert!(
            install.stderr.contains("is not a real folder"),
            "{}",
            install.stderr
        );
        let written: Vec<_> = fs::read_dir(&elsewhere)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(written.is_empty(), "{folder:?}: {written:?} written there");
        assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.0"));
        fs::remove_file(&folder).unwrap();
        fs::rename(&real, &folder).unwrap();
    }
}

/// Rule: state files are never waited on. A FIFO, or a link to an endless device, at the
/// journal, the history, a client file or the policy: every command ends.
#[cfg(unix)]
#[test]
fn fifos_and_devices_where_state_should_be_never_hold_a_command() {
    let env = env_with("26.2.0");
    fifo(&state(&env).join("journal.json"));
    let history = state(&env).join("history.jsonl");
    fs::remove_file(&history).unwrap();
    fifo(&history);
    let ini = env.gui_dir().join("ibex-client.ini");
    fs::remove_file(&ini).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &ini).unwrap();
    for args in [
        &["status", "--server-version", "26.2.0.1"][..],
        &["history"],
        &["verify"],
        &["rollback"],
        &["install", "--version", "26.2.1-hotfix", "--component", GUI],
    ] {
        let run = run_within(&mut env.command(args), 60);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }
    let policy = env.dir.path().join("no-policy.toml");
    fs::remove_file(&policy).unwrap();
    fifo(&policy);
    let run = run_within(&mut env.command(&["releases"]), 60);
    run.assert_code(2);
}

/// Rule: no byte reaches an installed tree unchecked. A file of a kept tree edited in a way that
/// keeps its size and time is neither switched back to nor taken into a new tree; a forged line
/// in a tree's record takes in nothing; `install --force` repairs a tampered linked file.
#[test]
fn an_edit_that_keeps_a_files_time_or_a_forged_record_puts_nothing_unchecked_in() {
    let env = Env::new();
    let share = Share::new(&env.share);
    for (release, build) in [("26.4.0", "1"), ("26.4.1", "2")] {
        let files = vec![
            ("ibex-client.exe".to_string(), "ibex client\n".to_string()),
            ("plugins/big.jar".to_string(), "the same jar\n".repeat(500)),
            ("plugins/ui.jar".to_string(), format!("ui {release}\n")),
        ];
        share.add_kit_with(release, GUI, &format!("{release}\r\n"), build, &files);
    }
    let install = |release: &str, extra: &[&str]| {
        let mut args = vec![
            "install",
            "--json",
            "--version",
            release,
            "--component",
            GUI,
        ];
        args.extend_from_slice(extra);
        let run = env.run(&args);
        run.assert_code(0);
        run.json()["installed"][0]["files"].clone()
    };
    install("26.4.0", &[]);
    install("26.4.1", &[]);
    // The kept 26.4.0's ui.jar: same size, same time, other bytes.
    let kept = state(&env).join("previous/Client_E4/plugins/ui.jar");
    let time = fs::metadata(&kept).unwrap().modified().unwrap();
    let mut permissions = fs::metadata(&kept).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    fs::set_permissions(&kept, permissions).unwrap();
    fs::write(&kept, "ui EVIL!\n").unwrap();
    fs::File::options()
        .write(true)
        .open(&kept)
        .unwrap()
        .set_modified(time)
        .unwrap();
    let back = install("26.4.0", &[]);
    assert_eq!(
        back["switched"], false,
        "the edited tree is not switched back to"
    );
    assert_eq!(
        fs::read_to_string(env.gui_dir().join("plugins/ui.jar")).unwrap(),
        "ui 26.4.0\n"
    );
    // A forged record in the kept 26.4.1 names big.jar's checksum for an evil file.
    let kept_tree = state(&env).join("previous/Client_E4");
    fs::write(kept_tree.join("plugins/evil.jar"), "x".repeat(6500)).unwrap();
    let record = kept_tree.join(".ibex-updater-files.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&record).unwrap()).unwrap();
    let big = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "plugins/big.jar")
        .unwrap()
        .clone();
    let mut forged = big.clone();
    forged["path"] = "plugins/evil.jar".into();
    doc["files"] = serde_json::json!([forged]);
    fs::write(&record, doc.to_string()).unwrap();
    fs::remove_file(kept_tree.join("plugins/big.jar")).unwrap();
    fs::remove_file(env.gui_dir().join("plugins/big.jar")).unwrap();
    install("26.4.1", &[]);
    assert_eq!(
        fs::read_to_string(env.gui_dir().join("plugins/big.jar")).unwrap(),
        "the same jar\n".repeat(500)
    );
    // A tampered file of the installed tree is repaired by --force, into a file of its own.
    let installed_big = env.gui_dir().join("plugins/big.jar");
    let mut permissions = fs::metadata(&installed_big).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    fs::set_permissions(&installed_big, permissions).unwrap();
    fs::write(&installed_big, "y".repeat(6500)).unwrap();
    install("26.4.1", &["--force"]);
    assert_eq!(
        fs::read_to_string(&installed_big).unwrap(),
        "the same jar\n".repeat(500)
    );
}

/// Rule: a kept tree is switched in only if it holds nothing the kit does not. A plug-in added
/// to it is never switched in (the release is installed fresh instead); a byte-code cache Python
/// wrote there is removed, and the tree is still switched to.
#[test]
fn a_kept_tree_with_a_file_the_kit_does_not_hold_is_not_switched_in() {
    let env = Env::new();
    let share = Share::new(&env.share);
    for (release, build) in [("26.4.0", "1"), ("26.4.1", "2")] {
        let files = vec![
            ("python.exe".to_string(), "python\n".to_string()),
            ("Lib/site.py".to_string(), format!("site {release}\n")),
        ];
        share.add_kit_with(release, GENIE, &format!("{release}\r\n"), build, &files);
    }
    let install = |release: &str| {
        let run = env.run(&[
            "install",
            "--json",
            "--version",
            release,
            "--component",
            GENIE,
        ]);
        run.assert_code(0);
        run.json()["installed"][0]["files"]["switched"].clone()
    };
    install("26.4.0");
    install("26.4.1");
    let kept = state(&env).join("previous/Python3");
    fs::create_dir_all(kept.join("Lib/__pycache__")).unwrap();
    fs::write(kept.join("Lib/__pycache__/site.cpython-311.pyc"), "cache").unwrap();
    assert_eq!(
        install("26.4.0"),
        true,
        "a cache alone does not stop the switch"
    );
    assert!(
        !env.genie_dir()
            .join("Lib/__pycache__/site.cpython-311.pyc")
            .exists()
    );
    let kept = state(&env).join("previous/Python3");
    fs::write(kept.join("Lib/evil.pth"), "import evil").unwrap();
    assert_eq!(install("26.4.1"), false, "a planted file stops the switch");
    assert!(!env.genie_dir().join("Lib/evil.pth").exists());
}

/// Rule: nothing is deleted through a link. A trash folder that is a link to another folder is
/// left alone, and what it points to is untouched.
#[cfg(unix)]
#[test]
fn a_trash_folder_that_is_a_link_is_never_emptied() {
    let env = env_with("26.2.0");
    let victim = env.dir.path().join("victim");
    fs::create_dir_all(victim.join("precious")).unwrap();
    fs::write(victim.join("precious/file"), "precious").unwrap();
    let trash = state(&env).join("trash");
    let _ = fs::remove_dir_all(&trash);
    std::os::unix::fs::symlink(&victim, &trash).unwrap();
    let root = env.root.to_string_lossy().into_owned();
    env.run(&["empty-trash", &root]).assert_code(0);
    assert_eq!(
        fs::read_to_string(victim.join("precious/file")).unwrap(),
        "precious"
    );
}

/// Rule: rollback puts back a tree only as it was installed. An edit in place of a file the
/// rollback tree shares with the installed one (through its hard link) is refused.
#[cfg(unix)]
#[test]
fn rollback_refuses_a_tree_changed_through_a_shared_file() {
    let env = Env::new();
    let share = Share::new(&env.share);
    for (release, build) in [("26.4.0", "1"), ("26.4.1", "2")] {
        let files = vec![
            ("ibex-client.exe".to_string(), "ibex client\n".to_string()),
            ("plugins/big.jar".to_string(), "the same jar\n".repeat(500)),
            ("plugins/ui.jar".to_string(), format!("ui {release}\n")),
        ];
        share.add_kit_with(release, GUI, &format!("{release}\r\n"), build, &files);
    }
    for release in ["26.4.0", "26.4.1"] {
        env.run(&["install", "--version", release, "--component", GUI])
            .assert_code(0);
    }
    let big = env.gui_dir().join("plugins/big.jar");
    let mut permissions = fs::metadata(&big).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    fs::set_permissions(&big, permissions).unwrap();
    // In place: the same file as the rollback tree's, through the link.
    fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"EVIL"))
        .unwrap();
    let run = env.run(&["rollback", "--component", GUI]);
    run.assert_code(3);
    assert!(run.stderr.contains("plugins/big.jar"), "{}", run.stderr);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.4.1"));
}

/// Rule: rollback and switch refuse a kept tree that is, or holds, a link.
#[cfg(unix)]
#[test]
fn rollback_refuses_a_tree_that_is_a_link() {
    let env = env_with("26.2.0");
    env.run(&["install", "--version", "26.2.1-hotfix", "--component", GUI])
        .assert_code(0);
    let previous = state(&env).join("previous/Client_E4");
    let elsewhere = env.dir.path().join("elsewhere");
    fs::rename(&previous, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &previous).unwrap();
    let run = env.run(&["rollback", "--component", GUI]);
    run.assert_code(3);
    assert!(run.stderr.contains("is a link"), "{}", run.stderr);
    assert!(!fs::symlink_metadata(env.gui_dir()).unwrap().is_symlink());
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.1"));
}

/// Rule: a failed switch leaves the kept tree's state as it was. Switching back to a kept GUI
/// while the genie_python install beside it fails (its archive damaged) puts the kept tree's own
/// GUI state back.
#[test]
fn a_switch_that_fails_later_leaves_the_kept_trees_state_as_it_was() {
    let env = env_with("26.2.0");
    let prefs = "configuration/.settings/uk.ac.stfc.isis.ibex.instrument.prefs";
    let write_prefs = |text: &str| {
        let path = env.gui_dir().join(prefs);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    write_prefs("old state\n");
    env.run(&["install", "--version", "26.2.1-hotfix"])
        .assert_code(0);
    write_prefs("new state\n");
    let kept = state(&env).join("previous/Client_E4");
    assert_eq!(fs::read_to_string(kept.join(prefs)).unwrap(), "old state\n");
    // genie_python 26.2.0's kept tree is not whole, and its archive is damaged.
    fs::remove_file(state(&env).join("previous/Python3/python.exe")).unwrap();
    let archive = Share::new(&env.share).archive("26.2.0", GENIE);
    let bytes = fs::read(&archive).unwrap();
    fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    let run = env.run(&["install", "--version", "26.2.0"]);
    assert_ne!(run.code, 0);
    assert_eq!(fs::read_to_string(kept.join(prefs)).unwrap(), "old state\n");
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.1"));
    assert_eq!(
        fs::read_to_string(env.gui_dir().join(prefs)).unwrap(),
        "new state\n"
    );
}

/// Rule: an unreadable history makes a whole-client rollback ask which component, rather than
/// guess a pair that was never installed together.
#[test]
fn an_unreadable_history_makes_rollback_ask_which_component() {
    let env = env_with("26.2.0");
    env.run(&["install", "--version", "26.2.1-hotfix", "--component", GUI])
        .assert_code(0);
    let history = state(&env).join("history.jsonl");
    fs::remove_file(&history).unwrap();
    fs::create_dir(&history).unwrap();
    let run = env.run(&["rollback"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("--component ibex-gui"),
        "{}",
        run.stderr
    );
    assert_eq!(env.installed_version(GENIE).as_deref(), Some("26.2.0"));
    env.run(&["rollback", "--component", GUI]).assert_code(0);
}

/// Rule: every number read from a state file is range-checked. The last logon check's time at
/// the largest number does not panic the logon check.
#[test]
fn a_huge_number_in_the_last_logon_check_does_not_panic() {
    let env = Env::with_standard_share();
    fs::write(
        env.dir.path().join("no-policy.toml"),
        "allow_unsigned = true\nauto_check = true\ncheck_interval_hours = 24\n",
    )
    .unwrap();
    let data = env.dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("last-logon-check.txt"), "18446744073709551615").unwrap();
    let run = env.run(&[
        "--silent",
        "check",
        "--prompt",
        "--logon",
        "--server-version",
        "26.2.0.1",
    ]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_ne!(run.code, 101);
}

/// Rule: the memory of serials is changed under a lock. Runs against two sources at once each
/// leave what they saw.
#[test]
fn concurrent_runs_lose_no_serial() {
    let env = Env::with_standard_share();
    let (key, _) = env.trusted_key("release", "");
    env.publish(&key, &["--source-id", "one"]).assert_code(0);
    let other = env.dir.path().join("Other");
    Share::standard(&other);
    let out = other.to_str().unwrap();
    env.run(&[
        "publish",
        "--share",
        out,
        "--key",
        key.to_str().unwrap(),
        "--source-id",
        "two",
    ])
    .assert_code(0);
    let share = env.share.to_str().unwrap().to_string();
    let children: Vec<_> = (0..8)
        .map(|n| {
            let source = if n % 2 == 0 { &share } else { out };
            env.command_from(source, &["releases"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let store = fs::read_to_string(env.dir.path().join("data/index-serials.toml")).unwrap();
    for wanted in ["one = 1", "two = 1"] {
        assert!(store.contains(wanted), "{wanted}: {store}");
    }
}
