//! One install at a time per install root: an OS file lock, released when the process ends,
//! however it ends.

use std::fs::{self, File, TryLockError};
use std::io::{Seek, Write};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::clock;
use crate::error::UpdateError;
use crate::fsx;
use crate::install::layout::InstallRoot;

#[derive(Debug)]
pub struct InstallLock {
    // Held for its lock; dropping the file releases it.
    _file: File,
}

impl InstallLock {
    /// Takes the lock, waiting up to `wait` for another updater to finish.
    pub fn acquire(root: &InstallRoot, wait: Duration) -> Result<Self, UpdateError> {
        let path = root.lock_path();
        root.check_state_folders()?;
        fs::create_dir_all(root.state_dir())
            .map_err(UpdateError::io("create", root.state_dir()))?;
        // Again, now that it is there: a link made meanwhile is caught before anything is written.
        root.check_state_folders()?;
        // Never through a link planted at its name: the note below would overwrite its target.
        let mut file =
            fsx::open_state_for_writing(&path, false).map_err(UpdateError::io("open", &path))?;
        let deadline = clock::deadline(wait);
        let mut announced = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    if !announced {
                        tracing::warn!(
                            "another ibex-updater ({}) is busy with {}; waiting",
                            holder(&path),
                            root.path().display()
                        );
                        announced = true;
                    }
                    thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(UpdateError::Locked {
                        root: root.path().to_path_buf(),
                        holder: holder(&path),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(UpdateError::io("lock", &path)(e)),
            }
        }
        // Record who holds it, for the message a second updater shows.
        file.set_len(0).map_err(UpdateError::io("write", &path))?;
        file.rewind().map_err(UpdateError::io("write", &path))?;
        write!(file, "process {}", std::process::id()).map_err(UpdateError::io("write", &path))?;
        Ok(InstallLock { _file: file })
    }

    /// Takes the lock only if it is free right now.
    pub fn try_acquire(root: &InstallRoot) -> Option<Self> {
        Self::acquire(root, Duration::ZERO).ok()
    }
}

fn holder(path: &Path) -> String {
    // Windows locks are mandatory, so the holder's note may be unreadable there.
    match fsx::read_state_capped(path, 1 << 10) {
        Ok(Some(bytes)) if !String::from_utf8_lossy(&bytes).trim().is_empty() => {
            String::from_utf8_lossy(&bytes).trim().to_string()
        }
        _ => "another process".to_string(),
    }
}
