//! The checksums of each unpacked file, computed on a thread of its own while the next files are
//! decoded and written, and compared with what the kit lists for it (the signed manifest's
//! SHA-256, or the archive header's CRC32). Both sums of every file are kept for the tree's
//! record, so that a later install, signed or not, can find it. Files are handed over in batches.
//! The install asks for the verdict before anything is swapped in.

use std::sync::mpsc;

use crate::digest::{Check, Sums, SumsHasher};
use crate::worker::{self, Worker};

/// What the hashing thread is handed, in order.
enum Piece {
    Bytes(Vec<u8>),
    /// The file whose bytes came before this ends here, and should pass `check`.
    End {
        name: String,
        check: Check,
    },
}

/// The first file whose checksum was not the kit's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub name: String,
    pub expected: String,
    pub actual: String,
}

/// What the hashing thread found.
#[derive(Debug, Default)]
pub struct Checked {
    pub mismatch: Option<Mismatch>,
    /// Every file's sums, by its path.
    pub sums: Vec<(String, Sums)>,
}

/// Batches in flight between the two threads.
const IN_FLIGHT: usize = 4;
/// A batch goes to the hashing thread once it holds this many bytes or pieces: one message per
/// file would wake the thread 20,000 times for a client's 20,000 small files.
const BATCH_BYTES: usize = 1 << 20;
const BATCH_PIECES: usize = 256;
/// Emptied buffers kept for reuse.
const RETURNED: usize = 64;

pub struct FileChecks {
    batches: Option<mpsc::SyncSender<Vec<Piece>>>,
    /// Pieces not yet sent, and their bytes.
    pending: (Vec<Piece>, usize),
    empty: mpsc::Receiver<Vec<u8>>,
    thread: Option<Worker<Checked>>,
}

impl FileChecks {
    pub fn start() -> std::io::Result<FileChecks> {
        let (batches, to_hash) = mpsc::sync_channel::<Vec<Piece>>(IN_FLIGHT);
        let (hashed, empty) = mpsc::sync_channel::<Vec<u8>>(RETURNED);
        let thread = worker::spawn("unpack-checks", move || {
            let mut hasher = SumsHasher::default();
            let mut checked = Checked::default();
            for piece in to_hash.into_iter().flatten() {
                match piece {
                    Piece::Bytes(buf) => {
                        hasher.update(&buf);
                        let _ = hashed.try_send(buf);
                    }
                    Piece::End { name, check } => {
                        let sums = std::mem::take(&mut hasher).finish();
                        if !sums.pass(&check) && checked.mismatch.is_none() {
                            checked.mismatch = Some(Mismatch {
                                name: name.clone(),
                                expected: check.to_string(),
                                actual: sums.as_checked_by(&check),
                            });
                        }
                        checked.sums.push((name, sums));
                    }
                }
            }
            checked
        })?;
        Ok(FileChecks {
            batches: Some(batches),
            pending: (Vec::new(), 0),
            empty,
            thread: Some(thread),
        })
    }

    /// A buffer of `len` bytes to fill: one handed back, or a new one.
    pub fn buffer(&self, len: usize) -> Vec<u8> {
        let mut buf = self.empty.try_recv().unwrap_or_default();
        buf.resize(len, 0);
        buf
    }

    /// The next bytes of the current file.
    pub fn bytes(&mut self, buf: Vec<u8>) {
        let len = buf.len();
        self.push(Piece::Bytes(buf), len);
    }

    /// The current file ends: it should pass `check`.
    pub fn end(&mut self, name: String, check: Check) {
        self.push(Piece::End { name, check }, 0);
    }

    fn push(&mut self, piece: Piece, len: usize) {
        self.pending.0.push(piece);
        self.pending.1 += len;
        if self.pending.1 >= BATCH_BYTES || self.pending.0.len() >= BATCH_PIECES {
            let (batch, _) = std::mem::take(&mut self.pending);
            self.send(batch);
        }
    }

    fn send(&self, batch: Vec<Piece>) {
        if let Some(batches) = &self.batches {
            // The thread only stops when `batches` is dropped, so this cannot fail.
            let _ = batches.send(batch);
        }
    }

    /// Waits for every file handed over to be hashed. A thread that died unexpectedly counts as
    /// a mismatch, so that nothing unchecked goes in.
    pub fn finish(mut self) -> Checked {
        let (rest, _) = std::mem::take(&mut self.pending);
        self.send(rest);
        self.batches = None;
        self.thread
            .take()
            .and_then(Worker::join)
            .unwrap_or_else(|| Checked {
                mismatch: Some(Mismatch {
                    name: "(the hashing thread stopped)".into(),
                    expected: String::new(),
                    actual: String::new(),
                }),
                sums: Vec::new(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sums_of;

    fn sha(bytes: &[u8]) -> Check {
        Check::Sha256(sums_of(bytes).sha256)
    }

    #[test]
    fn each_file_is_checked_and_the_first_mismatch_is_reported() {
        let mut checks = FileChecks::start().unwrap();
        for (name, parts, claimed) in [
            ("a", vec![&b"he"[..], b"llo"], sha(b"hello")),
            ("b", vec![&b"world"[..]], sha(b"other")),
            ("c", vec![], Check::Crc32(0)),
            ("d", vec![&b"x"[..]], Check::Crc32(sums_of(b"y").crc32)),
        ] {
            for part in parts {
                let mut buf = checks.buffer(part.len());
                buf.copy_from_slice(part);
                checks.bytes(buf);
            }
            checks.end(name.into(), claimed);
        }
        let checked = checks.finish();
        let mismatch = checked.mismatch.unwrap();
        assert_eq!(mismatch.name, "b");
        assert_eq!(mismatch.actual, sums_of(b"world").as_checked_by(&sha(b"")));
        assert_eq!(checked.sums.len(), 4);
        assert_eq!(checked.sums[0], ("a".to_string(), sums_of(b"hello")));
    }

    #[test]
    fn files_that_all_match_pass_by_sha256_or_crc32() {
        let mut checks = FileChecks::start().unwrap();
        for check in [sha(b"abc"), Check::Crc32(sums_of(b"abc").crc32)] {
            let mut buf = checks.buffer(3);
            buf.copy_from_slice(b"abc");
            checks.bytes(buf);
            checks.end("abc".into(), check);
        }
        assert_eq!(checks.finish().mismatch, None);
    }
}
