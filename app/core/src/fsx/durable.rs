//! Making a staged tree durable before it is swapped in, so that a power cut after the commit
//! cannot leave empty files in the installed client: one way for every install ([`Durable`]),
//! done as each system does it best. On Linux one `syncfs` commits the filesystem's journal
//! once, where 20,000 `fsync`s commit it 20,000 times, and a thread asks the disk to start
//! writing every 250 ms while the tree is still being unpacked, so that the last `syncfs` has
//! little left to wait for; elsewhere files are flushed one by one, on a few threads, while the
//! next are written.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::error::UpdateError;
use crate::worker::{self, Worker};

/// Makes one staged tree durable: [`Durable::written`] for each file as it is written, then
/// [`Durable::finish`] before the swap.
#[derive(Debug)]
pub struct Durable(imp::Durable);

impl Durable {
    pub fn start(tree: &Path) -> Durable {
        Durable(imp::Durable::start(tree))
    }

    /// `file`, just written at `path`, is complete.
    pub fn written(&self, file: File, path: PathBuf) -> Result<(), UpdateError> {
        self.0.written(file, path)
    }

    /// Waits until everything under `tree` is on the disk: the files handed over, the files at
    /// `written_later` (written without being handed over), and the folders' names.
    pub fn finish(self, tree: &Path, written_later: &[PathBuf]) -> Result<(), UpdateError> {
        self.0.finish(tree, written_later)
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::time::Duration;

    use super::*;

    #[derive(Debug)]
    pub struct Durable {
        /// Stops the writeback thread when dropped.
        stop: Option<mpsc::Sender<()>>,
        writeback: Option<Worker<()>>,
    }

    /// How often the disk is asked to write what the tree holds so far.
    const EVERY: Duration = Duration::from_millis(250);

    impl Durable {
        /// Without a writeback thread (it could not start) the final sync does all the work.
        pub fn start(tree: &Path) -> Durable {
            let (stop, stopped) = mpsc::channel::<()>();
            let dir = tree.to_path_buf();
            let writeback = worker::spawn("writeback", move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    // Only a head start: a failure here is met again, and reported, by the
                    // final sync.
                    if let Err(e) = sync_filesystem_of(&dir) {
                        tracing::debug!("early writeback stopped: {e}");
                        return;
                    }
                }
            })
            .ok();
            Durable {
                stop: Some(stop),
                writeback,
            }
        }

        pub fn written(&self, _file: File, _path: PathBuf) -> Result<(), UpdateError> {
            Ok(())
        }

        pub fn finish(
            mut self,
            tree: &Path,
            _written_later: &[PathBuf],
        ) -> Result<(), UpdateError> {
            self.stop = None;
            if let Some(writeback) = self.writeback.take() {
                writeback.join();
            }
            sync_filesystem_of(tree)
        }
    }

    /// Writes everything the filesystem holding `dir` has not written yet to the disk, and waits.
    fn sync_filesystem_of(dir: &Path) -> Result<(), UpdateError> {
        File::open(dir)
            .and_then(|d| rustix::fs::syncfs(&d).map_err(io::Error::from))
            .map_err(UpdateError::io("sync", dir))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::sync::{Arc, Mutex, PoisonError};

    use super::*;

    /// Each file handed over is synced by one of a few named threads while the next are written;
    /// [`Durable::finish`] waits for them all.
    #[derive(Debug)]
    pub struct Durable {
        files: Option<mpsc::SyncSender<(File, PathBuf)>>,
        workers: Vec<Worker<Result<(), UpdateError>>>,
    }

    /// Threads that sync (a sync mostly waits for the disk, so a few overlap well).
    const THREADS: usize = 4;
    /// At most this many files wait, open, for their turn: beyond that the writer waits, so a
    /// large tree never runs out of file handles.
    const QUEUE: usize = 128;

    impl Durable {
        pub fn start(_tree: &Path) -> Durable {
            let (tx, rx) = mpsc::sync_channel::<(File, PathBuf)>(QUEUE);
            let rx = Arc::new(Mutex::new(rx));
            let workers = (0..THREADS)
                .filter_map(|n| {
                    let rx = rx.clone();
                    worker::spawn(&format!("fsync-{n}"), move || {
                        let mut first_error = Ok(());
                        loop {
                            let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                            let Ok((file, path)) = next else {
                                return first_error;
                            };
                            if let Err(e) = file.sync_all()
                                && first_error.is_ok()
                            {
                                first_error = Err(UpdateError::io("sync", path)(e));
                            }
                        }
                    })
                    .ok()
                })
                .collect();
            Durable {
                files: Some(tx),
                workers,
            }
        }

        pub fn written(&self, file: File, path: PathBuf) -> Result<(), UpdateError> {
            match &self.files {
                Some(files) if !self.workers.is_empty() => files.send((file, path)).map_err(|e| {
                    UpdateError::io("sync", e.0.1)(io::Error::other("no sync thread"))
                }),
                _ => file.sync_all().map_err(UpdateError::io("sync", path)),
            }
        }

        pub fn finish(mut self, tree: &Path, written_later: &[PathBuf]) -> Result<(), UpdateError> {
            drop(self.files.take());
            for worker in self.workers.drain(..) {
                worker.join().unwrap_or_else(|| {
                    Err(UpdateError::io("sync", tree)(io::Error::other(
                        "a sync thread panicked",
                    )))
                })?;
            }
            sync_files(written_later)?;
            sync_folders(tree)
        }
    }

    impl Drop for Durable {
        /// An install given up on still waits for the threads to let go of its files: Windows
        /// cannot delete the staged tree while one is open.
        fn drop(&mut self) {
            drop(self.files.take());
            for worker in self.workers.drain(..) {
                let _ = worker.join();
            }
        }
    }

    /// Syncs the files at `paths` that exist.
    fn sync_files(paths: &[PathBuf]) -> Result<(), UpdateError> {
        for path in paths {
            match File::options().write(true).open(path) {
                Ok(file) => file.sync_all().map_err(UpdateError::io("sync", path))?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(UpdateError::io("sync", path)(e)),
            }
        }
        Ok(())
    }
}

/// Syncs every folder under `root` (and `root`), so that the names of the files in them are on
/// the disk too. Windows cannot sync a folder, and journals its names itself.
pub fn sync_folders(root: &Path) -> Result<(), UpdateError> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(UpdateError::io("list", &dir))? {
            let entry = entry.map_err(UpdateError::io("list", &dir))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            }
        }
        #[cfg(unix)]
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(UpdateError::io("sync", &dir))?;
    }
    Ok(())
}
