//! SHA-256 as the updater writes it everywhere: lower-case hex, with the byte count beside it.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::UpdateError;

/// The finished hash in lower-case hex.
pub fn hex(hasher: Sha256) -> String {
    format!("{:x}", hasher.finalize())
}

/// Size and SHA-256 of everything `data` yields.
pub fn of_reader(data: &mut dyn Read) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let size = io::copy(data, &mut hasher)?;
    Ok((size, hex(hasher)))
}

/// Size and SHA-256 of the file at `path`.
pub fn of_file(path: &Path) -> Result<(u64, String), UpdateError> {
    let mut file = File::open(path).map_err(UpdateError::io("read", path))?;
    of_reader(&mut file).map_err(UpdateError::io("read", path))
}
