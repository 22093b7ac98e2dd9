//! The 7-Zip reader, opened with the updater's limits: whatever an archive's header claims, the
//! reader takes no more memory than a real kit needs.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use sevenz_rust2::{ArchiveReader, Error, Password};

/// The most memory the reader may take for an archive's header, or for a decoder's dictionary:
/// a hostile header could otherwise ask for any amount. 7-Zip's own maximum compression uses a
/// 64 MiB dictionary.
pub const MEMORY_LIMIT_KB: usize = 512 << 10;

/// Opens the 7-Zip archive at `path` within [`MEMORY_LIMIT_KB`].
pub fn open(path: &Path) -> Result<ArchiveReader<File>, Error> {
    let file =
        crate::fsx::open_file(path).map_err(|e| Error::FileOpen(e, path.display().to_string()))?;
    open_reader(file)
}

/// Opens the 7-Zip archive that `reader` reads within [`MEMORY_LIMIT_KB`].
pub fn open_reader<R: Read + Seek>(reader: R) -> Result<ArchiveReader<R>, Error> {
    ArchiveReader::new_with_memory_limit(reader, Password::empty(), MEMORY_LIMIT_KB)
}
