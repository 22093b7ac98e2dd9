//! Writing only what changed: with a signed index, an install takes the files a new version shares
//! with a tree already installed (hard links, marked read-only) and unpacks only the rest. The
//! files the GUI, the updater and people write into a tree are never shared.

#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Env, GUI, Share};

/// Files every release below has with the same bytes, and may share.
const SHARED: [&str; 3] = [
    "plugins/org.eclipse.core.runtime.jar",
    "jre/bin/server/jvm.dll",
    "ibex-client.exe",
];
/// Same bytes in every release too, but written in place by the GUI, the updater or people.
const NEVER_SHARED: [&str; 3] = [
    "configuration/config.ini",
    "ibex-client.ini",
    "plugins/uk.ac.stfc.isis.ibex.ui/plugin.xml",
];
const CHANGED: &str = "plugins/uk.ac.stfc.isis.ibex.ui.jar";
/// An empty file, the same in every release: 7-Zip stores it outside every block.
const EMPTY: &str = "plugins/org.eclipse.core.runtime/.empty";

fn release_files(release: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = SHARED
        .iter()
        .chain(&NEVER_SHARED)
        .map(|path| {
            (
                path.to_string(),
                format!("{path} is the same in every release\n").repeat(50),
            )
        })
        .collect();
    files.push((CHANGED.to_string(), format!("ui of {release}\n").repeat(50)));
    files.push((EMPTY.to_string(), String::new()));
    files
}

/// A signed share with the GUI of 26.2.0 and 26.2.1, which differ in one file. 26.2.1's archive
/// has one block per file, as a non-solid 7-Zip archive does.
fn signed_share() -> Env {
    signed_share_with(&[("26.2.0", "1234"), ("26.2.1", "1302")], "")
}

fn signed_share_with(releases: &[(&str, &str)], policy: &str) -> Env {
    let env = Env::new();
    let share = Share::new(&env.share);
    for &(release, build) in releases {
        let number = format!("{release} \r\n");
        share.add_kit_with(release, GUI, &number, build, &release_files(release));
    }
    let archive = share.archive("26.2.1", GUI);
    fs::remove_file(&archive).unwrap();
    let seven_zip = crate::common::seven_zip().expect("7-Zip is needed to build fixtures");
    let out = crate::common::output_of(
        std::process::Command::new(seven_zip)
            .args(["a", "-bd", "-y", "-mx1", "-ms=off", "-r"])
            .arg(&archive)
            .arg(".")
            .current_dir(env.share.join("26.2.1/Client/Client")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (key, _) = env.trusted_key("release", policy);
    env.publish(&key, &[]).assert_code(0);
    env
}

fn install(env: &Env, release: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "install",
        "--json",
        "--component",
        "ibex-gui",
        "--version",
        release,
    ];
    args.extend_from_slice(extra);
    let run = env.run(&args);
    run.assert_code(0);
    run.json()["installed"][0]["files"].clone()
}

fn previous(env: &Env) -> PathBuf {
    env.root.join(".ibex-updater/previous/Client_E4")
}

#[test]
fn a_patch_release_links_the_unchanged_files_and_unpacks_only_the_rest() {
    let env = signed_share();
    let first = install(&env, "26.2.0", &[]);
    assert_eq!(first["linked"], 0, "nothing to take from yet: {first}");
    assert_eq!(first["unpacked"], 8, "{first}");

    let patch = install(&env, "26.2.1", &[]);
    assert_eq!(patch["linked"], SHARED.len() + 1, "{patch}");
    assert_eq!(patch["copied"], 0, "{patch}");
    assert_eq!(patch["unpacked"], NEVER_SHARED.len() + 1, "{patch}");
    // The blocks of the linked files are not read (the archive also holds the version files the
    // build wrote into the tree: nine blocks).
    assert_eq!(patch["blocks"], 9, "{patch}");
    assert_eq!(patch["blocks_read"], NEVER_SHARED.len() + 1, "{patch}");

    let gui = env.gui_dir();
    for path in SHARED {
        let meta = fs::metadata(gui.join(path)).unwrap();
        assert!(
            meta.permissions().readonly(),
            "{path} is shared, so read-only"
        );
        assert_eq!(
            fs::read(gui.join(path)).unwrap(),
            fs::read(previous(&env).join(path)).unwrap()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let kept = fs::metadata(previous(&env).join(path)).unwrap();
            assert_eq!((meta.dev(), meta.ino()), (kept.dev(), kept.ino()), "{path}");
        }
    }
    assert_eq!(
        fs::read_to_string(gui.join(CHANGED)).unwrap(),
        "ui of 26.2.1\n".repeat(50)
    );
    env.run(&["verify", "--component", "ibex-gui"])
        .assert_code(0);
}

#[test]
fn what_the_gui_and_people_write_in_one_tree_does_not_change_the_other() {
    let env = signed_share();
    install(&env, "26.2.0", &[]);
    install(&env, "26.2.1", &[]);
    let kept_before = crate::common::snapshot(&previous(&env));

    // What the GUI does while it runs, and what people do to its settings.
    let gui = env.gui_dir();
    for path in NEVER_SHARED {
        let mut text = fs::read_to_string(gui.join(path)).unwrap();
        text.push_str("edited in the installed tree\n");
        fs::write(gui.join(path), text).unwrap();
    }
    fs::create_dir_all(gui.join("workspace/.metadata")).unwrap();
    fs::write(gui.join("workspace/.metadata/.log"), "started\n").unwrap();

    assert_eq!(crate::common::snapshot(&previous(&env)), kept_before);
    env.run(&["rollback", "--component", "ibex-gui"])
        .assert_code(0);
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.0"));
    for path in NEVER_SHARED {
        let text = fs::read_to_string(env.gui_dir().join(path)).unwrap();
        assert!(!text.contains("edited"), "{path}: {text}");
    }
}

#[test]
fn a_file_changed_since_its_install_is_unpacked_again_not_linked() {
    let env = signed_share();
    install(&env, "26.2.0", &[]);
    let edited = env.gui_dir().join(SHARED[0]);
    let size = fs::metadata(&edited).unwrap().len() as usize;
    fs::write(&edited, "x".repeat(size)).unwrap();

    let patch = install(&env, "26.2.1", &[]);
    assert_eq!(patch["linked"], SHARED.len(), "{patch}");
    assert_eq!(
        fs::read_to_string(env.gui_dir().join(SHARED[0])).unwrap(),
        format!("{} is the same in every release\n", SHARED[0]).repeat(50)
    );
    env.run(&["verify", "--component", "ibex-gui"])
        .assert_code(0);
}

#[test]
fn a_forced_reinstall_writes_only_what_does_not_match() {
    let env = signed_share();
    install(&env, "26.2.0", &[]);
    // Damage one file without changing its size or time: only reading it shows the damage.
    let damaged = env.gui_dir().join(SHARED[1]);
    let time = fs::metadata(&damaged).unwrap().modified().unwrap();
    let size = fs::metadata(&damaged).unwrap().len() as usize;
    fs::write(&damaged, "y".repeat(size)).unwrap();
    set_modified(&damaged, time);
    let damage = env.run(&["verify", "--component", "ibex-gui"]);
    damage.assert_code(3);
    assert!(damage.stdout.contains(SHARED[1]), "{}", damage.stdout);

    let again = install(&env, "26.2.0", &["--force"]);
    // The changed file of the other release is the same version's here: linked too, with the
    // empty file.
    assert_eq!(again["linked"], SHARED.len() + 1, "{again}");
    assert_eq!(again["unpacked"], NEVER_SHARED.len() + 1, "{again}");
    env.run(&["verify", "--component", "ibex-gui"])
        .assert_code(0);

    // Over an intact client a forced reinstall checks every file and writes nothing: the same
    // tree stays in place.
    let record = env.gui_dir().join(".ibex-updater-files.json");
    let before = fs::metadata(&record).unwrap().modified().unwrap();
    let intact = install(&env, "26.2.0", &["--force"]);
    assert_eq!(intact["intact"], true, "{intact}");
    assert_eq!(intact["linked"], 0, "{intact}");
    assert_eq!(intact["unpacked"], 0, "{intact}");
    assert_eq!(fs::metadata(&record).unwrap().modified().unwrap(), before);
}

fn set_modified(path: &Path, time: std::time::SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

#[test]
fn switching_back_to_a_kept_release_is_a_swap_that_keeps_the_users_state() {
    let env = signed_share();
    install(&env, "26.2.0", &[]);
    install(&env, "26.2.1", &[]);
    let prefs = "configuration/.settings/uk.ac.stfc.isis.ibex.instrument.prefs";
    fs::create_dir_all(env.gui_dir().join("configuration/.settings")).unwrap();
    fs::write(env.gui_dir().join(prefs), "selected=LARMOR\n").unwrap();

    let back = install(&env, "26.2.0", &[]);
    assert_eq!(back["switched"], true, "{back}");
    assert_eq!(back["unpacked"], 0, "{back}");
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.0"));
    assert_eq!(
        fs::read_to_string(env.gui_dir().join(prefs)).unwrap(),
        "selected=LARMOR\n",
        "the user's state comes along"
    );
    env.run(&["verify", "--component", "ibex-gui"])
        .assert_code(0);

    let forth = install(&env, "26.2.1", &[]);
    assert_eq!(forth["switched"], true, "{forth}");
    assert_eq!(env.installed_version(GUI).as_deref(), Some("26.2.1"));
    env.run(&["verify", "--component", "ibex-gui"])
        .assert_code(0);
}

#[test]
fn a_kept_tree_changed_since_its_install_is_not_switched_to() {
    let env = signed_share();
    install(&env, "26.2.0", &[]);
    install(&env, "26.2.1", &[]);
    // The changed file of 26.2.0 is its own (not linked): edit it in the kept tree.
    let edited = previous(&env).join(CHANGED);
    fs::write(&edited, "edited in the kept tree\n").unwrap();

    let back = install(&env, "26.2.0", &[]);
    assert_eq!(back["switched"], false, "{back}");
    assert_eq!(back["unpacked"], NEVER_SHARED.len() + 1, "{back}");
    env.run(&["verify", "--component", "ibex-gui"])
        .assert_code(0);
}

#[test]
fn the_policy_keeps_more_releases_for_switching_and_deletes_the_oldest() {
    let releases = [
        ("26.2.0", "1234"),
        ("26.2.1", "1302"),
        ("26.2.2", "1400"),
        ("26.2.3", "1500"),
    ];
    let env = signed_share_with(&releases, "keep_releases = 3\n");
    for (release, _) in &releases[..3] {
        install(&env, release, &[]);
    }
    let kept = env.root.join(".ibex-updater/kept/Client_E4");
    assert_eq!(kept_versions(&kept), ["26.2.0.1234"]);

    let back = install(&env, "26.2.0", &[]);
    assert_eq!(back["switched"], true, "{back}");
    assert_eq!(
        kept_versions(&kept),
        ["26.2.1.1302"],
        "26.2.2 is the previous one now"
    );

    install(&env, "26.2.3", &[]);
    assert_eq!(
        kept_versions(&kept),
        ["26.2.2.1400"],
        "26.2.1, the oldest, went"
    );
    env.run(&["verify", "--component", "ibex-gui"])
        .assert_code(0);
}

fn kept_versions(kept: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(kept)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| n.split_once('-').unwrap().1.to_string())
        .collect()
}
