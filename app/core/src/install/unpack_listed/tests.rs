//! Unpacking against a kit's file list (here, by SHA-256, as a signed manifest lists it), from real
//! 7-Zip archives written here.

use sevenz_rust2::ArchiveWriter;

use super::*;
use crate::digest;
use crate::progress::NoProgress;

fn sha(bytes: &[u8]) -> String {
    digest::of_reader(&mut &bytes[..]).unwrap().1
}

/// An archive holding `files`, in a folder that is removed with the returned guard.
fn archive(files: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kit.7z");
    let mut writer = ArchiveWriter::create(&path).unwrap();
    for (name, content) in files {
        writer
            .push_archive_entry(ArchiveEntry::new_file(name), Some(*content))
            .unwrap();
    }
    writer.finish().unwrap();
    (dir, path)
}

fn entry(path: &str, content: &[u8]) -> Wanted {
    Wanted {
        path: path.into(),
        size: content.len() as u64,
        check: digest::Check::Sha256(sha(content)),
    }
}

/// Unpacks `archive` into a new folder, as the manifest `manifest` lists it, writing `needed`.
fn unpack(
    archive: &Path,
    manifest: &[Wanted],
    needed: &[&str],
) -> (tempfile::TempDir, Result<Unpacked, UpdateError>) {
    let dest = tempfile::tempdir().unwrap();
    let listed: HashMap<&str, &Wanted> = manifest.iter().map(|e| (e.path.as_str(), e)).collect();
    let needed: HashSet<&str> = needed.iter().copied().collect();
    let result = unpack_listed(
        archive,
        dest.path(),
        &listed,
        &needed,
        Component::IbexGui,
        &NoProgress,
        None,
    )
    .map(|(unpacked, _)| unpacked);
    (dest, result)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for e in fs::read_dir(&at).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap();
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn only_the_needed_files_are_written_and_each_is_checked() {
    let (_dir, path) = archive(&[
        ("a/one.jar", b"one"),
        ("a/two.jar", b"two"),
        ("b.ini", b"x=1"),
    ]);
    let manifest = [
        entry("a/one.jar", b"one"),
        entry("a/two.jar", b"two"),
        entry("b.ini", b"x=1"),
    ];
    let (dest, result) = unpack(&path, &manifest, &["a/two.jar", "b.ini"]);
    let done = result.unwrap();
    assert_eq!((done.files, done.bytes), (2, 6));
    assert_eq!(files_in(dest.path()), ["a/two.jar", "b.ini"]);
    assert_eq!(fs::read(dest.path().join("a/two.jar")).unwrap(), b"two");
}

#[test]
fn an_entry_the_manifest_does_not_list_refuses_the_archive_before_anything_is_written() {
    let (_dir, path) = archive(&[("a/one.jar", b"one"), ("extra.dll", b"not signed")]);
    let (dest, result) = unpack(&path, &[entry("a/one.jar", b"one")], &["a/one.jar"]);
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("'extra.dll', which the signed manifest does not list"),
        "{message}"
    );
    assert!(files_in(dest.path()).is_empty());
}

#[test]
fn a_needed_file_of_another_size_than_listed_refuses_the_archive_before_anything_is_written() {
    let (_dir, path) = archive(&[("a/one.jar", b"one, longer"), ("b.jar", b"b")]);
    let manifest = [entry("a/one.jar", b"one"), entry("b.jar", b"b")];
    let (dest, result) = unpack(&path, &manifest, &["a/one.jar", "b.jar"]);
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("'a/one.jar' is 11 bytes in it, and 3 in the signed manifest"),
        "{message}"
    );
    assert!(files_in(dest.path()).is_empty());
}

#[test]
fn a_needed_file_with_other_bytes_of_the_listed_size_fails_its_check() {
    let (_dir, path) = archive(&[("a/one.jar", b"ONE")]);
    let (_dest, result) = unpack(&path, &[entry("a/one.jar", b"one")], &["a/one.jar"]);
    match result {
        Err(UpdateError::ChecksumMismatch {
            path,
            expected,
            actual,
        }) => {
            assert!(path.starts_with("a/one.jar in "), "{path}");
            assert_eq!(
                (expected, actual),
                (
                    format!("SHA-256 {}", sha(b"one")),
                    format!("SHA-256 {}", sha(b"ONE"))
                )
            );
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
}

#[test]
fn a_file_the_manifest_lists_but_the_archive_lacks_refuses_it() {
    let (_dir, path) = archive(&[("a/one.jar", b"one")]);
    let manifest = [entry("a/one.jar", b"one"), entry("gone.jar", b"gone")];
    let (_dest, result) = unpack(&path, &manifest, &["a/one.jar", "gone.jar"]);
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("it lacks 'gone.jar', which the signed manifest lists"),
        "{message}"
    );
}
