//! Which account the updater runs as, and whether a file under the install root was written by
//! another one. The install root is writable by every user of the machine, while IT runs the
//! updater as root or SYSTEM: a privileged run must not act on state another account left there
//! (see the README's trust model).

use std::fs::Metadata;

/// Whether this run is privileged: root on Linux. On Windows the updater cannot yet tell an
/// elevated run or a file's owner without unsafe code; there every run treats the install root's
/// state as the README's trust model says for any account (links refused, the journal held to
/// the updater's own folders, every reused file proven by its hash).
#[cfg(target_os = "linux")]
pub fn is_privileged() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(not(target_os = "linux"))]
pub fn is_privileged() -> bool {
    false
}

/// For a privileged run, the account (uid) that owns the file `meta` describes, when it is
/// another than this run's; `None` when this run may act on it.
#[cfg(target_os = "linux")]
pub fn foreign_owner(meta: &Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    (is_privileged() && meta.uid() != me).then_some(meta.uid())
}

#[cfg(not(target_os = "linux"))]
pub fn foreign_owner(_meta: &Metadata) -> Option<u32> {
    None
}
