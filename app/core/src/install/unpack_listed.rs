//! Unpacking a kit's archive where it lies: only the files the staged tree still needs are
//! written, each checked against its size and its checksum (the signed manifest's SHA-256, or the
//! CRC32 the archive's header records), and the solid blocks that hold none of them are not read
//! at all.
//!
//! Why this is safe without checking the whole archive's SHA-256 first: nothing reaches the
//! staged tree unless the kit's file list has it, every file is cut off one byte past the size
//! listed, and a file whose checksum differs fails the install before the swap. With a signed
//! index the manifest vouches for every byte that is installed, which is what the archive's hash
//! would have vouched for; the archive's header (what the reader must parse before it can check
//! anything) is read within [`crate::archive::MEMORY_LIMIT_KB`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use sevenz_rust2::{Archive, ArchiveEntry, BlockDecoder, Password};

use super::extract::{check_entry, describe, set_unix_mode};
use super::file_checks::{Checked, FileChecks};
use super::kit_files::Wanted;
use crate::archive::MEMORY_LIMIT_KB;
use crate::client::component::Component;
use crate::digest::Sums;
use crate::error::UpdateError;
use crate::fsx::{self, Durable};
use crate::progress::{Progress, Stage};

/// Bytes decoded before they are written and handed to the hashing thread.
const CHUNK: usize = 1 << 18;
/// Bytes of the archive read at once.
const ARCHIVE_BUFFER: usize = 1 << 20;
/// Solid blocks decoded at once, at most.
const MAX_WORKERS: usize = 4;

/// What was unpacked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unpacked {
    pub files: u64,
    pub bytes: u64,
    /// Solid blocks decoded, of all the archive's blocks.
    pub blocks_read: usize,
    pub blocks: usize,
}

/// Unpacks into `dest` the files of `archive` named in `needed`, with both sums of each. `listed`
/// is the kit's file list by path: the archive may hold nothing else.
pub fn unpack_listed(
    archive: &Path,
    dest: &Path,
    listed: &HashMap<&str, &Wanted>,
    needed: &HashSet<&str>,
    component: Component,
    progress: &dyn Progress,
    durable: Option<&Durable>,
) -> Result<(Unpacked, Vec<(String, Sums)>), UpdateError> {
    let shown = archive.display().to_string();
    let corrupt = |e: sevenz_rust2::Error| UpdateError::CorruptArchive {
        path: shown.clone(),
        detail: describe(&e),
    };
    let mut file = fsx::open_file(archive).map_err(UpdateError::io("open", archive))?;
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
    let shared = Shared {
        archive: &shown,
        archive_path: archive,
        dest,
        listed,
        needed,
        progress,
        durable,
        written: Mutex::new(HashSet::new()),
        sums: Mutex::new(Vec::new()),
        bytes: AtomicU64::new(0),
        failed: AtomicBool::new(false),
    };
    let blocks: Vec<usize> = (0..contents.blocks.len())
        .filter(|&block| {
            let first = contents.stream_map.block_first_file_index[block];
            contents.files[first..]
                .iter()
                .zip(&contents.stream_map.file_block_index[first..])
                .take_while(|(_, b)| b.is_none_or(|b| b == block))
                .any(|(e, b)| b.is_some() && shared.is_needed(e))
        })
        .collect();
    let mut done = unpack_blocks_in_parallel(&shared, &contents, &blocks)?;
    done.blocks = contents.blocks.len();

    // Empty files belong to no block.
    let mut checks = FileChecks::start().map_err(UpdateError::io("hash", archive))?;
    let mut writer = ListedWriter::new(&shared, &mut checks);
    let empty: Vec<&ArchiveEntry> = contents
        .files
        .iter()
        .zip(&contents.stream_map.file_block_index)
        .filter(|(e, block)| block.is_none() && shared.is_needed(e))
        .map(|(e, _)| e)
        .collect();
    for entry in empty {
        writer.write(entry, &mut io::empty())?;
    }
    done.files += writer.done.files;
    done.bytes = shared.bytes.load(Ordering::Relaxed);
    shared.checked(checks)?;
    let sums = shared
        .sums
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Ok((done, sums))
}

/// Decodes `blocks` on a few threads at once, each with its own handle on the archive and its
/// own hashing thread: solid blocks are independent, and one LZMA stream keeps one core busy.
fn unpack_blocks_in_parallel(
    shared: &Shared<'_>,
    contents: &Archive,
    blocks: &[usize],
) -> Result<Unpacked, UpdateError> {
    let cores = crate::worker::cores();
    let workers = cores.min(MAX_WORKERS).min(blocks.len()).max(1);
    // Each decoder's dictionary is bounded so that all of them together stay within the limit.
    let memory_kb = MEMORY_LIMIT_KB / workers;
    let threads_each = (cores / workers).max(1) as u32;
    let next = AtomicUsize::new(0);
    let each: Vec<usize> = (0..workers).collect();
    let outcomes = crate::worker::map("unpack", &each, workers, |_| {
        unpack_blocks(shared, contents, blocks, &next, threads_each, memory_kb)
    })
    .into_iter()
    .map(|outcome| {
        outcome.unwrap_or_else(|| {
            Err(UpdateError::io("unpack", shared.archive_path)(
                io::Error::other("an unpacking thread panicked"),
            ))
        })
    });
    let mut done = Unpacked::default();
    for outcome in outcomes {
        let part = outcome?;
        done.files += part.files;
        done.blocks_read += part.blocks_read;
    }
    Ok(done)
}

/// One unpacking thread: takes the next block still to do until there are none, or another
/// thread has failed.
fn unpack_blocks(
    shared: &Shared<'_>,
    contents: &Archive,
    blocks: &[usize],
    next: &AtomicUsize,
    threads: u32,
    memory_kb: usize,
) -> Result<Unpacked, UpdateError> {
    let path = shared.archive_path;
    // The decoder reads a few KiB at a time: a large buffer saves thousands of system calls.
    let mut file = BufReader::with_capacity(
        ARCHIVE_BUFFER,
        fsx::open_file(path).map_err(UpdateError::io("open", path))?,
    );
    let mut checks = FileChecks::start().map_err(UpdateError::io("hash", path))?;
    let mut writer = ListedWriter::new(shared, &mut checks);
    let outcome = (|| {
        while !shared.failed.load(Ordering::Relaxed) {
            let Some(&block) = blocks.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            unpack_block(&mut writer, contents, block, &mut file, threads, memory_kb)?;
        }
        Ok(())
    })();
    let done = writer.done;
    let verdict = shared.checked(checks);
    if outcome.is_err() || verdict.is_err() {
        shared.failed.store(true, Ordering::Relaxed);
    }
    outcome.and(verdict).map(|()| done)
}

/// Decodes one solid block as far as its last needed file, writing the needed ones.
fn unpack_block(
    writer: &mut ListedWriter<'_>,
    contents: &Archive,
    block: usize,
    file: &mut BufReader<File>,
    threads: u32,
    memory_kb: usize,
) -> Result<(), UpdateError> {
    let password = Password::empty();
    let mut decoder =
        BlockDecoder::new_with_memory_limit(threads, memory_kb, block, contents, &password, file);
    decoder.set_thread_count(threads);
    let Some(last_needed) = decoder
        .entries()
        .iter()
        .rposition(|e| e.has_stream && writer.shared.is_needed(e))
    else {
        return Ok(());
    };
    writer.done.blocks_read += 1;
    let mut index = 0;
    let mut failure = None;
    let result = decoder.for_each_entries(&mut |entry: &ArchiveEntry, data: &mut dyn Read| {
        let at = index;
        index += 1;
        if writer.shared.is_needed(entry)
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
    result.map(drop).map_err(|e| UpdateError::CorruptArchive {
        path: writer.shared.archive.to_string(),
        detail: describe(&e),
    })
}

/// The archive must hold exactly the files the manifest lists, at the sizes it gives, and no
/// entry that is a link or leaves the folder.
fn check_against_manifest(
    contents: &Archive,
    shown: &str,
    listed: &HashMap<&str, &Wanted>,
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

/// What every unpacking thread shares.
struct Shared<'a> {
    /// The archive, for messages.
    archive: &'a str,
    archive_path: &'a Path,
    dest: &'a Path,
    listed: &'a HashMap<&'a str, &'a Wanted>,
    needed: &'a HashSet<&'a str>,
    progress: &'a dyn Progress,
    durable: Option<&'a Durable>,
    written: Mutex<HashSet<String>>,
    /// Both sums of every file written, from every thread's checks.
    sums: Mutex<Vec<(String, Sums)>>,
    /// Bytes written by all the threads, for the progress shown.
    bytes: AtomicU64,
    /// Set by a thread that failed, so that the others stop.
    failed: AtomicBool,
}

impl Shared<'_> {
    /// The verdict of a hashing thread, as the install's error; the sums it found are kept.
    fn checked(&self, checks: FileChecks) -> Result<(), UpdateError> {
        let Checked { mismatch, sums } = checks.finish();
        self.sums
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(sums);
        match mismatch {
            None => Ok(()),
            Some(mismatch) => Err(UpdateError::ChecksumMismatch {
                path: format!("{} in {}", mismatch.name, self.archive),
                expected: mismatch.expected,
                actual: mismatch.actual,
            }),
        }
    }

    /// Whether `entry` is a file still to be written. An archive that names a file twice gets
    /// only its first copy written (and checked).
    fn is_needed(&self, entry: &ArchiveEntry) -> bool {
        let name = manifest_name(entry);
        !entry.is_directory
            && self.needed.contains(name.as_str())
            && !self
                .written
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&name)
    }
}

/// Writes needed entries, each checked against the manifest on `checks`' thread.
struct ListedWriter<'a> {
    shared: &'a Shared<'a>,
    checks: &'a mut FileChecks,
    done: Unpacked,
    /// The folder the last file went into, which exists: files come folder by folder.
    made_dir: Option<PathBuf>,
}

impl<'a> ListedWriter<'a> {
    fn new(shared: &'a Shared<'a>, checks: &'a mut FileChecks) -> Self {
        ListedWriter {
            shared,
            checks,
            done: Unpacked::default(),
            made_dir: None,
        }
    }

    fn write(&mut self, entry: &ArchiveEntry, data: &mut dyn Read) -> Result<(), UpdateError> {
        let name = manifest_name(entry);
        let Some(&listed) = self.shared.listed.get(name.as_str()) else {
            return Err(UpdateError::CorruptArchive {
                path: self.shared.archive.to_string(),
                detail: format!("it holds '{name}', which the signed manifest does not list"),
            });
        };
        let relative = check_entry(entry).map_err(|reason| UpdateError::UnsafeArchiveEntry {
            archive: self.shared.archive.to_string(),
            entry: entry.name.clone(),
            reason,
        })?;
        let path = self.shared.dest.join(relative);
        if let Some(parent) = path.parent()
            && self.made_dir.as_deref() != Some(parent)
        {
            fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
            self.made_dir = Some(parent.to_path_buf());
        }
        let mut out = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(out) => out,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(UpdateError::UnsafeArchiveEntry {
                    archive: self.shared.archive.to_string(),
                    entry: entry.name.clone(),
                    reason: "a name the archive has already written",
                });
            }
            Err(e) => return Err(UpdateError::io("create", &path)(e)),
        };
        self.shared
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone());
        // One byte past the listed size is enough to tell that a file is too long.
        let mut data = data.take(listed.size.saturating_add(1));
        let mut size = 0u64;
        loop {
            // Sized to what is left, so that a small file's buffer is not zeroed to a full chunk.
            let left = listed.size.saturating_add(1).saturating_sub(size);
            let mut buf = self
                .checks
                .buffer(usize::try_from(left).map_or(CHUNK, |left| left.min(CHUNK)));
            let n = fsx::fill(&mut data, &mut buf).map_err(|e| UpdateError::CorruptArchive {
                path: self.shared.archive.to_string(),
                detail: format!("'{name}' could not be decoded: {e}"),
            })?;
            if n == 0 {
                break;
            }
            if self.shared.progress.cancelled() {
                return Err(UpdateError::Cancelled);
            }
            buf.truncate(n);
            out.write_all(&buf)
                .map_err(UpdateError::io("write", &path))?;
            self.checks.bytes(buf);
            size += n as u64;
            self.done.bytes += n as u64;
            let all = self.shared.bytes.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
            self.shared.progress.advance(all);
        }
        if size != listed.size {
            return Err(UpdateError::CorruptArchive {
                path: self.shared.archive.to_string(),
                detail: format!(
                    "'{name}' unpacks to {size} bytes, and the signed manifest lists {}",
                    listed.size
                ),
            });
        }
        self.checks.end(name.clone(), listed.check.clone());
        set_unix_mode(&out, &path, entry)?;
        self.done.files += 1;
        match self.shared.durable {
            Some(durable) => durable.written(out, path),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
