//! The first step of an install from a share: copy the archive into the staging folder, hashing
//! it in the same pass.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use super::ArchiveStream;
use crate::digest::HashingReader;
use crate::error::UpdateError;
use crate::progress::Progress;

const CHUNK: usize = 1 << 20;

/// Copies `stream` to `dest`, returning the SHA-256 (lower-case hex) of what was written.
///
/// `expected_len` (from the source's listing) catches a stream that ends early;
/// `expected_sha256` is checked before the caller trusts the file.
pub fn copy_and_hash(
    stream: ArchiveStream,
    origin: &str,
    dest: &Path,
    expected_len: Option<u64>,
    expected_sha256: Option<&str>,
    progress: &dyn Progress,
) -> Result<String, UpdateError> {
    let mut out = File::create(dest).map_err(UpdateError::io("create", dest))?;
    let mut reader = HashingReader::new(stream.reader);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(UpdateError::SourceUnreachable {
                    location: origin.to_string(),
                    cause: e,
                });
            }
        };
        if progress.cancelled() {
            return Err(UpdateError::Cancelled);
        }
        out.write_all(&buf[..n])
            .map_err(UpdateError::io("write", dest))?;
        progress.advance(reader.len());
    }
    // No fsync: a staged archive is only read back by this process, and recovery discards
    // staging after a crash anyway.
    let (copied, actual) = reader.finish();
    if let Some(expected) = expected_len.or(stream.len).filter(|&e| e != copied) {
        return Err(UpdateError::Truncated {
            path: origin.to_string(),
            expected,
            actual: copied,
        });
    }
    if let Some(expected) = expected_sha256.filter(|e| !e.eq_ignore_ascii_case(&actual)) {
        return Err(UpdateError::ChecksumMismatch {
            path: origin.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(actual)
}
