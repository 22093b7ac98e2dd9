//! The signed release index: `publish` and `keygen`, verification of a share that has an index
//! (signature, trusted keys, serial, expiry, archive hashes), `verify` against the manifest, and
//! interoperability with the real `minisign` tool (Debian package `minisign`).
#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ibex_updater_core::index::{FileEntry, ManifestRef, manifest};

use crate::common::{Env, Run};

/// A standard share, a key pair, and a policy that trusts the key.
struct Signed {
    env: Env,
    secret: PathBuf,
    public_line: String,
}

impl Signed {
    fn new() -> Signed {
        let env = Env::with_standard_share();
        let (secret, public_line) = env.trusted_key("release", "");
        Signed {
            env,
            secret,
            public_line,
        }
    }

    fn trust(&self, keys: &[&str]) {
        let list = keys
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        fs::write(self.policy(), format!("trusted_keys = [{list}]\n")).unwrap();
    }

    fn policy(&self) -> PathBuf {
        self.env.dir.path().join("no-policy.toml")
    }

    fn publish(&self, extra: &[&str]) -> Run {
        self.env.publish(&self.secret, extra)
    }

    fn index(&self) -> PathBuf {
        self.env.share.join("index.json")
    }
}

fn minisign() -> bool {
    let found = Command::new("minisign").arg("-v").output().is_ok();
    if !found {
        crate::common::peer_missing("minisign", "apt-get install minisign");
    }
    found
}

#[test]
#[cfg_attr(
    windows,
    ignore = "minisign is a Linux program here; the index it checks is the same bytes on Windows"
)]
fn publish_writes_an_index_that_minisign_verifies() {
    let signed = Signed::new();
    let run = signed.publish(&["--json"]);
    run.assert_code(0);
    assert_eq!(run.json()["serial"], 1);
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(signed.index()).unwrap()).unwrap();
    let gui = index["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "26.2.1")
        .unwrap()["kits"][0]
        .clone();
    assert_eq!(index["format"], 2);
    assert_eq!(gui["component"], "ibex-gui");
    assert_eq!(gui["archive"]["path"], "26.2.1/Client/zips/Client.7z");
    assert_eq!(gui["version"], "26.2.1.1302");
    let archive = fs::read(signed.env.share.join("26.2.1/Client/zips/Client.7z")).unwrap();
    assert_eq!(gui["archive"]["size"], archive.len());
    let files: Vec<String> = manifest_of(&signed.env.share, &gui)
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert!(
        files.contains(&"plugins/uk.ac.stfc.isis.ibex.ui_26.2.1.jar".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"VERSION.txt".to_string())
            && files.contains(&"BUILD_NUMBER.txt".to_string()),
        "{files:?}"
    );
    // The incomplete GUI kit of 26.2.2 (no COPY_COMPLETE.txt) is not published; its genie is.
    let release_2622 = index["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "26.2.2")
        .unwrap();
    let components: Vec<&str> = release_2622["kits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["component"].as_str().unwrap())
        .collect();
    assert_eq!(components, ["genie-python"]);
    // A second publish raises the serial.
    assert_eq!(signed.publish(&["--json"]).json()["serial"], 2);

    if !minisign() {
        return;
    }
    let out = Command::new("minisign")
        .args(["-V", "-m"])
        .arg(signed.index())
        .args(["-P", &signed.public_line])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "minisign -V: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("serial 2"));
}

#[test]
fn a_signed_share_installs_with_hashes_from_the_index_and_says_so() {
    let signed = Signed::new();
    signed.publish(&[]).assert_code(0);
    let run = signed
        .env
        .run(&["status", "--server-version", "26.2.0.1234"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("(signed index, serial 1)"),
        "{}",
        run.stdout
    );
    let run = signed
        .env
        .run(&["install", "--server-version", "26.2.0.1234", "--json"]);
    run.assert_code(0);
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(signed.index()).unwrap()).unwrap();
    let listed = index.to_string();
    for change in run.json()["installed"].as_array().unwrap() {
        assert!(
            listed.contains(change["sha256"].as_str().unwrap()),
            "{change}"
        );
    }
    // Without its index, a share this user has seen signed is refused for installs, whatever
    // the policy: the index may have been removed to get unchecked kits installed.
    fs::remove_file(signed.index()).unwrap();
    let run = signed.env.run(&["releases"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("is gone; installing is refused"),
        "{}",
        run.stdout
    );
    fs::write(signed.policy(), crate::common::ALLOW_UNSIGNED).unwrap();
    let run = signed
        .env
        .run(&["install", "--force", "--server-version", "26.2.0.1234"]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("served a signed index.json before"),
        "{}",
        run.stderr
    );
    // For a user who has never seen it signed (or once IT has reset this memory), the share is
    // read and said to be unverified; installing from it is refused unless the policy allows
    // unsigned shares.
    fs::remove_file(signed.policy()).unwrap();
    fs::remove_dir_all(signed.env.dir.path().join("data")).unwrap();
    let run = signed.env.run(&["releases"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("unverified: no signed index.json; installing is refused"),
        "{}",
        run.stdout
    );
    let run = signed
        .env
        .run(&["install", "--force", "--server-version", "26.2.0.1234"]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("has no signed index.json"),
        "{}",
        run.stderr
    );
    fs::write(signed.policy(), crate::common::ALLOW_UNSIGNED).unwrap();
    let run = signed.env.run(&["releases"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("unverified: no signed index.json"),
        "{}",
        run.stdout
    );
}

/// Every refusal exits 3, names what is wrong, and leaves the installed client as it was.
fn refused(signed: &Signed, wanted: &str) {
    let before = client_files(&signed.env.root);
    let run = signed
        .env
        .run(&["install", "--server-version", "26.2.0.1234"]);
    run.assert_code(3);
    assert!(
        run.stderr.contains(wanted),
        "wanted '{wanted}' in: {}",
        run.stderr
    );
    assert_eq!(
        client_files(&signed.env.root),
        before,
        "nothing was changed"
    );
}

/// The install root without the updater's own state folder (its lock file appears on first use).
fn client_files(root: &Path) -> Vec<(String, String)> {
    crate::common::snapshot(root)
        .into_iter()
        .filter(|(path, _)| !path.starts_with(".ibex-updater/"))
        .collect()
}

#[test]
fn a_tampered_index_is_refused() {
    let signed = Signed::new();
    signed.publish(&[]).assert_code(0);
    let text = fs::read_to_string(signed.index()).unwrap();
    fs::write(
        signed.index(),
        text.replacen("\"serial\": 1", "\"serial\": 9", 1),
    )
    .unwrap();
    refused(&signed, "has been changed or damaged since it was signed");
    fs::remove_file(signed.env.share.join("index.json.minisig")).unwrap();
    refused(&signed, "index.json.minisig cannot be read");
}

#[test]
fn an_index_signed_by_an_unknown_key_is_refused_and_a_second_trusted_key_works() {
    let signed = Signed::new();
    signed.publish(&[]).assert_code(0);
    let other = Signed::new();
    signed.trust(&[&other.public_line]);
    refused(&signed, "which this updater does not trust");
    // Key rotation: trusting both keys accepts either.
    signed.trust(&[&other.public_line, &signed.public_line]);
    signed
        .env
        .run(&["install", "--server-version", "26.2.0.1234"])
        .assert_code(0);
}

#[test]
fn an_older_serial_than_one_seen_is_refused() {
    let signed = Signed::new();
    signed.publish(&["--serial", "5"]).assert_code(0);
    let newer = fs::read(signed.index()).unwrap();
    let newer_sig = fs::read(signed.env.share.join("index.json.minisig")).unwrap();
    signed.env.run(&["releases"]).assert_code(0);
    // An older, validly signed index served again:
    fs::remove_file(signed.index()).unwrap();
    signed.publish(&["--serial", "3"]).assert_code(0);
    refused(&signed, "has serial 3, older than serial 5 seen before");
    // publish itself will not go backwards over an index it can see.
    fs::write(signed.index(), newer).unwrap();
    fs::write(signed.env.share.join("index.json.minisig"), newer_sig).unwrap();
    let run = signed.publish(&["--serial", "4"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("not above the serial"),
        "{}",
        run.stderr
    );
}

/// The serials seen are remembered by the index's signing key (and the source it names), not by
/// the text of the source's path: the same share under another path, or a mirror of it, cannot
/// serve an older index.
// Windows: another path to the same share needs a symlink, which needs a privilege there.
#[cfg(unix)]
#[test]
fn an_older_serial_is_refused_under_another_path_to_the_same_share() {
    let signed = Signed::new();
    signed.publish(&["--serial", "5"]).assert_code(0);
    signed.env.run(&["releases"]).assert_code(0);
    fs::remove_file(signed.index()).unwrap();
    signed.publish(&["--serial", "3"]).assert_code(0);
    let other_path = signed.env.dir.path().join("same-share");
    std::os::unix::fs::symlink(&signed.env.share, &other_path).unwrap();
    let run = signed
        .env
        .run_from(other_path.to_str().unwrap(), &["releases"]);
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("has serial 3, older than serial 5 seen before"),
        "{}",
        run.stderr
    );
}

/// A damaged memory of serials is an error that names the file, never "nothing seen yet".
#[test]
fn a_damaged_serial_store_is_refused_and_named() {
    let signed = Signed::new();
    signed.publish(&[]).assert_code(0);
    let store = signed
        .env
        .dir
        .path()
        .join("data")
        .join("index-serials.toml");
    fs::create_dir_all(store.parent().unwrap()).unwrap();
    fs::write(&store, "this is = = not toml").unwrap();
    let run = signed.env.run(&["releases"]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("index-serials.toml") && run.stderr.contains("damaged"),
        "{}",
        run.stderr
    );
}

/// A share whose index is far larger than any index (here, a sparse file of 8 GiB) is refused
/// at the cap, without being read into memory.
// Windows: a sparse file needs an attribute set first; the HTTP test of an endless index runs there.
#[cfg(unix)]
#[test]
fn an_endless_index_on_a_share_is_refused_at_its_cap() {
    let signed = Signed::new();
    signed.publish(&[]).assert_code(0);
    fs::File::create(signed.index())
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    let run = signed.env.run(&["releases"]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("is larger than 4194304 bytes"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_expired_index_is_refused() {
    let signed = Signed::new();
    signed.publish(&["--valid-days", "0"]).assert_code(0);
    refused(&signed, "expired 0 day(s) ago");
}

#[test]
fn an_archive_changed_after_publishing_is_refused_and_nothing_is_installed() {
    // The header at the end, and the packed data of the files: every unpacked file is checked
    // against the signed manifest, so a change anywhere is caught before the swap.
    for at in [Position::Last, Position::Middle] {
        let signed = Signed::new();
        signed.publish(&[]).assert_code(0);
        let archive = signed.env.share.join("26.2.1/Client/zips/Client.7z");
        let mut bytes = fs::read(&archive).unwrap();
        let index = match at {
            Position::Last => bytes.len() - 1,
            Position::Middle => bytes.len() / 2,
        };
        bytes[index] ^= 0x01;
        fs::write(&archive, bytes).unwrap();
        let before = client_files(&signed.env.root);
        let run = signed
            .env
            .run(&["install", "--server-version", "26.2.0.1234"]);
        run.assert_code(3);
        assert!(run.stderr.contains("Client.7z"), "{at:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("checksum mismatch")
                || run.stderr.contains("is not a valid 7-Zip archive"),
            "{at:?}: {}",
            run.stderr
        );
        assert_eq!(client_files(&signed.env.root), before, "{at:?}");
    }
}

#[derive(Debug, Clone, Copy)]
enum Position {
    Last,
    Middle,
}

#[test]
fn a_kit_added_without_publishing_is_not_installable() {
    let signed = Signed::new();
    signed.publish(&[]).assert_code(0);
    crate::common::Share::new(&signed.env.share).add_kit("26.2.3", crate::common::GUI, "1500");
    let run = signed.env.run(&["releases"]);
    assert!(
        run.stdout.contains("the signed index does not list it"),
        "{}",
        run.stdout
    );
}

#[test]
fn verify_lists_what_differs_from_the_manifest() {
    let signed = Signed::new();
    signed.publish(&[]).assert_code(0);
    signed
        .env
        .run(&["install", "--server-version", "26.2.0.1234"])
        .assert_code(0);
    let run = signed.env.run(&["verify"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("IBEX GUI 26.2.1.1302: matches the manifest of release 26.2.1"),
        "{}",
        run.stdout
    );

    let gui = signed.env.gui_dir();
    fs::write(gui.join("plugins/launcher.jar"), "patched\n").unwrap();
    fs::remove_file(gui.join("configuration/config.ini")).unwrap();
    fs::write(gui.join("stray.txt"), "?").unwrap();
    let run = signed.env.run(&["verify", "--json"]);
    run.assert_code(3);
    let doc = run.json();
    let gui_doc = &doc["components"][0];
    assert_eq!(
        gui_doc["changed"],
        serde_json::json!(["plugins/launcher.jar"])
    );
    assert_eq!(
        gui_doc["missing"],
        serde_json::json!(["configuration/config.ini"])
    );
    assert_eq!(gui_doc["extra"], serde_json::json!(["stray.txt"]));
    assert_eq!(doc["clean"], false);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "minisign is a Linux program here; the index it signs is the same bytes on Windows"
)]
fn an_index_signed_with_the_minisign_tool_is_accepted() {
    if !minisign() {
        return;
    }
    let signed = Signed::new();
    signed.publish(&[]).assert_code(0);
    let keys = signed.env.dir.path().join("minisign-keys");
    fs::create_dir_all(&keys).unwrap();
    let (public, secret) = (keys.join("team.pub"), keys.join("team.key"));
    let out = Command::new("minisign")
        .args(["-G", "-W", "-p"])
        .arg(&public)
        .arg("-s")
        .arg(&secret)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "minisign -G: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    sign_with_minisign(&secret, &signed.index());
    let team = fs::read_to_string(&public).unwrap();
    signed.trust(&[team.lines().last().unwrap()]);
    signed
        .env
        .run(&["install", "--server-version", "26.2.0.1234"])
        .assert_code(0);
}

fn sign_with_minisign(secret: &Path, index: &Path) {
    let out = Command::new("minisign")
        .args(["-S", "-s"])
        .arg(secret)
        .arg("-m")
        .arg(index)
        .args(["-t", "signed by the release team with minisign"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "minisign -S: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The files of the manifest the index entry `kit` lists, read from `share` and checked.
pub fn manifest_of(share: &Path, kit: &serde_json::Value) -> Vec<FileEntry> {
    let listed: ManifestRef = serde_json::from_value(kit["manifest"].clone()).unwrap();
    let bytes = fs::read(share.join(&listed.path)).unwrap();
    manifest::decode(&bytes, &listed).unwrap()
}
