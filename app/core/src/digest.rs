//! SHA-256 as the updater writes it everywhere (lower-case hex, with the byte count beside it),
//! and the one reader that hashes what passes through it, so that a file is copied, downloaded
//! or inspected and hashed in the same pass.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::UpdateError;

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

/// Size and SHA-256 of everything `data` yields.
pub fn of_reader(data: &mut dyn Read) -> io::Result<(u64, String)> {
    let mut reader = HashingReader::new(data);
    io::copy(&mut reader, &mut io::sink())?;
    Ok(reader.finish())
}

/// Size and SHA-256 of the file at `path`.
pub fn of_file(path: &Path) -> Result<(u64, String), UpdateError> {
    let mut file = File::open(path).map_err(UpdateError::io("read", path))?;
    of_reader(&mut file).map_err(UpdateError::io("read", path))
}
