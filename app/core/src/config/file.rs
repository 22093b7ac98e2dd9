//! Reading the updater's own settings files (the policy, the user's settings): capped, and UTF-8
//! as TOML must be, so that a damaged or hostile file is named as not valid rather than read.

use std::path::Path;

use crate::error::UpdateError;
use crate::fsx;

/// The text of the file at `path`, which the messages call `what`; `Ok(None)` when there is none.
pub fn read_config(what: &'static str, path: &Path) -> Result<Option<String>, UpdateError> {
    let invalid = |detail: String| UpdateError::BadConfigFile {
        what,
        path: path.to_path_buf(),
        detail,
    };
    // A file that cannot be used at all (a folder, a FIFO, a device) is as bad a settings file
    // as one that is not TOML: named, exit 2.
    let bytes = fsx::read_file_capped(path, fsx::cap::OWN_FILE).map_err(|e| match e {
        UpdateError::TooLarge { cap, .. } => invalid(format!("it is larger than {cap} bytes")),
        UpdateError::Io { cause, .. } if cause.kind() == std::io::ErrorKind::InvalidInput => {
            invalid(cause.to_string())
        }
        other => other,
    })?;
    bytes
        .map(|bytes| {
            String::from_utf8(bytes).map_err(|e| invalid(format!("it is not UTF-8 text ({e})")))
        })
        .transpose()
}
