//! Installing and rolling back against realistic shares: what is installed, what is refused, and
//! that a refusal or failure leaves the installed client exactly as it was.

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{Env, GENIE, GUI, Run, Share};

const HISTORY: &str =
    "workspace/.metadata/.plugins/org.python.pydev.shared_interactive_console/history.py";

fn assert_clean_staging(env: &Env) {
    let staging = env.root.join(".ibex-updater/staging");
    let leftovers: Vec<_> = fs::read_dir(&staging)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "staging not cleaned: {leftovers:?}");
    assert!(
        !env.root.join(".ibex-updater/journal.json").exists(),
        "journal left behind"
    );
}

#[test]
fn installs_both_components_for_a_server_version() {
    let env = Env::with_standard_share();
    let run = env.run(&["install", "--json", "--server-version", "26.2.0.1234"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["installed"][0]["component"], "ibex-gui");
    assert_eq!(doc["installed"][0]["to"], "26.2.1.1302");
    assert_eq!(doc["installed"][0]["release"], "26.2.1");
    assert_eq!(doc["installed"][1]["to"], "26.2.2.1400");
    // A share without a signed index: each file is checked by the CRC32 the archive records,
    // and no archive SHA-256 is claimed (the archive is read in place, only in part).
    assert_eq!(doc["installed"][0]["sha256"], serde_json::Value::Null);
    assert_eq!(doc["installed"][0]["files"]["check"], "crc32");
    // VERSION.txt and BUILD_NUMBER.txt are written into the installed folders.
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.1"));
    assert_eq!(
        fs::read_to_string(env.gui_dir().join("BUILD_NUMBER.txt"))
            .unwrap()
            .trim(),
        "1302"
    );
    assert_eq!(env.installed_version(GENIE).as_deref(), Some("26.2.2"));
    // The unpacked tree is the kit's.
    assert!(
        env.gui_dir()
            .join("plugins/uk.ac.stfc.isis.ibex.ui_26.2.1.jar")
            .is_file()
    );
    assert!(
        env.genie_dir()
            .join("Lib/site-packages/genie_python/version.py")
            .is_file()
    );
    assert_clean_staging(&env);
    // A second run finds nothing to do.
    let again = env.run(&["install", "--server-version", "26.2.0.1234"]);
    again.assert_code(0);
    assert!(
        again.stdout.contains("already installed"),
        "{}",
        again.stdout
    );
}

#[test]
fn keeps_console_history_and_adds_the_rmi_hostname() {
    let env = Env::with_standard_share();
    env.run(&["install", "--version", "26.2.0", "--component", "ibex-gui"])
        .assert_code(0);
    let history = env.gui_dir().join(HISTORY);
    fs::create_dir_all(history.parent().unwrap()).unwrap();
    fs::write(&history, "g.begin()\n").unwrap();
    env.run(&["install", "--version", "26.2.1", "--component", "ibex-gui"])
        .assert_code(0);
    assert_eq!(fs::read_to_string(&history).unwrap(), "g.begin()\n");
    let ini = fs::read_to_string(env.gui_dir().join("ibex-client.ini")).unwrap();
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    assert!(
        ini.ends_with(&format!(
            "-Xmx2048m\r\n-Djava.rmi.server.hostname={host}\r\n"
        )),
        "{ini:?}"
    );
    assert_eq!(ini.matches("java.rmi.server.hostname").count(), 1);
}

#[test]
fn hotfix_only_by_name_and_partial_release_takes_the_previous_kit() {
    let env = Env::with_standard_share();
    let run = env.run(&["install", "--json", "--version", "26.2.1-hotfix"]);
    run.assert_code(0);
    assert_eq!(run.json()["installed"][0]["release"], "26.2.1-hotfix");

    let env = Env::with_standard_share();
    let run = env.run(&["install", "--json", "--version", "26.2.1"]);
    run.assert_code(0);
    assert_eq!(run.json()["installed"][0]["release"], "26.2.1");
    assert_eq!(
        run.json()["installed"][1]["release"],
        "26.2.0",
        "26.2.1 has no genie_python kit"
    );
}

#[test]
fn rollback_restores_the_previous_version_and_can_be_undone() {
    let env = Env::with_standard_share();
    env.run(&["install", "--version", "26.2.0"]).assert_code(0);
    let before = crate::common::snapshot(&env.gui_dir());
    env.run(&["install", "--version", "26.2.1-hotfix"])
        .assert_code(0);
    let after = crate::common::snapshot(&env.gui_dir());

    let run = env.run(&["rollback", "--json"]);
    run.assert_code(0);
    assert_eq!(run.json()["rolled_back"][0]["to"], "26.2.0.1234");
    assert_eq!(crate::common::snapshot(&env.gui_dir()), before);
    assert_eq!(env.installed_version(GENIE).as_deref(), Some("26.2.0"));

    env.run(&["rollback", "--component", "ibex-gui"])
        .assert_code(0);
    assert_eq!(crate::common::snapshot(&env.gui_dir()), after);
    assert_clean_staging(&env);
}

#[test]
fn rollback_without_a_previous_version_is_a_clear_failure() {
    let env = Env::with_standard_share();
    env.run(&["install", "--version", "26.2.0"]).assert_code(0);
    let run = env.run(&["rollback", "--component", "genie-python"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("no previous genie_python"),
        "{}",
        run.stderr
    );
}

/// Runs an install that must be refused with exit code 3 and checks nothing changed.
fn assert_refused_untouched(env: &Env, args: &[&str], message: &str) {
    let before = env.snapshot();
    let run = env.run(args);
    run.assert_code(3);
    assert!(
        run.stderr.contains(message),
        "expected {message:?} in: {}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert_eq!(env.snapshot(), before, "the install root changed");
    assert_clean_staging(env);
}

fn env_with_26_2_0_installed() -> Env {
    let env = Env::with_standard_share();
    env.run(&["install", "--version", "26.2.0"]).assert_code(0);
    env
}

#[test]
fn refuses_a_kit_without_copy_complete() {
    let env = env_with_26_2_0_installed();
    assert_refused_untouched(
        &env,
        &["install", "--version", "26.2.2"],
        "COPY_COMPLETE.txt is missing",
    );
}

#[test]
fn refuses_a_corrupt_archive() {
    let env = env_with_26_2_0_installed();
    let share = Share::new(&env.share);
    share.add_kit("26.2.3", GUI, "1");
    let archive = share.archive("26.2.3", GUI);
    let mut bytes = fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&archive, bytes).unwrap();
    assert_refused_untouched(
        &env,
        &["install", "--version", "26.2.3", "--component", "ibex-gui"],
        "not a valid 7-Zip archive",
    );
}

#[test]
fn refuses_a_truncated_archive() {
    let env = env_with_26_2_0_installed();
    let share = Share::new(&env.share);
    share.add_kit("26.2.3", GUI, "1");
    let archive = share.archive("26.2.3", GUI);
    let bytes = fs::read(&archive).unwrap();
    fs::write(&archive, &bytes[..bytes.len() * 2 / 3]).unwrap();
    assert_refused_untouched(
        &env,
        &["install", "--version", "26.2.3", "--component", "ibex-gui"],
        "not a valid 7-Zip archive",
    );
}

#[test]
fn refuses_a_missing_archive_and_a_file_that_is_not_7z() {
    let env = env_with_26_2_0_installed();
    let share = Share::new(&env.share);
    share.add_kit("26.2.3", GUI, "1");
    fs::remove_file(share.archive("26.2.3", GUI)).unwrap();
    assert_refused_untouched(
        &env,
        &["install", "--version", "26.2.3", "--component", "ibex-gui"],
        "the archive is missing",
    );
    share.add_kit("26.2.4", GUI, "1");
    fs::write(
        share.archive("26.2.4", GUI),
        "PK\x03\x04 this is a zip, not a 7z",
    )
    .unwrap();
    assert_refused_untouched(
        &env,
        &["install", "--version", "26.2.4", "--component", "ibex-gui"],
        "7-Zip signature",
    );
}

#[test]
fn refuses_a_kit_whose_version_disagrees_with_its_folder() {
    let env = env_with_26_2_0_installed();
    let share = Share::new(&env.share);
    share.add_kit_with(
        "26.2.3",
        GUI,
        "26.2.0\r\n",
        "1",
        &crate::common::kit_files(GUI, "26.2.3"),
    );
    assert_refused_untouched(
        &env,
        &["install", "--version", "26.2.3", "--component", "ibex-gui"],
        "VERSION.txt says 26.2.0",
    );
    // The archive itself carries a VERSION.txt naming another release.
    let mut files = crate::common::kit_files(GUI, "26.2.4");
    files.push(("VERSION.txt".into(), "25.8.0\r\n".into()));
    share.add_kit_with("26.2.4", GUI, "26.2.4\r\n", "1", &files);
    assert_refused_untouched(
        &env,
        &["install", "--version", "26.2.4", "--component", "ibex-gui"],
        "says 25.8.0",
    );
}

/// Paths longer than Windows' old 260-character limit (the GUI's plug-ins nest deep) are staged,
/// extracted, swapped, verified, rolled back and deleted like any other.
#[test]
fn paths_longer_than_260_characters_install_verify_roll_back_and_delete() {
    let env = env_with_26_2_0_installed();
    let share = Share::new(&env.share);
    let deep: String = (0..8)
        .map(|n| format!("plugins-folder-with-a-long-name-{n:02}/"))
        .collect();
    let mut files = crate::common::kit_files(GUI, "26.2.4");
    files.push((format!("{deep}plugin.xml"), "<plugin/>".into()));
    share.add_kit_with("26.2.4", GUI, "26.2.4\r\n", "1", &files);
    // A signed index, so that `verify` has manifests to check against.
    let (key, _) = env.trusted_key("release", "");
    env.publish(&key, &[]).assert_code(0);
    let install = ["install", "--version", "26.2.4", "--component", "ibex-gui"];

    env.run(&install).assert_code(0);
    let installed = env.gui_dir().join(&deep).join("plugin.xml");
    assert!(installed.as_os_str().len() > 260, "{}", installed.display());
    assert_eq!(fs::read_to_string(&installed).unwrap(), "<plugin/>");
    env.run(&["verify", "--component", "ibex-gui"])
        .assert_code(0);

    env.run(&["rollback", "--component", "ibex-gui"])
        .assert_code(0);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.0"));
    assert!(!installed.exists());

    // Installed again, then replaced twice: the tree kept for rollback is deleted, and nothing of
    // the long paths is left behind.
    env.run(&install).assert_code(0);
    assert!(installed.exists());
    for release in ["26.2.1-hotfix", "26.2.0"] {
        env.run(&["install", "--version", release, "--component", "ibex-gui"])
            .assert_code(0);
    }
    crate::common::wait_for_empty_trash(&env.root);
    let leftovers: Vec<_> = crate::common::snapshot(&env.root)
        .into_keys()
        .filter(|p| p.contains("plugins-folder-with-a-long-name"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
}

/// An install is over when its swap is: the version that rollback no longer keeps is moved to
/// the trash and deleted by a process of its own, which outlives the install.
#[test]
fn the_superseded_version_is_deleted_in_the_background() {
    let env = Env::with_standard_share();
    let install = |release: &str| {
        env.run(&[
            "--silent",
            "install",
            "--version",
            release,
            "--component",
            "ibex-gui",
        ])
    };
    install("26.2.0").assert_code(0);
    let second = install("26.2.1");
    second.assert_code(0);
    // Nothing superseded yet: 26.2.0 is kept for rollback, and no emptier is started.
    assert!(
        !second.stderr.contains("emptying the trash"),
        "{}",
        second.stderr
    );
    // A third release (not 26.2.0 again, which is kept and would be switched back to).
    let third = install("26.2.1-hotfix");
    third.assert_code(0);
    assert!(
        third.stderr.contains("emptying the trash in process"),
        "{}",
        third.stderr
    );
    crate::common::wait_for_empty_trash(&env.root);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.1"));
    // The previous version is still there for rollback, and rollback puts it back.
    env.run(&["rollback", "--component", "ibex-gui"])
        .assert_code(0);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.1"));
    assert_eq!(
        fs::read_to_string(env.gui_dir().join("BUILD_NUMBER.txt"))
            .unwrap()
            .trim(),
        "1302"
    );
    crate::common::wait_for_empty_trash(&env.root);
}

#[test]
fn refuses_archive_entries_that_escape_the_install_folder() {
    let env = env_with_26_2_0_installed();
    let share = Share::new(&env.share);
    // A crafted archive with a '..' entry, as 7-Zip itself will not write one.
    let kit = share.add_kit("26.2.3", GUI, "1");
    let archive = share.archive("26.2.3", GUI);
    let mut writer = sevenz_rust2::ArchiveWriter::create(&archive).unwrap();
    for name in ["ibex-client.exe", "../../escaped.txt"] {
        writer
            .push_archive_entry(sevenz_rust2::ArchiveEntry::new_file(name), Some(&b"x"[..]))
            .unwrap();
    }
    writer.finish().unwrap();
    assert!(kit.is_dir());
    assert_refused_untouched(
        &env,
        &["install", "--version", "26.2.3", "--component", "ibex-gui"],
        "'..' climbs out",
    );
    assert!(!env.dir.path().join("escaped.txt").exists());
}

// 7-Zip stores a link only from a Unix tree; the entry checks' unit tests cover links everywhere.
#[cfg(unix)]
#[test]
fn refuses_links_that_point_outside_the_install_folder() {
    let env = env_with_26_2_0_installed();
    let share = Share::new(&env.share);
    let tree = env.dir.path().join("linktree");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("ibex-client.exe"), "x").unwrap();
    std::os::unix::fs::symlink("../../../../etc/passwd", tree.join("evil-link")).unwrap();
    let archive = share.archive("26.2.3", GUI);
    let out = std::process::Command::new(crate::common::seven_zip().unwrap())
        .args(["a", "-bd", "-snl", "-mx1"])
        .arg(&archive)
        .arg(".")
        .current_dir(&tree)
        .output()
        .unwrap();
    assert!(out.status.success());
    let kit = env.share.join("26.2.3/Client");
    fs::create_dir_all(kit.join("Client")).unwrap();
    fs::write(kit.join("Client/VERSION.txt"), "26.2.3\r\n").unwrap();
    fs::write(kit.join("COPY_COMPLETE.txt"), "").unwrap();
    assert_refused_untouched(
        &env,
        &["install", "--version", "26.2.3", "--component", "ibex-gui"],
        "kits hold no links",
    );
}

/// An archive entry and what it holds.
type Entry = (sevenz_rust2::ArchiveEntry, Vec<u8>);

/// An archive entry that is a Unix symlink to `target`, as 7-Zip stores one.
fn link(name: &str, target: &str) -> Entry {
    let mut entry = sevenz_rust2::ArchiveEntry::new_file(name);
    entry.has_windows_attributes = true;
    entry.windows_attributes = 0x8000 | (0o120_777 << 16);
    (entry, target.as_bytes().to_vec())
}

fn file(name: &str) -> Entry {
    (
        sevenz_rust2::ArchiveEntry::new_file(name),
        b"written".to_vec(),
    )
}

/// Links that each look harmless by their names, combined so that a later entry would be
/// written through them: chains, links to links, and links made after the files they point
/// through. Each archive is refused before anything is written, anywhere.
#[test]
fn refuses_every_link_so_no_entry_is_written_through_one() {
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        (
            "a chain",
            vec![
                file("ibex-client.exe"),
                link("a", "b/.."),
                link("b", "."),
                file("a/escaped-chain.txt"),
            ],
        ),
        (
            "a link to a link",
            vec![
                file("ibex-client.exe"),
                link("one", "two"),
                link("two", "three"),
                link("three", "."),
                file("one/escaped-link-to-link.txt"),
            ],
        ),
        (
            "a link made after the files it points through",
            vec![
                file("ibex-client.exe"),
                file("plugins/a.jar"),
                link("plugins/up", ".."),
                file("plugins/up/escaped-late.txt"),
            ],
        ),
    ];
    for (what, entries) in cases {
        let env = env_with_26_2_0_installed();
        let share = Share::new(&env.share);
        share.add_kit("26.2.3", GUI, "1");
        let archive = share.archive("26.2.3", GUI);
        let mut writer = sevenz_rust2::ArchiveWriter::create(&archive).unwrap();
        for (entry, data) in entries {
            writer
                .push_archive_entry(entry, Some(data.as_slice()))
                .unwrap();
        }
        writer.finish().unwrap();
        let staging = env.root.join(".ibex-updater").join("staging");
        assert_refused_untouched(
            &env,
            &["install", "--version", "26.2.3", "--component", "ibex-gui"],
            "kits hold no links",
        );
        let escaped: Vec<_> = crate::common::snapshot(env.dir.path())
            .into_iter()
            .filter(|(path, _)| path.contains("escaped"))
            .collect();
        assert!(escaped.is_empty(), "{what}: {escaped:?}");
        assert!(
            !staging.exists() || fs::read_dir(&staging).unwrap().next().is_none(),
            "{what}: staging left behind"
        );
    }
}

#[test]
fn genie_failure_after_the_gui_was_swapped_swaps_the_gui_back() {
    let env = env_with_26_2_0_installed();
    let before = env.snapshot();
    for checkpoint in ["swap:genie-python:old-aside", "swap:genie-python:new-in"] {
        let run = Run::from(
            env.command(&["install", "--version", "26.2.1-hotfix"])
                .env("IBEX_UPDATER_TEST_FAIL_AT", checkpoint)
                .output()
                .unwrap(),
        );
        run.assert_code(1);
        assert!(run.stderr.contains("failed on purpose"), "{}", run.stderr);
        assert_eq!(
            env.snapshot(),
            before,
            "failing at {checkpoint} changed the install root"
        );
        assert_clean_staging(&env);
    }
}

#[test]
fn a_second_install_waits_for_the_lock_or_fails_clearly() {
    let env = env_with_26_2_0_installed();
    let mut first = start_paused_install(&env);
    let second = env.run(&["--lock-wait", "0", "install", "--version", "25.8.0"]);
    second.assert_code(1);
    assert!(
        second.stderr.contains("another ibex-updater"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains(&format!("process {}", first.id())),
        "{}",
        second.stderr
    );
    first.kill().unwrap();
    first.wait().unwrap();
    // With the first one gone, the lock is free and the leftovers are tidied up.
    let third = env.run(&["install", "--version", "25.8.0"]);
    third.assert_code(0);
    assert!(
        third
            .stderr
            .contains("set aside the leftovers of an interrupted install"),
        "{}",
        third.stderr
    );
    assert_clean_staging(&env);
}

#[test]
fn a_second_install_waits_for_the_first_to_finish() {
    let env = env_with_26_2_0_installed();
    let mut first = start_paused_install(&env);
    let mut second = env
        .command(&["--lock-wait", "600", "install", "--version", "25.8.0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The second updater says it is waiting for the lock (however long it took to start), and
    // still waits for as long as the first holds it.
    let mut stderr = std::io::BufReader::new(second.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("waiting") {
        let before = said.len();
        std::io::BufRead::read_line(&mut stderr, &mut said).unwrap();
        assert!(said.len() > before, "the second install ended: {said}");
    }
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second install did not wait"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    std::io::Read::read_to_string(&mut stderr, &mut said).unwrap();
    let mut run = Run::from(second.wait_with_output().unwrap());
    run.stderr = said;
    run.assert_code(0);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("25.8.0"));
    assert_clean_staging(&env);
}

/// Starts an install that takes the lock, stages the GUI, and then waits to be killed.
fn start_paused_install(env: &Env) -> std::process::Child {
    let pause_file = env.dir.path().join("paused");
    let child = env
        .command(&["install", "--version", "26.2.1-hotfix"])
        .env("IBEX_UPDATER_TEST_PAUSE_AT", "prepared:ibex-gui")
        .env("IBEX_UPDATER_TEST_PAUSE_FILE", &pause_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the updater");
    wait_for(&pause_file);
    child
}

pub fn wait_for(path: &std::path::Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the updater never reached its checkpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A program running from either component's folder (the GUI's `ibex-client.exe` in
/// `Client_E4`, a `pythonw.exe` in `Python3`) stops the install before anything moves.
#[test]
fn refuses_to_replace_a_running_client() {
    let suffix = std::env::consts::EXE_SUFFIX;
    for (folder, program, says) in [
        ("Client_E4", "ibex-client", "IBEX GUI is running from"),
        ("Python3", "pythonw", "genie_python is running from"),
    ] {
        let env = env_with_26_2_0_installed();
        let exe = env.root.join(folder).join(format!("{program}{suffix}"));
        fs::copy(env!("CARGO_BIN_EXE_ibex-test-gui"), &exe).unwrap();
        let mut client = crate::common::spawn_copied(
            std::process::Command::new(&exe).env("IBEX_TEST_GUI_STAY", "60"),
        );
        let before = env.snapshot();
        let run = env.run(&["install", "--version", "26.2.1-hotfix"]);
        client.kill().unwrap();
        client.wait().unwrap();
        run.assert_code(1);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("process {}", client.id())),
            "{}",
            run.stderr
        );
        assert_eq!(env.snapshot(), before);
    }
}

/// Windows refuses to move a folder while a program holds it open (Wine shows this for a handle
/// on the folder itself; real Windows for any file in it too): after the retries, the install
/// says what to close, and the installed client is untouched.
#[cfg(windows)]
#[test]
fn a_folder_held_open_stops_the_install_and_says_what_to_close() {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
    let env = env_with_26_2_0_installed();
    let before = env.snapshot();
    let held = fs::File::options()
        .read(true)
        .share_mode(0)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
        .open(env.gui_dir())
        .unwrap();
    let run = env.run(&["install", "--version", "26.2.1-hotfix"]);
    drop(held);
    run.assert_code(1);
    assert!(
        run.stderr.contains("is in use by another program"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("close the IBEX GUI"), "{}", run.stderr);
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.0"));
}

#[test]
fn silent_install_writes_log_lines() {
    let env = Env::with_standard_share();
    let run = env.run(&["--silent", "install", "--version", "26.2.0"]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("IBEX GUI: extracting"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("genie_python: swapping in"),
        "{}",
        run.stderr
    );
}

/// On a terminal (a pty from `script`, part of util-linux) the install draws a progress bar.
// The terminal is a pty from util-linux's `script`; Windows has no such tool.
#[cfg(unix)]
#[test]
fn install_on_a_terminal_shows_a_progress_bar() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        crate::common::peer_missing("`script` (util-linux)", "apt-get install util-linux");
        return;
    }
    let env = Env::with_standard_share();
    let updater = format!("{:?}", env!("CARGO_BIN_EXE_ibex-updater"));
    let args = format!(
        "{updater} --source {:?} --install-root {:?} install --version 26.2.0",
        env.share, env.root
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &args, "/dev/null"])
        .env("IBEX_UPDATER_POLICY", env.dir.path().join("no-policy.toml"))
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("IBEX GUI: extracting"), "{screen}");
    assert!(screen.contains("[==="), "no bar drawn: {screen}");
    assert!(screen.contains("Installed genie_python"), "{screen}");
}

#[test]
fn development_server_has_nothing_to_install() {
    let env = Env::with_standard_share();
    let run = env.run(&["install", "--server-version", "0.0.0.12"]);
    run.assert_code(1);
    assert!(run.stderr.contains("development build"), "{}", run.stderr);
}

/// Each cause is said once: the OS error is not repeated by the error chain.
#[test]
fn an_os_error_is_reported_once() {
    let env = Env::with_standard_share();
    let not_a_folder = env.dir.path().join("a-file");
    fs::write(&not_a_folder, "not a folder").unwrap();
    let run = Run::from(
        env.command(&["install", "--server-version", "26.2.0.1234"])
            .arg("--install-root")
            .arg(&not_a_folder)
            .output()
            .unwrap(),
    );
    run.assert_code(1);
    let error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap();
    assert_eq!(error.matches("(os error").count(), 1, "{error}");
}

/// A kit whose archive unpacks to nothing, or to an empty folder, would replace a working client
/// with an empty one: it is refused before the swap.
#[test]
fn refuses_a_kit_that_unpacks_without_its_program() {
    for (what, entries) in [
        ("an empty archive", vec![]),
        (
            "an archive of one empty folder",
            vec![sevenz_rust2::ArchiveEntry::new_directory("Client")],
        ),
    ] {
        let env = env_with_26_2_0_installed();
        let share = Share::new(&env.share);
        share.add_kit("26.2.3", GUI, "1");
        let archive = share.archive("26.2.3", GUI);
        let mut writer = sevenz_rust2::ArchiveWriter::create(&archive).unwrap();
        for entry in entries {
            writer.push_archive_entry(entry, None::<&[u8]>).unwrap();
        }
        writer.finish().unwrap();
        assert_refused_untouched(
            &env,
            &["install", "--version", "26.2.3", "--component", "ibex-gui"],
            "unpacked without ibex-client.exe or ibex-client",
        );
        println!("{what}: refused");
    }
}

/// genie_python's IPython config, installed beside its archive, is a file people edit: an edit to
/// it is reported like any other, from the installed tree's record.
#[test]
fn an_edited_ipython_config_is_reported_as_a_hand_edit() {
    let env = Env::with_standard_share();
    for release in ["26.2.0", "26.2.2"] {
        let kit = env.share.join(release).join("genie_python_3");
        fs::write(
            kit.join("ipython_config.py"),
            format!("c = get_config()  # {release}\n"),
        )
        .unwrap();
    }
    let (key, _) = env.trusted_key("release", "");
    env.publish(&key, &[]).assert_code(0);
    env.run(&["install", "--version", "26.2.0", "--component", GENIE])
        .assert_code(0);
    fs::write(env.genie_dir().join("ipython_config.py"), "c.extra = 1\n").unwrap();
    let run = env.run(&[
        "install",
        "--json",
        "--version",
        "26.2.2",
        "--component",
        GENIE,
    ]);
    run.assert_code(0);
    assert_eq!(
        run.json()["edited"],
        serde_json::json!([{"component": GENIE, "files": ["ipython_config.py"]}])
    );
}

/// The scripts wipe `Client_E4`; an install carries the GUI's state over, reports files edited by
/// hand (by the old version's manifest), and a rollback brings back the old tree as it was.
#[test]
fn an_install_keeps_the_users_gui_state_and_reports_hand_edits() {
    let env = Env::with_standard_share();
    let (key, _) = env.trusted_key("release", "");
    env.publish(&key, &[]).assert_code(0);
    env.run(&["install", "--version", "26.2.0", "--component", "ibex-gui"])
        .assert_code(0);
    let prefs = "configuration/.settings/uk.ac.stfc.isis.ibex.instrument.prefs";
    for (file, text) in [
        (prefs, "preferences/initialName=LARMOR\n"),
        ("workspace/logs/client.log", "yesterday's log\n"),
        (
            "configuration/config.ini",
            "osgi 26.2.0\nextra.ca.addresses=130.246.49.255\n",
        ),
    ] {
        let path = env.gui_dir().join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    let run = env.run(&[
        "install",
        "--json",
        "--version",
        "26.2.1",
        "--component",
        "ibex-gui",
    ]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(
        report["edited"],
        serde_json::json!([{"component": "ibex-gui", "files": ["configuration/config.ini"]}])
    );
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.1"));
    let gui = env.gui_dir();
    assert_eq!(
        fs::read_to_string(gui.join(prefs)).unwrap(),
        "preferences/initialName=LARMOR\n"
    );
    assert_eq!(
        fs::read_to_string(gui.join("workspace/logs/client.log")).unwrap(),
        "yesterday's log\n"
    );
    assert_eq!(
        fs::read_to_string(gui.join("configuration/config.ini")).unwrap(),
        "osgi 26.2.1\n",
        "the new version's own file"
    );
    let text = env.run(&["verify", "--component", "ibex-gui"]);
    text.assert_code(0);

    fs::write(gui.join(prefs), "preferences/initialName=MERLIN\n").unwrap();
    env.run(&["rollback", "--component", "ibex-gui"])
        .assert_code(0);
    assert_eq!(
        fs::read_to_string(gui.join(prefs)).unwrap(),
        "preferences/initialName=LARMOR\n"
    );
    assert!(
        fs::read_to_string(gui.join("configuration/config.ini"))
            .unwrap()
            .contains("extra.ca.addresses")
    );
}

/// An install or rollback that leaves the GUI and genie_python on different release lines says
/// so; one that brings them back together does not.
#[test]
fn leaving_the_gui_and_genie_python_on_different_lines_is_warned_about() {
    let env = env_with_26_2_0_installed();
    let gui_only = ["install", "--version", "25.8.0", "--component", "ibex-gui"];
    let run = env.run(&gui_only);
    run.assert_code(0);
    assert!(
        run.stdout.contains(
            "warning: the IBEX GUI is on release line 25.8 and genie_python on 26.2: the GUI uses the installed genie_python"
        ),
        "{}",
        run.stdout
    );
    env.run(&["rollback", "--component", "ibex-gui"])
        .assert_code(0);
    let mut json = gui_only.to_vec();
    json.push("--json");
    let run = env.run(&json);
    run.assert_code(0);
    let mixed = &run.json()["mixed_lines"];
    assert_eq!(
        (&mixed["ibex-gui"], &mixed["genie-python"]),
        (&"25.8".into(), &"26.2".into()),
        "{mixed}"
    );

    let run = env.run(&[
        "install",
        "--json",
        "--version",
        "25.8.0",
        "--component",
        "genie-python",
    ]);
    run.assert_code(0);
    assert_eq!(run.json()["mixed_lines"], serde_json::Value::Null);
    let run = env.run(&["rollback", "--component", "genie-python"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("warning: the IBEX GUI is on release line 25.8"),
        "{}",
        run.stdout
    );
}

/// `rollback` of the whole client undoes the last transaction as a unit: components that
/// transaction did not touch stay, so the GUI and genie_python never end up from releases that
/// were never installed together. `history` lists every transaction.
#[test]
fn rollback_undoes_the_last_transaction_and_history_lists_them_all() {
    let env = Env::with_standard_share();
    for args in [
        &["install", "--version", "25.8.0"][..],
        &["install", "--version", "26.2.0"],
        &[
            "install",
            "--version",
            "26.2.1-hotfix",
            "--component",
            "ibex-gui",
        ],
    ] {
        env.run(args).assert_code(0);
    }
    let run = env.run(&["rollback", "--json"]);
    run.assert_code(0);
    let rolled: Vec<_> = run.json()["rolled_back"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rolled, ["ibex-gui"], "only what the last install changed");
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.0"));
    assert_eq!(env.installed_version(GENIE).as_deref(), Some("26.2.0"));

    // An install that fails (a truncated archive) changes nothing and is recorded as failed.
    let share = Share::new(&env.share);
    share.add_kit("26.2.4", GUI, "1");
    let archive = share.archive("26.2.4", GUI);
    let bytes = fs::read(&archive).unwrap();
    fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    let failed = env.run(&["install", "--version", "26.2.4", "--component", "ibex-gui"]);
    assert_ne!(failed.code, 0);

    let run = env.run(&["history", "--json"]);
    run.assert_code(0);
    let history = run.json()["history"].as_array().unwrap().clone();
    let actions: Vec<_> = history
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            "install done",
            "install done",
            "install done",
            "rollback done",
            "install failed"
        ]
    );
    let last_install = &history[2];
    assert_eq!(
        last_install["changes"],
        serde_json::json!([{"component": "ibex-gui", "from": "26.2.0.1234", "to": "26.2.1.1310"}])
    );
    assert!(last_install["time"].as_str().unwrap().ends_with(" UTC"));
    assert!(!last_install["user"].as_str().unwrap().is_empty());
    assert!(history[4]["error"].as_str().is_some(), "{}", history[4]);

    let text = env.run(&["history"]);
    text.assert_code(0);
    assert!(
        text.stdout.contains("IBEX GUI 26.2.0.1234 -> 26.2.1.1310"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("failed, nothing changed"),
        "{}",
        text.stdout
    );
}
