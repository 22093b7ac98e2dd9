//! Unpacking a kit that a signed index lists file by file: only the files the staged tree still
//! needs are written, each checked against the manifest's size and SHA-256, and the solid blocks
//! that hold none of them are not read at all.
//!
//! Why this is safe without checking the whole archive's SHA-256 first: nothing reaches the
//! staged tree unless the manifest lists it, every file is cut off one byte past the size the
//! manifest gives it, and a file whose SHA-256 differs fails the install before the swap. The
//! signed manifest vouches for every byte that is installed, which is what the archive's hash
//! would have vouched for; the archive's header (what the reader must parse before it can check
//! anything) is read within [`crate::archive::MEMORY_LIMIT_KB`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use sevenz_rust2::{Archive, ArchiveEntry, BlockDecoder, Password};

use super::extract::{check_entry, describe, set_unix_mode};
use super::file_checks::FileChecks;
use crate::archive::MEMORY_LIMIT_KB;
use crate::client::component::Component;
use crate::error::UpdateError;
use crate::fsx::Syncer;
use crate::index::FileEntry;
use crate::progress::{Progress, Stage};

/// Bytes decoded before they are written and handed to the hashing thread.
const CHUNK: usize = 1 << 18;

/// What was unpacked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unpacked {
    pub files: u64,
    pub bytes: u64,
    /// Solid blocks decoded, of all the archive's blocks.
    pub blocks_read: usize,
    pub blocks: usize,
}

/// Unpacks into `dest` the files of `archive` named in `needed`. `listed` is the kit's manifest
/// by path: the archive may hold nothing else.
pub fn unpack_listed(
    archive: &Path,
    dest: &Path,
    listed: &HashMap<&str, &FileEntry>,
    needed: &HashSet<&str>,
    component: Component,
    progress: &dyn Progress,
    syncer: Option<&Syncer>,
) -> Result<Unpacked, UpdateError> {
    let shown = archive.display().to_string();
    let corrupt = |e: sevenz_rust2::Error| UpdateError::CorruptArchive {
        path: shown.clone(),
        detail: describe(&e),
    };
    let mut file = File::open(archive).map_err(UpdateError::io("open", archive))?;
    let contents = Archive::read_with_memory_limit(&mut file, &Password::empty(), MEMORY_LIMIT_KB)
        .map_err(corrupt)?;
    check_against_manifest(&contents, &shown, listed, needed)?;
    for entry in contents.files.iter().filter(|e| e.is_directory) {
        let path = dest.join(check_entry(entry).unwrap_or_default());
        fs::create_dir_all(&path).map_err(UpdateError::io("create", &path))?;
    }

    let total = needed
        .iter()
        .filter_map(|p| listed.get(p))
        .map(|e| e.size)
        .sum();
    progress.stage(component, Stage::Extract, Some(total));
    let checks = FileChecks::start().map_err(UpdateError::io("hash", archive))?;
    let mut writer = ListedWriter {
        archive: &shown,
        dest,
        listed,
        needed,
        progress,
        syncer,
        checks: &checks,
        done: Unpacked {
            blocks: contents.blocks.len(),
            ..Unpacked::default()
        },
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let password = Password::empty();
    for block in 0..contents.blocks.len() {
        let mut decoder = BlockDecoder::new_with_memory_limit(
            threads,
            MEMORY_LIMIT_KB,
            block,
            &contents,
            &password,
            &mut file,
        );
        decoder.set_thread_count(threads);
        let Some(last_needed) = decoder
            .entries()
            .iter()
            .rposition(|e| e.has_stream && writer.is_needed(e))
        else {
            continue;
        };
        writer.done.blocks_read += 1;
        let mut index = 0;
        let mut failure = None;
        let result = decoder.for_each_entries(&mut |entry: &ArchiveEntry, data: &mut dyn Read| {
            let at = index;
            index += 1;
            if writer.is_needed(entry)
                && let Err(e) = writer.write(entry, data)
            {
                failure = Some(e);
                return Err(sevenz_rust2::Error::Other(Cow::Borrowed(
                    "unpacking stopped",
                )));
            }
            // Past the block's last needed file, the rest of it is not decoded.
            Ok(at < last_needed)
        });
        if let Some(e) = failure {
            return Err(e);
        }
        result.map_err(corrupt)?;
    }
    // Empty files belong to no block.
    let empty: Vec<&ArchiveEntry> = contents
        .files
        .iter()
        .zip(&contents.stream_map.file_block_index)
        .filter(|(e, block)| block.is_none() && writer.is_needed(e))
        .map(|(e, _)| e)
        .collect();
    for entry in empty {
        writer.write(entry, &mut io::empty())?;
    }
    let done = writer.done;
    match checks.finish() {
        None => Ok(done),
        Some(mismatch) => Err(UpdateError::ChecksumMismatch {
            path: format!("{} in {shown}", mismatch.name),
            expected: mismatch.expected,
            actual: mismatch.actual,
        }),
    }
}

/// The archive must hold exactly the files the manifest lists, at the sizes it gives, and no
/// entry that is a link or leaves the folder.
fn check_against_manifest(
    contents: &Archive,
    shown: &str,
    listed: &HashMap<&str, &FileEntry>,
    needed: &HashSet<&str>,
) -> Result<(), UpdateError> {
    let corrupt = |detail: String| UpdateError::CorruptArchive {
        path: shown.to_string(),
        detail,
    };
    let mut present = HashSet::new();
    for entry in &contents.files {
        check_entry(entry).map_err(|reason| UpdateError::UnsafeArchiveEntry {
            archive: shown.to_string(),
            entry: entry.name.clone(),
            reason,
        })?;
        if entry.is_directory {
            continue;
        }
        let name = manifest_name(entry);
        match listed.get(name.as_str()) {
            None => {
                return Err(corrupt(format!(
                    "it holds '{name}', which the signed manifest does not list"
                )));
            }
            Some(listed) if listed.size != entry.size && needed.contains(name.as_str()) => {
                return Err(corrupt(format!(
                    "'{name}' is {} bytes in it, and {} in the signed manifest",
                    entry.size, listed.size
                )));
            }
            Some(_) => {}
        }
        present.insert(name);
    }
    if let Some(missing) = needed.iter().find(|p| !present.contains(**p)) {
        return Err(corrupt(format!(
            "it lacks '{missing}', which the signed manifest lists"
        )));
    }
    Ok(())
}

/// An entry's path as the manifest writes it.
fn manifest_name(entry: &ArchiveEntry) -> String {
    entry.name.replace('\\', "/")
}

/// Writes the needed entries, each checked against the manifest.
struct ListedWriter<'a> {
    archive: &'a str,
    dest: &'a Path,
    listed: &'a HashMap<&'a str, &'a FileEntry>,
    needed: &'a HashSet<&'a str>,
    progress: &'a dyn Progress,
    syncer: Option<&'a Syncer>,
    /// Hashes each file on another thread while the next is decoded.
    checks: &'a FileChecks,
    done: Unpacked,
}

impl ListedWriter<'_> {
    fn is_needed(&self, entry: &ArchiveEntry) -> bool {
        !entry.is_directory && self.needed.contains(manifest_name(entry).as_str())
    }

    fn write(&mut self, entry: &ArchiveEntry, data: &mut dyn Read) -> Result<(), UpdateError> {
        let name = manifest_name(entry);
        let Some(&listed) = self.listed.get(name.as_str()) else {
            return Err(UpdateError::CorruptArchive {
                path: self.archive.to_string(),
                detail: format!("it holds '{name}', which the signed manifest does not list"),
            });
        };
        let relative = check_entry(entry).map_err(|reason| UpdateError::UnsafeArchiveEntry {
            archive: self.archive.to_string(),
            entry: entry.name.clone(),
            reason,
        })?;
        let path = self.dest.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
        }
        let mut out = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(out) => out,
            Err(e) => return Err(UpdateError::io("create", &path)(e)),
        };
        // One byte past the listed size is enough to tell that a file is too long.
        let mut data = data.take(listed.size.saturating_add(1));
        let mut size = 0u64;
        loop {
            let mut buf = self.checks.buffer(CHUNK);
            let n = fill(&mut data, &mut buf).map_err(|e| UpdateError::CorruptArchive {
                path: self.archive.to_string(),
                detail: format!("'{name}' could not be decoded: {e}"),
            })?;
            if n == 0 {
                break;
            }
            if self.progress.cancelled() {
                return Err(UpdateError::Cancelled);
            }
            buf.truncate(n);
            out.write_all(&buf)
                .map_err(UpdateError::io("write", &path))?;
            self.checks.bytes(buf);
            size += n as u64;
            self.done.bytes += n as u64;
            self.progress.advance(self.done.bytes);
        }
        if size != listed.size {
            return Err(UpdateError::CorruptArchive {
                path: self.archive.to_string(),
                detail: format!(
                    "'{name}' unpacks to {size} bytes, and the signed manifest lists {}",
                    listed.size
                ),
            });
        }
        self.checks.end(name.clone(), listed.sha256.clone());
        set_unix_mode(&path, entry)?;
        self.done.files += 1;
        match self.syncer {
            Some(syncer) => syncer.sync(out, path),
            None => Ok(()),
        }
    }
}

/// Reads into `buf` until it is full or `data` ends; returns how much it holds.
fn fill(data: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match data.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
