//! A kit's manifest: every file the updater installs from it, with its size and SHA-256.
//!
//! `publish` computes it from the archive in one read of it ([`of_kit`]), and writes it as a
//! file of its own beside the index ([`encode`]): gzip of one line per file, sorted by path,
//!
//! ```text
//! ibex-updater manifest 1
//! <sha256> <size> <path>
//! ```
//!
//! named by its own SHA-256 under `manifests/`, so that an unchanged kit keeps its manifest file
//! from one publish to the next. The index lists each by path, size, SHA-256 and file count;
//! [`fetch`] reads one only up to its listed size, checks it against the index before
//! decompressing anything, and refuses any line, count or path the index did not vouch for.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::load::MetadataRead;
use super::{FileEntry, ListedManifest, MANIFESTS_DIR, ManifestRef, validate};
use crate::client::version::Version;
use crate::client::version_file;
use crate::digest;
use crate::error::UpdateError;
use crate::install::extract;

const HEADER: &str = "ibex-updater manifest 1";
/// The longest line a manifest may hold: a SHA-256, a size, the longest path, and separators.
const MAX_LINE: u64 = 64 + 1 + 20 + 1 + validate::MAX_PATH as u64 + 1;
/// What a manifest may hold in all, decompressed, for each file it lists: about three times what
/// a real kit's lines take, so that a manifest's memory is bounded by its count, not by its
/// longest lines.
const TEXT_PER_FILE: u64 = 512;

/// What reading a kit's archive found: the archive's own size and SHA-256, and the manifest of
/// the tree it installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub size: u64,
    pub sha256: String,
    pub files: Vec<FileEntry>,
    /// Bytes read from the archive to find all that: its size, and its header once more.
    pub bytes_read: u64,
}

/// The files of `archive`, the version files the updater writes for `version`, and `kit_files`
/// (name in the tree, file on the share), which the updater copies in beside the archive; and the
/// archive's SHA-256, hashed while it is decoded, so that the archive is read once. An archive
/// the updater would refuse to install (a link, a name outside the tree, a file named twice, two
/// names that are one file on Windows) is refused here, naming the entry.
pub fn of_kit(
    archive: &Path,
    version: &Version,
    kit_files: &[(&str, PathBuf)],
) -> Result<Scanned, UpdateError> {
    let shown = archive.display().to_string();
    let corrupt = |detail: String| UpdateError::CorruptArchive {
        path: shown.clone(),
        detail,
    };
    let file = crate::fsx::open_file(archive).map_err(UpdateError::io("read", archive))?;
    let mut hashing = SequentialHash::new(file);
    let mut reader =
        crate::archive::open_reader(&mut hashing).map_err(|e| corrupt(e.to_string()))?;
    let mut files = BTreeMap::new();
    let mut failure = None;
    let result = reader.for_each_entries(|entry, data| {
        if entry.is_directory {
            return Ok(true);
        }
        let listed = listed_name(entry).and_then(|name| {
            if files.contains_key(&name) {
                return Err(format!("it names the file '{name}' twice"));
            }
            let found = digest::of_reader(data).map_err(|e| e.to_string())?;
            files.insert(name, found);
            Ok(())
        });
        match listed {
            Ok(()) => Ok(true),
            Err(why) => {
                failure = Some(why);
                Err(sevenz_rust2::Error::Other("manifest stopped".into()))
            }
        }
    });
    if let Some(detail) = failure {
        return Err(corrupt(detail));
    }
    result.map_err(|e| corrupt(e.to_string()))?;
    drop(reader);
    let (size, sha256, bytes_read) = hashing.finish().map_err(UpdateError::io("read", archive))?;
    for (name, text) in version_file::contents(version) {
        files.insert(
            name.to_string(),
            digest::of_reader(&mut text.as_bytes()).map_err(UpdateError::io("hash", archive))?,
        );
    }
    for (name, path) in kit_files {
        files.insert(name.to_string(), digest::of_file(path)?);
    }
    let files: Vec<FileEntry> = files
        .into_iter()
        .map(|(path, (size, sha256))| FileEntry { path, size, sha256 })
        .collect();
    validate::file_set(&files).map_err(corrupt)?;
    Ok(Scanned {
        size,
        sha256,
        files,
        bytes_read,
    })
}

/// The entry's name as the manifest lists it, or why an install would refuse the entry.
fn listed_name(entry: &sevenz_rust2::ArchiveEntry) -> Result<String, String> {
    let path = extract::check_entry(entry)
        .map_err(|why| format!("the entry '{}' is {why}", entry.name.escape_debug()))?;
    let name = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    validate::relative_path(&name).map_err(|why| format!("the entry {why}"))?;
    Ok(name)
}

/// The manifest file of `files` (sorted by path, as [`of_kit`] gives them), and how the index
/// lists it.
pub fn encode(files: &[FileEntry]) -> Result<(Vec<u8>, ManifestRef), UpdateError> {
    let failed = |e: io::Error| UpdateError::serialize("a manifest")(e.to_string());
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    writeln!(gz, "{HEADER}").map_err(failed)?;
    for file in files {
        writeln!(gz, "{} {} {}", file.sha256, file.size, file.path).map_err(failed)?;
    }
    let bytes = gz.finish().map_err(failed)?;
    let sha256 = digest::hex(Sha256::new_with_prefix(&bytes));
    let listed = ManifestRef {
        path: format!("{MANIFESTS_DIR}/{sha256}.txt.gz"),
        size: bytes.len() as u64,
        sha256,
        files: files.len() as u64,
    };
    Ok((bytes, listed))
}

/// The manifest `listed` names: given inline (format 1), or read from `source` (at `location`)
/// up to its listed size and within its deadline, checked against its listed SHA-256 before it
/// is decompressed.
pub fn fetch(
    source: &dyn MetadataRead,
    location: &str,
    listed: &ListedManifest,
) -> Result<Arc<[FileEntry]>, UpdateError> {
    let listed = match listed {
        ListedManifest::Inline(files) => return Ok(files.clone()),
        ListedManifest::File(listed) => listed,
    };
    let bad = |detail: String| UpdateError::BadManifest {
        location: location.to_string(),
        path: listed.path.clone(),
        detail,
    };
    let wait = source.metadata_wait(listed.size);
    let stored = source
        .read_metadata(&listed.path, listed.size, wait)?
        .ok_or_else(|| bad("it is not there".into()))?;
    decode(&stored, listed).map_err(bad).map(Arc::from)
}

/// The files of a stored manifest, which must be exactly what `listed` says it is.
pub fn decode(stored: &[u8], listed: &ManifestRef) -> Result<Vec<FileEntry>, String> {
    if stored.len() as u64 != listed.size {
        return Err(format!(
            "it has {} bytes where the index lists {}",
            stored.len(),
            listed.size
        ));
    }
    let sha256 = digest::hex(Sha256::new_with_prefix(stored));
    if sha256 != listed.sha256 {
        return Err(format!(
            "its SHA-256 is {sha256} where the index lists {}",
            listed.sha256
        ));
    }
    let limit = listed
        .files
        .saturating_mul(TEXT_PER_FILE)
        .saturating_add(HEADER.len() as u64 + 1);
    let mut text = BufReader::new(GzDecoder::new(stored)).take(limit);
    let mut line = Vec::new();
    let too_much = || {
        format!(
            "it holds more than the {limit} bytes of text {} files take",
            listed.files
        )
    };
    let mut next_line = |line: &mut Vec<u8>| -> Result<bool, String> {
        line.clear();
        let n = (&mut text)
            .take(MAX_LINE)
            .read_until(b'\n', line)
            .map_err(|e| format!("it does not decompress: {e}"))?;
        match (n, line.pop()) {
            (0, _) if text.limit() == 0 => Err(too_much()),
            (0, _) => Ok(false),
            (_, Some(b'\n')) => Ok(true),
            _ if text.limit() == 0 => Err(too_much()),
            _ => Err("a line is cut off or too long".into()),
        }
    };
    if !next_line(&mut line)? || line != HEADER.as_bytes() {
        return Err(format!("it does not start with '{HEADER}'"));
    }
    let mut files: Vec<FileEntry> = Vec::new();
    while next_line(&mut line)? {
        if files.len() as u64 == listed.files {
            return Err(format!(
                "it lists more than the {} files the index says",
                listed.files
            ));
        }
        let entry = parse_line(&line)?;
        if files.last().is_some_and(|last| last.path >= entry.path) {
            return Err(format!(
                "'{}' is out of order or listed twice",
                validate::printable(&entry.path)
            ));
        }
        files.push(entry);
    }
    if files.len() as u64 != listed.files {
        return Err(format!(
            "it lists {} files where the index says {}",
            files.len(),
            listed.files
        ));
    }
    validate::file_set(&files)?;
    Ok(files)
}

fn parse_line(line: &[u8]) -> Result<FileEntry, String> {
    let line = std::str::from_utf8(line).map_err(|_| "a line is not UTF-8".to_string())?;
    let mut parts = line.splitn(3, ' ');
    let (Some(sha256), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "'{}' is not '<sha256> <size> <path>'",
            line.escape_debug()
        ));
    };
    validate::sha256(sha256)?;
    validate::relative_path(path)?;
    let size = size
        .parse()
        .map_err(|_| format!("'{}' is not a size", size.escape_debug()))?;
    Ok(FileEntry {
        path: path.to_string(),
        size,
        sha256: sha256.to_string(),
    })
}

/// Hashes a file as the 7-Zip reader reads it, so that an archive is hashed and decoded in one
/// read. The reader reads the header at the end first, then the packed data from the start, in
/// order: bytes read in order from where the hash stands go into the hash as they pass; bytes read
/// ahead of it (the header) are kept, up to [`AHEAD`] bytes, and hashed from memory once
/// the hash reaches them; [`SequentialHash::finish`] reads whatever the hash still lacks.
#[derive(Debug)]
pub struct SequentialHash<R> {
    inner: R,
    hasher: Sha256,
    /// Every byte before this is in the hash.
    hashed: u64,
    position: u64,
    bytes_read: u64,
    /// One run of bytes read ahead of the hash: where it starts, and the bytes.
    ahead: Option<(u64, Vec<u8>)>,
}

/// The most [`SequentialHash`] keeps of what was read ahead: far more than the header of a kit
/// with a hundred thousand files.
const AHEAD: usize = 64 << 20;

impl<R: Read + Seek> SequentialHash<R> {
    pub fn new(inner: R) -> Self {
        SequentialHash {
            inner,
            hasher: Sha256::new(),
            hashed: 0,
            position: 0,
            bytes_read: 0,
            ahead: None,
        }
    }

    /// The whole file's size and SHA-256, and how many bytes were read in all.
    pub fn finish(mut self) -> io::Result<(u64, String, u64)> {
        if let Some((start, bytes)) = self.ahead.take()
            && start == self.hashed
        {
            self.hasher.update(&bytes);
            self.hashed += bytes.len() as u64;
        }
        self.inner.seek(SeekFrom::Start(self.hashed))?;
        let mut rest = HashingTail(&mut self);
        io::copy(&mut rest, &mut io::sink())?;
        Ok((self.hashed, digest::hex(self.hasher), self.bytes_read))
    }
}

/// Reads on from where the hash stands, hashing everything.
struct HashingTail<'a, R>(&'a mut SequentialHash<R>);

impl<R: Read> Read for HashingTail<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.inner.read(buf)?;
        self.0.hasher.update(&buf[..n]);
        self.0.hashed += n as u64;
        self.0.bytes_read += n as u64;
        Ok(n)
    }
}

impl<R: Read> Read for SequentialHash<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let end = self.position + n as u64;
        if self.position <= self.hashed && end > self.hashed {
            let skip = usize::try_from(self.hashed - self.position).unwrap_or(n);
            self.hasher.update(&buf[skip..n]);
            self.hashed = end;
        } else if self.position > self.hashed {
            self.keep_ahead(&buf[..n]);
        }
        self.position = end;
        self.bytes_read += n as u64;
        Ok(n)
    }
}

impl<R> SequentialHash<R> {
    /// Keeps `bytes`, read at the current position ahead of the hash, when they start or go on
    /// the run kept so far and it stays within [`AHEAD`].
    fn keep_ahead(&mut self, bytes: &[u8]) {
        let position = self.position;
        match &mut self.ahead {
            Some((start, kept)) if *start + kept.len() as u64 == position => {
                if kept.len() + bytes.len() <= AHEAD {
                    kept.extend_from_slice(bytes);
                } else {
                    self.ahead = None;
                }
            }
            _ if bytes.len() <= AHEAD => {
                self.ahead = Some((position, bytes.to_vec()));
            }
            _ => self.ahead = None,
        }
    }
}

impl<R: Seek> Seek for SequentialHash<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.position = self.inner.seek(to)?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, size: u64) -> FileEntry {
        FileEntry {
            path: path.to_string(),
            size,
            sha256: digest::hex(Sha256::new_with_prefix(path)),
        }
    }

    fn encoded(files: &[FileEntry]) -> (Vec<u8>, ManifestRef) {
        encode(files).unwrap()
    }

    /// A manifest file of `lines` as written, however wrong, listed as what it is.
    fn raw(lines: &str, files: u64) -> (Vec<u8>, ManifestRef) {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(lines.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        let listed = ManifestRef {
            path: "manifests/x.txt.gz".into(),
            size: bytes.len() as u64,
            sha256: digest::hex(Sha256::new_with_prefix(&bytes)),
            files,
        };
        (bytes, listed)
    }

    #[test]
    fn a_manifest_decodes_to_what_was_encoded_and_is_named_by_its_hash() {
        let files = vec![entry("a/b.jar", 3), entry("a/c d.txt", 0), entry("z", 7)];
        let (bytes, listed) = encoded(&files);
        assert_eq!(listed.files, 3);
        assert_eq!(listed.path, format!("manifests/{}.txt.gz", listed.sha256));
        assert_eq!(decode(&bytes, &listed).unwrap(), files);
        assert_eq!(
            encoded(&files).0,
            bytes,
            "the same files make the same file"
        );
    }

    #[test]
    fn a_manifest_that_is_not_what_the_index_lists_is_refused_before_it_is_read() {
        let (bytes, listed) = encoded(&[entry("a", 1)]);
        let mut other = bytes.clone();
        let last = other.len() - 1;
        other[last] ^= 1;
        assert!(decode(&other, &listed).unwrap_err().contains("SHA-256"));
        assert!(decode(&bytes[..10], &listed).unwrap_err().contains("bytes"));
    }

    #[test]
    fn hostile_lines_are_refused() {
        let sha = "a".repeat(64);
        for (lines, files) in [
            (format!("{HEADER}\n{sha} 1 a/./b\n"), 1),
            (format!("{HEADER}\n{sha} 1 ../x\n"), 1),
            (format!("{HEADER}\n{sha} 1 b\n{sha} 1 a\n"), 2),
            (format!("{HEADER}\n{sha} 1 a\n{sha} 1 a\n"), 2),
            (format!("{HEADER}\n{sha} 1 A\n{sha} 1 a\n"), 2),
            (format!("{HEADER}\n{sha} 1 a\n{sha} 1 a/b\n"), 2),
            (format!("{HEADER}\n{sha} -1 a\n"), 1),
            (format!("{HEADER}\n{} 1 a\n", "g".repeat(64)), 1),
            (format!("{HEADER}\n{sha} 1 a"), 1),
            (format!("{HEADER}\n{sha} 1 a\n{sha} 1 b\n"), 1),
            (format!("{HEADER}\n{sha} 1 a\n"), 2),
            (format!("something else\n{sha} 1 a\n"), 1),
            (format!("{HEADER}\n{sha} 1 {}\n", "x".repeat(10_000)), 1),
        ] {
            let (bytes, listed) = raw(&lines, files);
            assert!(decode(&bytes, &listed).is_err(), "{lines:?}");
        }
    }

    #[test]
    fn long_lines_are_cut_at_the_text_the_count_allows() {
        let sha = "a".repeat(64);
        let long = "d/".repeat(2000);
        let lines = format!("{HEADER}\n{sha} 1 {long}a\n{sha} 1 {long}b\n");
        let (bytes, listed) = raw(&lines, 2);
        assert!(
            decode(&bytes, &listed)
                .unwrap_err()
                .contains("bytes of text")
        );
    }

    #[test]
    fn a_listed_bomb_is_cut_at_the_count_the_index_gives() {
        let sha = "a".repeat(64);
        let mut lines = format!("{HEADER}\n");
        for n in 0..10_000 {
            lines.push_str(&format!("{sha} 1 f{n:05}\n"));
        }
        let (bytes, listed) = raw(&lines, 10);
        assert!(
            decode(&bytes, &listed)
                .unwrap_err()
                .contains("more than the 10")
        );
    }

    #[test]
    fn the_sequential_hash_matches_a_plain_hash_whatever_the_order_of_reads() {
        let data: Vec<u8> = (0..100_000u32).map(|n| (n % 251) as u8).collect();
        let mut reader = SequentialHash::new(io::Cursor::new(data.clone()));
        let mut buf = vec![0; 1000];
        reader.seek(SeekFrom::Start(90_000)).unwrap();
        reader.read_exact(&mut buf).unwrap();
        reader.seek(SeekFrom::Start(0)).unwrap();
        reader.read_exact(&mut buf).unwrap();
        reader.seek(SeekFrom::Start(500)).unwrap();
        reader.read_exact(&mut buf).unwrap();
        let (size, sha256, read) = reader.finish().unwrap();
        assert_eq!(
            (size, sha256),
            digest::of_reader(&mut data.as_slice()).unwrap()
        );
        assert_eq!(read, 3000 + 100_000 - 1500);
    }

    #[test]
    fn the_sequential_hash_reads_a_header_read_first_only_once() {
        let data: Vec<u8> = (0..100_000u32).map(|n| (n % 251) as u8).collect();
        let mut reader = SequentialHash::new(io::Cursor::new(data.clone()));
        let mut header = vec![0; 10_000];
        reader.seek(SeekFrom::Start(90_000)).unwrap();
        reader.read_exact(&mut header).unwrap();
        reader.seek(SeekFrom::Start(0)).unwrap();
        let mut packed = vec![0; 90_000];
        reader.read_exact(&mut packed).unwrap();
        let (size, sha256, read) = reader.finish().unwrap();
        assert_eq!(
            (size, sha256),
            digest::of_reader(&mut data.as_slice()).unwrap()
        );
        assert_eq!(read, 100_000);
    }
}
