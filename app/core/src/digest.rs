//! SHA-256 as the updater writes it everywhere (lower-case hex, with the byte count beside it),
//! and the one reader that hashes what passes through it, so that a file is copied, downloaded
//! or inspected and hashed in the same pass.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use sha2::{Digest, Sha256};

use crate::error::UpdateError;
use crate::worker::{self, Worker};

/// The finished hash in lower-case hex.
pub fn hex(hasher: Sha256) -> String {
    format!("{:x}", hasher.finalize())
}

/// Hashes and counts every byte read through it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        Self::resume(inner, Sha256::new(), 0)
    }

    /// Goes on from a hash of the `len` bytes read before, as a resumed download does.
    pub fn resume(inner: R, hasher: Sha256, len: u64) -> Self {
        HashingReader { inner, hasher, len }
    }

    /// Bytes read so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hash state and length so far, to resume from later.
    pub fn state(&self) -> (Sha256, u64) {
        (self.hasher.clone(), self.len)
    }

    /// Size and lower-case hex SHA-256 of everything read.
    pub fn finish(self) -> (u64, String) {
        (self.len, hex(self.hasher))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// How a file is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Check {
    /// The SHA-256 a signed manifest lists: the release team's bytes, whoever serves them.
    Sha256(String),
    /// The CRC32 a 7-Zip archive's header records, for a share read without a signed index. It
    /// is what 7-Zip itself checks when it unpacks: it catches damage, not a deliberate
    /// collision.
    Crc32(u32),
}

impl Check {
    /// The kind of check, for `install --json` and the README: `sha256` or `crc32`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Sha256(_) => "sha256",
            Check::Crc32(_) => "crc32",
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Sha256(sha256) => write!(f, "SHA-256 {sha256}"),
            Check::Crc32(crc) => write!(f, "CRC32 {crc:08x}"),
        }
    }
}

/// Both checksums of some bytes: what a tree's record keeps of each file, so that installs
/// signed or not can find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sums {
    pub sha256: String,
    pub crc32: u32,
}

impl Sums {
    /// Whether the bytes pass `check`.
    pub fn pass(&self, check: &Check) -> bool {
        match check {
            Check::Sha256(sha256) => self.sha256 == *sha256,
            Check::Crc32(crc) => self.crc32 == *crc,
        }
    }

    /// The sum `check` compares, as it shows it.
    pub fn as_checked_by(&self, check: &Check) -> String {
        match check {
            Check::Sha256(_) => Check::Sha256(self.sha256.clone()),
            Check::Crc32(_) => Check::Crc32(self.crc32),
        }
        .to_string()
    }
}

/// SHA-256 and CRC32 in one pass.
#[derive(Default, Clone)]
pub struct SumsHasher {
    sha256: Sha256,
    crc32: crc32fast::Hasher,
}

impl std::fmt::Debug for SumsHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SumsHasher")
    }
}

impl SumsHasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        self.crc32.update(bytes);
    }

    pub fn finish(self) -> Sums {
        Sums {
            sha256: hex(self.sha256),
            crc32: self.crc32.finalize(),
        }
    }
}

/// Both sums of `bytes`.
pub fn sums_of(bytes: &[u8]) -> Sums {
    let mut hasher = SumsHasher::default();
    hasher.update(bytes);
    hasher.finish()
}

/// Size and both sums of everything `data` yields.
pub fn sums_of_reader(data: &mut dyn Read) -> io::Result<(u64, Sums)> {
    let mut hasher = SumsHasher::default();
    let mut buf = vec![0; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hasher.finish()))
}

/// Size and SHA-256 of everything `data` yields.
pub fn of_reader(data: &mut dyn Read) -> io::Result<(u64, String)> {
    let mut reader = HashingReader::new(data);
    io::copy(&mut reader, &mut io::sink())?;
    Ok(reader.finish())
}

/// Size and SHA-256 of the file at `path`.
pub fn of_file(path: &Path) -> Result<(u64, String), UpdateError> {
    let mut file = crate::fsx::open_file(path).map_err(UpdateError::io("read", path))?;
    of_reader(&mut file).map_err(UpdateError::io("read", path))
}

/// Writing and SHA-256 on a thread of their own: the thread that receives or reads the bytes
/// hands each buffer over and goes on, instead of waiting for the disk and the hash. Buffers come
/// back to be filled again, so that a download allocates only a few.
#[derive(Debug)]
pub struct HashThread {
    full: Option<mpsc::SyncSender<Vec<u8>>>,
    empty: mpsc::Receiver<Vec<u8>>,
    failed: Arc<AtomicBool>,
    thread: Option<Worker<Written>>,
}

/// What a [`HashThread`] did.
#[derive(Debug)]
pub struct Written {
    /// The hash of every byte written (and only those).
    pub hasher: Sha256,
    pub len: u64,
    /// Why writing stopped early, if it did: nothing handed over after it was written.
    pub error: Option<io::Error>,
}

/// Buffers in flight between the two threads.
const IN_FLIGHT: usize = 4;

impl HashThread {
    /// Writes every buffer to `sink` (when there is one), then hashes it, going on from `hasher`
    /// (a fresh one, or the state of a resumed download).
    pub fn start(hasher: Sha256, sink: Option<File>) -> io::Result<HashThread> {
        let (full, to_hash) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (hashed, empty) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
        let failed = Arc::new(AtomicBool::new(false));
        let failed_here = failed.clone();
        let thread = worker::spawn("write-sha256", move || {
            let mut done = Written {
                hasher,
                len: 0,
                error: None,
            };
            let mut sink = sink;
            for buf in to_hash {
                if done.error.is_some() {
                    continue;
                }
                if let Some(Err(e)) = sink.as_mut().map(|f| f.write_all(&buf)) {
                    failed_here.store(true, Ordering::Relaxed);
                    done.error = Some(e);
                    continue;
                }
                done.hasher.update(&buf);
                done.len += buf.len() as u64;
                // The other side may have stopped taking buffers back.
                let _ = hashed.try_send(buf);
            }
            done
        })?;
        Ok(HashThread {
            full: Some(full),
            empty,
            failed,
            thread: Some(thread),
        })
    }

    /// A buffer of `len` bytes to fill: one handed back, or a new one.
    pub fn buffer(&self, len: usize) -> Vec<u8> {
        let mut buf = self.empty.try_recv().unwrap_or_default();
        buf.resize(len, 0);
        buf
    }

    /// Writes and hashes `buf` after everything handed over before it.
    pub fn update(&self, buf: Vec<u8>) {
        if let Some(full) = &self.full {
            // The thread only stops when `full` is dropped, so this cannot fail.
            let _ = full.send(buf);
        }
    }

    /// Whether a write has failed: nothing more will be written.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// What was written and its hash, once the thread has caught up.
    pub fn finish(mut self) -> Written {
        self.full = None;
        match self.thread.take().and_then(Worker::join) {
            Some(written) => written,
            _ => Written {
                hasher: Sha256::new(),
                len: 0,
                error: Some(io::Error::other("the writing thread stopped")),
            },
        }
    }
}

impl Drop for HashThread {
    /// A copy given up on early still waits for its writes: the file is closed when this returns,
    /// so that it can be deleted at once (Windows cannot delete an open file).
    fn drop(&mut self) {
        self.full = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_thread_gives_the_hash_of_everything_handed_over_in_order() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let thread = HashThread::start(Sha256::new(), None).unwrap();
        for chunk in data.chunks(100_000) {
            let mut buf = thread.buffer(chunk.len());
            buf.copy_from_slice(chunk);
            thread.update(buf);
        }
        let expected = of_reader(&mut &data[..]).unwrap().1;
        assert_eq!(hex(thread.finish().hasher), expected);
    }

    #[test]
    fn a_resumed_hash_goes_on_from_the_state_it_was_given() {
        let mut earlier = Sha256::new();
        earlier.update(b"hello ");
        let thread = HashThread::start(earlier, None).unwrap();
        let mut buf = thread.buffer(5);
        buf.copy_from_slice(b"world");
        thread.update(buf);
        assert_eq!(
            hex(thread.finish().hasher),
            of_reader(&mut &b"hello world"[..]).unwrap().1
        );
    }
}
