//! The share as it is, through the same install pipeline as a signed one: a kit's files come from
//! the archive's header (sizes and CRC32s), unchanged files are taken from trees on disk, the
//! archive is read in place, and a tree installed one way serves an install the other way. A
//! source that has served a signed index stays signed.
#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::fs;
use std::process::Command;

use crate::common::{ALLOW_UNSIGNED, Env, GUI, Share};

/// A GUI kit of `release` whose big jar is the same in every release and whose small plugin
/// names the release: a patch changes one file of three.
fn add_patchable_kit(share: &Share, release: &str, build: &str) {
    let files = vec![
        ("ibex-client.exe".to_string(), "ibex client\n".to_string()),
        ("plugins/big.jar".to_string(), "the same jar\n".repeat(5000)),
        (
            "plugins/ibex.ui.jar".to_string(),
            format!("ui of {release}\n"),
        ),
    ];
    share.add_kit_with(release, GUI, &format!("{release}\r\n"), build, &files);
}

fn env_with_patchable_releases() -> Env {
    let env = Env::new();
    let share = Share::new(&env.share);
    add_patchable_kit(&share, "26.4.0", "1");
    add_patchable_kit(&share, "26.4.1", "2");
    env
}

fn install(env: &Env, release: &str) -> serde_json::Value {
    let run = env.run(&[
        "install",
        "--json",
        "--version",
        release,
        "--component",
        GUI,
    ]);
    run.assert_code(0);
    run.json()["installed"][0]["files"].clone()
}

#[test]
fn an_unsigned_patch_takes_unchanged_files_and_unpacks_only_the_rest() {
    let env = env_with_patchable_releases();
    let fresh = install(&env, "26.4.0");
    assert_eq!(fresh["check"], "crc32");
    let patch = install(&env, "26.4.1");
    assert_eq!(patch["check"], "crc32");
    // ibex-client.exe and big.jar from the installed tree; only the changed plugin unpacked.
    assert_eq!(
        patch["linked"].as_u64().unwrap() + patch["copied"].as_u64().unwrap(),
        2
    );
    assert_eq!(patch["unpacked"], 1);
    assert_eq!(
        fs::read_to_string(env.gui_dir().join("plugins/ibex.ui.jar")).unwrap(),
        "ui of 26.4.1\n"
    );
    // Switching back to the release kept for rollback is a swap.
    assert_eq!(install(&env, "26.4.0")["switched"], true);
}

/// A file whose bytes do not match the CRC32 the archive records for it (an archive stored
/// without compression, one byte of a file changed) fails the install, and nothing changes.
#[test]
fn a_file_that_fails_the_headers_crc_fails_the_install_with_nothing_changed() {
    let env = env_with_patchable_releases();
    install(&env, "26.4.0");
    let before = env.snapshot();
    let share = Share::new(&env.share);
    let archive = share.archive("26.4.1", GUI);
    let tree = env.share.join("26.4.1/Client/Client");
    fs::remove_file(&archive).unwrap();
    let out = Command::new(crate::common::seven_zip().unwrap())
        .args(["a", "-bd", "-y", "-mx0", "-r"])
        .arg(&archive)
        .arg(".")
        .current_dir(&tree)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut bytes = fs::read(&archive).unwrap();
    // Stored as it is: the file's bytes are in the archive to be found.
    let at = bytes
        .windows(12)
        .position(|w| w == b"ui of 26.4.1")
        .unwrap();
    bytes[at] ^= 0x20;
    fs::write(&archive, bytes).unwrap();
    let run = env.run(&["install", "--version", "26.4.1", "--component", GUI]);
    run.assert_code(3);
    // 7-Zip's own check of the stored stream, or the install's of the file, whichever is first.
    assert!(run.stderr.contains("ibex.ui.jar"), "{}", run.stderr);
    assert_eq!(env.snapshot(), before);
}

/// A tree installed from a signed share serves an install from the share without its index, and
/// the other way round: the records keep both checksums.
#[test]
fn a_tree_installed_signed_serves_an_unsigned_install_and_the_other_way_round() {
    for signed_first in [true, false] {
        let env = env_with_patchable_releases();
        let (key, _) = env.trusted_key("release", ALLOW_UNSIGNED);
        if signed_first {
            env.publish(&key, &[]).assert_code(0);
        }
        assert_eq!(
            install(&env, "26.4.0")["check"],
            if signed_first { "sha256" } else { "crc32" }
        );
        if signed_first {
            // Another user's view of the share, whose index has gone (this one's would refuse).
            fs::remove_file(env.share.join("index.json")).unwrap();
            fs::remove_file(env.share.join("index.json.minisig")).unwrap();
            fs::remove_dir_all(env.dir.path().join("data")).unwrap();
        } else {
            env.publish(&key, &[]).assert_code(0);
        }
        let patch = install(&env, "26.4.1");
        assert_eq!(
            patch["check"],
            if signed_first { "crc32" } else { "sha256" }
        );
        assert_eq!(
            patch["linked"].as_u64().unwrap() + patch["copied"].as_u64().unwrap(),
            2,
            "signed first: {signed_first}: {patch}"
        );
    }
}

/// A share that has served a signed index is refused for installs once the index is gone, even
/// where the policy allows unsigned shares, saying so and how IT resets it.
#[test]
fn a_source_seen_signed_is_refused_without_its_index() {
    let env = env_with_patchable_releases();
    let (key, _) = env.trusted_key("release", ALLOW_UNSIGNED);
    env.publish(&key, &["--serial", "4"]).assert_code(0);
    env.run(&["releases"]).assert_code(0);
    fs::remove_file(env.share.join("index.json")).unwrap();
    fs::remove_file(env.share.join("index.json.minisig")).unwrap();
    let releases = env.run(&["releases"]);
    releases.assert_code(0);
    assert!(
        releases.stdout.contains("serial 4 seen before) is gone"),
        "{}",
        releases.stdout
    );
    let run = env.run(&["install", "--version", "26.4.1", "--component", GUI]);
    run.assert_code(3);
    for wanted in [
        "served a signed index.json before (serial 4)",
        "IT resets this",
        "index-serials.toml",
    ] {
        assert!(run.stderr.contains(wanted), "{wanted}: {}", run.stderr);
    }
    assert!(env.installed_version(GUI).is_none());
}
