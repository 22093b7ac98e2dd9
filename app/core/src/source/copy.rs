//! The first step of an install from a share: copy the archive into the staging folder, hashing
//! it in the same pass.

use std::fs::File;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::ArchiveStream;
use crate::digest::{self, HashThread};
use crate::error::UpdateError;
use crate::fsx;
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
    let out = File::create(dest).map_err(UpdateError::io("create", dest))?;
    let writer =
        HashThread::start(Sha256::new(), Some(out)).map_err(UpdateError::io("write", dest))?;
    let mut reader = stream.reader;
    let mut copied = 0u64;
    while !writer.failed() {
        let mut buf = writer.buffer(CHUNK);
        let n =
            fsx::fill(&mut reader, &mut buf).map_err(|cause| UpdateError::SourceUnreachable {
                location: origin.to_string(),
                cause,
            })?;
        if n == 0 {
            break;
        }
        if progress.cancelled() {
            return Err(UpdateError::Cancelled);
        }
        buf.truncate(n);
        copied += n as u64;
        writer.update(buf);
        progress.advance(copied);
    }
    // No fsync: a staged archive is only read back by this process, and recovery discards
    // staging after a crash anyway.
    let written = writer.finish();
    if let Some(e) = written.error {
        return Err(UpdateError::io("write", dest)(e));
    }
    let actual = digest::hex(written.hasher);
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
