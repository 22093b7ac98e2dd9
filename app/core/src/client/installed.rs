//! What is installed: read from VERSION.txt and BUILD_NUMBER.txt in each component's folder.

use std::path::Path;

use crate::client::version::ClientVersion;
use crate::client::version_file;

/// The version installed in `dir`; `None` when nothing recognisable is installed there.
pub fn version_in(dir: &Path) -> Option<ClientVersion> {
    match version_file::read(dir) {
        Ok(version) => version,
        Err(e) => {
            tracing::warn!("{e}; treating it as not installed");
            None
        }
    }
}
