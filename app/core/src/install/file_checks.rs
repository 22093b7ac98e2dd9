//! The SHA-256 of each unpacked file, computed on a thread of its own while the next files are
//! decoded and written, and compared with the signed manifest. Files are handed over in batches.
//! The install asks for the verdict before anything is swapped in.

use std::sync::mpsc;
use std::thread;

use sha2::{Digest, Sha256};

use crate::digest;

/// What the hashing thread is handed, in order.
enum Piece {
    Bytes(Vec<u8>),
    /// The file whose bytes came before this ends here, and should have this SHA-256.
    End {
        name: String,
        sha256: String,
    },
}

/// The first file whose hash was not the manifest's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub name: String,
    pub expected: String,
    pub actual: String,
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
    thread: Option<thread::JoinHandle<Option<Mismatch>>>,
}

impl FileChecks {
    pub fn start() -> std::io::Result<FileChecks> {
        let (batches, to_hash) = mpsc::sync_channel::<Vec<Piece>>(IN_FLIGHT);
        let (hashed, empty) = mpsc::sync_channel::<Vec<u8>>(RETURNED);
        let thread = thread::Builder::new()
            .name("unpack-sha256".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                let mut first_mismatch = None;
                for piece in to_hash.into_iter().flatten() {
                    match piece {
                        Piece::Bytes(buf) => {
                            hasher.update(&buf);
                            let _ = hashed.try_send(buf);
                        }
                        Piece::End { name, sha256 } => {
                            let actual = digest::hex(std::mem::take(&mut hasher));
                            if actual != sha256 && first_mismatch.is_none() {
                                first_mismatch = Some(Mismatch {
                                    name,
                                    expected: sha256,
                                    actual,
                                });
                            }
                        }
                    }
                }
                first_mismatch
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

    /// The current file ends: it should have `sha256`.
    pub fn end(&mut self, name: String, sha256: String) {
        self.push(Piece::End { name, sha256 }, 0);
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

    /// Waits for every file handed over to be hashed; the first that did not match, if any. A
    /// thread that died unexpectedly counts as a mismatch, so that nothing unchecked goes in.
    pub fn finish(mut self) -> Option<Mismatch> {
        let (rest, _) = std::mem::take(&mut self.pending);
        self.send(rest);
        self.batches = None;
        match self.thread.take().map(thread::JoinHandle::join) {
            Some(Ok(verdict)) => verdict,
            _ => Some(Mismatch {
                name: "(the hashing thread stopped)".into(),
                expected: String::new(),
                actual: String::new(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        digest::of_reader(&mut &bytes[..]).unwrap().1
    }

    #[test]
    fn each_file_is_checked_and_the_first_mismatch_is_reported() {
        let mut checks = FileChecks::start().unwrap();
        for (name, parts, claimed) in [
            ("a", vec![&b"he"[..], b"llo"], sha(b"hello")),
            ("b", vec![&b"world"[..]], sha(b"other")),
            ("c", vec![], sha(b"")),
            ("d", vec![&b"x"[..]], sha(b"y")),
        ] {
            for part in parts {
                let mut buf = checks.buffer(part.len());
                buf.copy_from_slice(part);
                checks.bytes(buf);
            }
            checks.end(name.into(), claimed);
        }
        let mismatch = checks.finish().unwrap();
        assert_eq!(mismatch.name, "b");
        assert_eq!(mismatch.actual, sha(b"world"));
    }

    #[test]
    fn files_that_all_match_pass() {
        let mut checks = FileChecks::start().unwrap();
        let mut buf = checks.buffer(3);
        buf.copy_from_slice(b"abc");
        checks.bytes(buf);
        checks.end("abc".into(), sha(b"abc"));
        assert_eq!(checks.finish(), None);
    }
}
