//! Index format 2 on a share: what a signed index may hold (every value validated, whoever signed
//! it), the memory of what each source has served (no older serial under any key or source id),
//! key rotation end to end, the incremental publish, and format 1 still read.
#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::fs;
use std::path::{Path, PathBuf};

use ibex_updater_core::index::{FileEntry, ManifestRef, manifest, signature};
use serde_json::{Value, json};

use crate::common::{Env, GENIE, GUI, Run, Share};

/// A standard share published with a key that the policy trusts.
struct Signed {
    env: Env,
    key: PathBuf,
}

impl Signed {
    fn new(publish: &[&str]) -> Signed {
        let env = Env::with_standard_share();
        let (key, _) = env.trusted_key("release", "");
        env.publish(&key, publish).assert_code(0);
        Signed { env, key }
    }

    fn index(&self) -> Value {
        serde_json::from_slice(&fs::read(self.env.share.join("index.json")).unwrap()).unwrap()
    }

    /// Writes `index` and signs it with `key`, as a release team (or one holding its key) could.
    fn sign_with(&self, key: &Path, index: &Value) {
        let text = serde_json::to_string_pretty(index).unwrap();
        let signature = signature::sign(text.as_bytes(), key, "crafted").unwrap();
        fs::write(self.env.share.join("index.json"), text).unwrap();
        fs::write(self.env.share.join("index.json.minisig"), signature).unwrap();
    }

    /// The published index, changed by `change`, under the next serial, signed with the key.
    fn resign(&self, change: impl FnOnce(&mut Value)) {
        let mut index = self.index();
        index["serial"] = json!(index["serial"].as_u64().unwrap() + 1);
        change(&mut index);
        self.sign_with(&self.key, &index);
    }

    /// Writes a manifest of `files` into the share, and returns how an index lists it.
    fn add_manifest(&self, files: &[FileEntry]) -> Value {
        let (bytes, listed) = manifest::encode(files).unwrap();
        let path = self.env.share.join(&listed.path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
        serde_json::to_value(listed).unwrap()
    }

    fn run(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }
}

/// The kit entry of `component` in release `release` of `index`.
fn kit<'a>(index: &'a mut Value, release: &str, component: &str) -> &'a mut Value {
    index["releases"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["name"] == release)
        .unwrap()["kits"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|k| k["component"] == component)
        .unwrap()
}

/// The files of the manifest the index lists for a kit.
fn files_of(share: &Path, kit: &Value) -> Vec<FileEntry> {
    let listed: ManifestRef = serde_json::from_value(kit["manifest"].clone()).unwrap();
    manifest::decode(&fs::read(share.join(&listed.path)).unwrap(), &listed).unwrap()
}

fn refused(run: &Run, wanted: &str) {
    run.assert_code(3);
    assert!(
        run.stderr.contains(wanted),
        "wanted '{wanted}' in: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

// --- What a signed index may hold ---

#[test]
fn a_kit_sha256_that_is_not_a_hash_is_refused_by_every_command() {
    let signed = Signed::new(&[]);
    signed.resign(|index| {
        kit(index, "26.2.1", GUI)["archive"]["sha256"] = json!("../../../../victim");
    });
    for command in [
        &["releases"][..],
        &["status", "--server-version", "26.2.0.1"],
    ] {
        refused(&signed.run(command), "is not a SHA-256");
    }
}

#[test]
fn an_expiry_past_the_year_9999_is_refused_without_a_panic() {
    let signed = Signed::new(&[]);
    signed.resign(|index| index["expires"] = json!(u64::MAX));
    refused(&signed.run(&["releases"]), "past the year 9999");
}

#[test]
fn a_manifest_path_that_climbs_out_of_the_tree_is_refused_by_verify() {
    let signed = Signed::new(&[]);
    signed
        .run(&["install", "--server-version", "26.2.0.1"])
        .assert_code(0);
    fs::write(signed.env.dir.path().join("outside.txt"), "secret").unwrap();
    let mut files = files_of(&signed.env.share, kit(&mut signed.index(), "26.2.1", GUI));
    files.insert(
        0,
        FileEntry {
            path: "../outside.txt".into(),
            size: 6,
            sha256: "0".repeat(64),
        },
    );
    // encode() writes what it is given: the reader is what must refuse it.
    let listed = signed.add_manifest(&files);
    signed.resign(|index| kit(index, "26.2.1", GUI)["manifest"] = listed);
    let run = signed.run(&["verify", "--component", GUI]);
    refused(&run, "has a '..' part");
    assert!(!run.stdout.contains("outside"), "{}", run.stdout);
}

#[test]
fn a_manifest_naming_one_file_twice_is_refused_and_the_client_is_kept() {
    let signed = Signed::new(&[]);
    signed
        .run(&["install", "--server-version", "25.8.0.1"])
        .assert_code(0);
    let client = || {
        crate::common::snapshot(&signed.env.root)
            .into_iter()
            .filter(|(p, _)| !p.starts_with(".ibex-updater/"))
            .collect::<Vec<_>>()
    };
    let before = client();
    let mut files = files_of(&signed.env.share, kit(&mut signed.index(), "26.2.1", GUI));
    let jar = files
        .iter()
        .find(|f| f.path.ends_with(".jar"))
        .unwrap()
        .clone();
    let (folder, name) = jar.path.rsplit_once('/').unwrap();
    files.push(FileEntry {
        path: format!("{folder}/./{name}"),
        size: 0,
        sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let listed = signed.add_manifest(&files);
    signed.resign(|index| kit(index, "26.2.1", GUI)["manifest"] = listed);
    let run = signed.run(&["install", "--version", "26.2.1", "--component", GUI]);
    refused(&run, "has a '.' part");
    assert_eq!(client(), before);
}

#[test]
fn a_manifest_that_is_not_what_the_index_lists_is_refused() {
    let signed = Signed::new(&[]);
    let mut index = signed.index();
    let listed: ManifestRef =
        serde_json::from_value(kit(&mut index, "26.2.1", GUI)["manifest"].clone()).unwrap();
    let path = signed.env.share.join(&listed.path);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, bytes).unwrap();
    let run = signed.run(&["install", "--version", "26.2.1", "--component", GUI]);
    refused(&run, "where the index lists");
    assert!(signed.env.installed_version(GUI).is_none());
}

/// A 7-Zip archive of `entries` (name, content), written with the 7-Zip library, which, unlike
/// the 7-Zip program, writes whatever it is given.
fn crafted_archive(path: &Path, entries: &[(&str, &[u8])]) {
    let mut writer = sevenz_rust2::ArchiveWriter::create(path).unwrap();
    for (name, content) in entries {
        writer
            .push_archive_entry(sevenz_rust2::ArchiveEntry::new_file(name), Some(*content))
            .unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn publish_refuses_an_archive_that_names_a_file_twice_naming_it() {
    let env = Env::with_standard_share();
    let (key, _) = env.trusted_key("release", "");
    let share = Share::new(&env.share);
    share.add_kit("26.2.3", GUI, "1");
    crafted_archive(
        &share.archive("26.2.3", GUI),
        &[
            ("ibex-client.exe", b"a"),
            ("plugins/x.jar", b"one"),
            ("plugins/x.jar", b"two"),
        ],
    );
    let run = env.publish(&key, &[]);
    refused(&run, "names the file 'plugins/x.jar' twice");
    assert!(!env.share.join("index.json").exists());
}

#[test]
fn publish_refuses_names_that_are_one_file_on_windows() {
    let env = Env::with_standard_share();
    let (key, _) = env.trusted_key("release", "");
    let share = Share::new(&env.share);
    share.add_kit("26.2.3", GUI, "1");
    crafted_archive(
        &share.archive("26.2.3", GUI),
        &[
            ("ibex-client.exe", b"a"),
            ("plugins/X.jar", b"one"),
            ("plugins/x.jar", b"two"),
        ],
    );
    refused(&env.publish(&key, &[]), "differ only in case");
    crafted_archive(
        &share.archive("26.2.3", GUI),
        &[("ibex-client.exe", b"a"), ("plugins/aux.txt", b"one")],
    );
    refused(&env.publish(&key, &[]), "which Windows keeps for a device");
}

#[test]
fn a_serial_past_what_the_memory_of_serials_holds_is_refused() {
    let env = Env::with_standard_share();
    let (key, _) = env.trusted_key("release", "");
    let run = env.publish(&key, &["--serial", "9223372036854775808"]);
    run.assert_code(2);
    assert!(run.stderr.contains("is larger than"), "{}", run.stderr);
    let signed = Signed::new(&[]);
    signed.resign(|index| index["serial"] = json!(u64::MAX));
    refused(&signed.run(&["releases"]), "is larger than");
    // Refused before anything was remembered: the memory of serials still reads.
    fs::remove_file(signed.env.share.join("index.json")).unwrap();
    signed
        .env
        .publish(&signed.key, &["--serial", "5"])
        .assert_code(0);
    signed.run(&["releases"]).assert_code(0);
}

/// An index whose signature names a key this machine does not trust is refused having read no
/// more of it than its key rotations: a deep format 1 file list that would take gigabytes to
/// check costs nothing.
#[cfg(target_os = "linux")] // the peak memory comes from Python's getrusage
#[test]
fn an_unsigned_index_costs_no_more_than_a_look_at_it() {
    let signed = Signed::new(&[]);
    let normal = crate::common::peak_memory(&mut signed.env.command(&["releases"]));
    assert_eq!(normal.0, 0);
    let deep = "a/".repeat(1900);
    let files: Vec<Value> = (0..900)
        .map(|n| json!({"path": format!("x{n:04}/{deep}f"), "size": 1, "sha256": "0".repeat(64)}))
        .collect();
    let index = json!({"format": 1, "serial": 9, "published": 0, "expires": 4_000_000_000u64,
        "releases": [{"name": "26.2.0", "kits": [{"component": "ibex-gui",
        "archive": "26.2.0/Client/zips/Client.7z", "size": 1, "sha256": "0".repeat(64),
        "version": "26.2.0.1", "files": files}]}]});
    fs::write(signed.env.share.join("index.json"), index.to_string()).unwrap();
    // A signature box of a key nobody trusts: "ED", a key id, and a signature of zeros.
    let mut raw = b"ED".to_vec();
    raw.extend([7u8; 8]);
    raw.extend([0u8; 64]);
    let signature = format!(
        "untrusted comment: crafted\n{}\ntrusted comment: crafted\n{}\n",
        base64(&raw),
        base64(&[0u8; 64])
    );
    fs::write(signed.env.share.join("index.json.minisig"), signature).unwrap();
    let (code, kb) = crate::common::peak_memory(&mut signed.env.command(&["releases"]));
    assert_eq!(code, 3);
    assert!(
        kb < normal.1 + 16_000,
        "{kb} kB against {} kB for a normal run",
        normal.1
    );
}

/// Standard base64, for the crafted signature above.
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}

// --- What each source has served ---

#[test]
fn no_older_serial_comes_back_with_another_source_id_or_none() {
    let signed = Signed::new(&["--source-id", "isis", "--serial", "10"]);
    signed.run(&["releases"]).assert_code(0);
    let newest = signed.index();
    for (source, serial, wanted) in [
        (None, 3, "this location has served source 'isis'"),
        (Some("test"), 4, "this location has served source 'isis'"),
        (Some("isis"), 9, "has serial 9, older than serial 10"),
    ] {
        let mut old = newest.clone();
        old["serial"] = json!(serial);
        match source {
            Some(source) => old["source"] = json!(source),
            None => {
                old.as_object_mut().unwrap().remove("source");
            }
        }
        signed.sign_with(&signed.key, &old);
        refused(&signed.run(&["releases"]), wanted);
    }
}

/// The same share under another path, or a mirror of it: a source id carries its serial there,
/// and an index without one must reach the newest serial its key has signed.
#[cfg(unix)] // another path to the same share needs a symlink, which needs a privilege on Windows
#[test]
fn no_older_serial_comes_back_under_another_path() {
    let signed = Signed::new(&["--source-id", "isis", "--serial", "10"]);
    signed.run(&["releases"]).assert_code(0);
    let other = signed.env.dir.path().join("same-share");
    std::os::unix::fs::symlink(&signed.env.share, &other).unwrap();
    let other = other.to_str().unwrap();
    let mut old = signed.index();
    for source in [Some("isis"), None] {
        old["serial"] = json!(4);
        match source {
            Some(source) => old["source"] = json!(source),
            None => {
                old.as_object_mut().unwrap().remove("source");
            }
        }
        signed.sign_with(&signed.key, &old);
        refused(
            &signed.env.run_from(other, &["releases"]),
            "has serial 4, older than serial 10",
        );
    }
}

#[test]
fn key_rotation_end_to_end() {
    let signed = Signed::new(&["--source-id", "isis"]);
    let env = &signed.env;
    env.run(&["releases"]).assert_code(0);
    let old_index = (
        fs::read(env.share.join("index.json")).unwrap(),
        fs::read(env.share.join("index.json.minisig")).unwrap(),
    );
    // The release team makes a new key and moves to it: the old key signs the rotation.
    let keys = env.dir.path().join("keys");
    env.run(&[
        "keygen",
        "--out-dir",
        keys.to_str().unwrap(),
        "--name",
        "next",
    ])
    .assert_code(0);
    let next = keys.join("next.key");
    let old = signed.key.to_str().unwrap();
    let run = env.publish(&next, &["--rotate-from", old, "--json"]);
    run.assert_code(0);
    assert!(run.json()["rotated"]["to"].is_string(), "{}", run.stdout);

    // A machine that trusts only the old key follows the rotation to the new one.
    let rotated = env.run(&["releases"]);
    rotated.assert_code(0);
    assert!(
        rotated.stdout.contains("signed index, serial 2"),
        "{}",
        rotated.stdout
    );
    let rotated_index = (
        fs::read(env.share.join("index.json")).unwrap(),
        fs::read(env.share.join("index.json.minisig")).unwrap(),
    );

    // From then on the old key is refused: its last index served again...
    fs::write(env.share.join("index.json"), &old_index.0).unwrap();
    fs::write(env.share.join("index.json.minisig"), &old_index.1).unwrap();
    refused(&env.run(&["releases"]), "which the release team retired");
    // ...and a newer one it signs (a stolen old key) too.
    let mut newer: Value = serde_json::from_slice(&old_index.0).unwrap();
    newer["serial"] = json!(50);
    signed.sign_with(&signed.key, &newer);
    refused(&env.run(&["releases"]), "which the release team retired");

    // The new key's publishes carry the chain: a machine that slept through the rotation (it
    // has seen nothing, and trusts only the old key) still follows it.
    fs::write(env.share.join("index.json"), &rotated_index.0).unwrap();
    fs::write(env.share.join("index.json.minisig"), &rotated_index.1).unwrap();
    env.publish(&next, &["--serial", "60"]).assert_code(0);
    fs::remove_dir_all(env.dir.path().join("data")).unwrap();
    let slept = env.run(&["releases"]);
    slept.assert_code(0);
    assert!(slept.stdout.contains("serial 60"), "{}", slept.stdout);

    // And no older serial comes back under the new key.
    let mut older = signed.index();
    older["serial"] = json!(59);
    signed.sign_with(&next, &older);
    refused(
        &env.run(&["releases"]),
        "has serial 59, older than serial 60",
    );
}

#[test]
fn an_index_that_drops_a_rotation_it_depends_on_is_refused() {
    let signed = Signed::new(&[]);
    let env = &signed.env;
    let keys = env.dir.path().join("keys");
    env.run(&[
        "keygen",
        "--out-dir",
        keys.to_str().unwrap(),
        "--name",
        "next",
    ])
    .assert_code(0);
    let next = keys.join("next.key");
    env.publish(&next, &["--rotate-from", signed.key.to_str().unwrap()])
        .assert_code(0);
    // Signed by the new key, without the statement that vouches for it: unknown to this machine.
    let mut index = signed.index();
    index.as_object_mut().unwrap().remove("rotations");
    index["serial"] = json!(9);
    signed.sign_with(&next, &index);
    refused(&env.run(&["releases"]), "which this updater does not trust");
}

// --- Publishing ---

fn publish_json(signed: &Signed, extra: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let run = signed.env.publish(&signed.key, &args);
    run.assert_code(0);
    run.json()
}

fn listed(published: &Value) -> Vec<(String, String, String)> {
    published["kits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["release"].as_str().unwrap().to_string(),
                k["component"].as_str().unwrap().to_string(),
                k["listed"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn publish_reads_only_what_is_new() {
    let signed = Signed::new(&[]);
    let again = publish_json(&signed, &[]);
    assert!(
        listed(&again).iter().all(|(_, _, how)| how == "carried"),
        "{again}"
    );
    assert_eq!(again["bytes_read"], 0);

    let share = Share::new(&signed.env.share);
    share.add_kit("26.8.0", GUI, "2001");
    share.add_kit("26.8.0", GENIE, "2001");
    let added = publish_json(&signed, &[]);
    for (release, component, how) in listed(&added) {
        let expected = if release == "26.8.0" {
            "read-new"
        } else {
            "carried"
        };
        assert_eq!(how, expected, "{release} {component}");
    }
    let sizes: u64 = [GUI, GENIE]
        .iter()
        .map(|c| fs::metadata(share.archive("26.8.0", c)).unwrap().len())
        .sum();
    let read = added["bytes_read"].as_u64().unwrap();
    // The archives once, and their small headers once more (a large archive's header is a
    // sliver of it: bench-index measures that).
    assert!(
        read >= sizes && read <= 2 * sizes,
        "{read} bytes read for {sizes}"
    );

    // An archive replaced since is read again, and said to have changed.
    share.add_kit("26.8.0", GUI, "2002");
    let changed = publish_json(&signed, &[]);
    assert!(
        listed(&changed).contains(&("26.8.0".into(), GUI.into(), "read-changed".into())),
        "{changed}"
    );
    signed
        .run(&["install", "--version", "26.8.0"])
        .assert_code(0);
    signed.run(&["verify"]).assert_code(0);
}

#[test]
fn publish_refresh_signs_again_reading_no_archive() {
    let signed = Signed::new(&["--valid-days", "1"]);
    let before = signed.index();
    let refreshed = publish_json(&signed, &["--refresh", "--valid-days", "30"]);
    assert_eq!(refreshed["bytes_read"], 0);
    let after = signed.index();
    assert_eq!(after["serial"], before["serial"].as_u64().unwrap() + 1);
    assert!(after["expires"].as_u64() > before["expires"].as_u64());
    assert_eq!(after["releases"], before["releases"]);
    signed
        .run(&["install", "--server-version", "26.2.0.1"])
        .assert_code(0);
}

#[test]
fn publish_audit_reports_an_archive_changed_in_place() {
    let signed = Signed::new(&[]);
    let audit = signed.env.publish(&signed.key, &["--audit", "--json"]);
    audit.assert_code(0);
    assert_eq!(audit.json()["clean"], true);

    // The same size and time, other bytes: only a full read sees it.
    let archive = Share::new(&signed.env.share).archive("26.2.0", GUI);
    let modified = fs::metadata(&archive).unwrap().modified().unwrap();
    let mut bytes = fs::read(&archive).unwrap();
    bytes[40] ^= 0xff;
    fs::write(&archive, bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(&archive)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let audit = signed.env.publish(&signed.key, &["--audit", "--json"]);
    audit.assert_code(3);
    let doc = audit.json();
    let differs: Vec<&Value> = doc["kits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] != "matches")
        .collect();
    assert_eq!(differs.len(), 1, "{doc}");
    assert_eq!(differs[0]["release"], "26.2.0");
    assert_eq!(differs[0]["component"], GUI);
}

#[test]
fn publish_carries_nothing_over_from_an_index_it_did_not_sign() {
    let signed = Signed::new(&[]);
    let keys = signed.env.dir.path().join("keys");
    signed
        .env
        .run(&[
            "keygen",
            "--out-dir",
            keys.to_str().unwrap(),
            "--name",
            "planted",
        ])
        .assert_code(0);
    let mut planted = signed.index();
    planted["serial"] = json!(2);
    signed.sign_with(&keys.join("planted.key"), &planted);
    let run = signed.env.publish(&signed.key, &[]);
    run.assert_code(2);
    assert!(run.stderr.contains("--rotate-from"), "{}", run.stderr);
}

// --- Format 1 ---

/// The published format 2 index, in format 1 (each kit's manifest inline), signed.
fn as_format_1(signed: &Signed, serial: u64) {
    let mut index = signed.index();
    let share = signed.env.share.clone();
    for release in index["releases"].as_array_mut().unwrap() {
        for kit in release["kits"].as_array_mut().unwrap() {
            let files = files_of(&share, kit);
            *kit = json!({
                "component": kit["component"], "archive": kit["archive"]["path"],
                "size": kit["archive"]["size"], "sha256": kit["archive"]["sha256"],
                "version": kit["version"], "files": files,
            });
        }
    }
    index["format"] = json!(1);
    index["serial"] = json!(serial);
    fs::remove_dir_all(share.join("manifests")).unwrap();
    signed.sign_with(&signed.key, &index);
}

#[test]
fn a_format_1_index_is_still_read_and_installed_from() {
    let signed = Signed::new(&[]);
    as_format_1(&signed, 1);
    let status = signed.run(&["releases"]);
    status.assert_code(0);
    assert!(
        status.stdout.contains("signed index, serial 1"),
        "{}",
        status.stdout
    );
    signed
        .run(&["install", "--server-version", "26.2.0.1"])
        .assert_code(0);
    signed.run(&["verify"]).assert_code(0);

    // Publishing moves the share to format 2 (reading every archive once); from then on a
    // format 1 index there is an old one served again.
    let moved = publish_json(&signed, &[]);
    assert_eq!(moved["format"], 2);
    signed.run(&["releases"]).assert_code(0);
    as_format_1(&signed, 3);
    refused(&signed.run(&["releases"]), "has served format 2");
}
