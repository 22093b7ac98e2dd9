//! Step 1 of an install: copy the archive into the staging folder, hashing it in the same pass.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::digest;
use crate::error::UpdateError;
use crate::progress::Progress;
use crate::source::ArchiveStream;

const CHUNK: usize = 1 << 20;

/// Copies `stream` to `dest`, returning the SHA-256 (lower-case hex) of what was written.
///
/// `expected_len` (from the source's listing) catches a stream that ends early;
/// `expected_sha256` is checked before the caller trusts the file.
pub fn copy_and_hash(
    mut stream: ArchiveStream,
    origin: &str,
    dest: &Path,
    expected_len: Option<u64>,
    expected_sha256: Option<&str>,
    progress: &dyn Progress,
) -> Result<String, UpdateError> {
    let mut out = File::create(dest).map_err(UpdateError::io("create", dest))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut copied = 0u64;
    loop {
        let n = match stream.reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(UpdateError::SourceUnreachable {
                    location: origin.to_string(),
                    source: e,
                });
            }
        };
        if progress.cancelled() {
            return Err(UpdateError::Cancelled);
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(UpdateError::io("write", dest))?;
        copied += n as u64;
        progress.advance(copied);
    }
    // No fsync: a staged archive is only read back by this process, and recovery discards
    // staging after a crash anyway.
    let expected_len = expected_len.or(stream.len);
    if let Some(expected) = expected_len.filter(|&e| e != copied) {
        return Err(UpdateError::Truncated {
            path: origin.to_string(),
            expected,
            actual: copied,
        });
    }
    let actual = digest::hex(hasher);
    if let Some(expected) = expected_sha256.filter(|e| !e.eq_ignore_ascii_case(&actual)) {
        return Err(UpdateError::ChecksumMismatch {
            path: origin.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(actual)
}
