//! How long-running work reports progress, and hears that it should stop. The CLI draws a bar or
//! writes log lines; the window polls the same reports and has a Cancel button.

use crate::client::component::Component;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Copying or downloading the archive into staging (bytes of the archive).
    Download,
    /// Unpacking into the staging folder (bytes unpacked).
    Extract,
    /// Version files, user files, checks on the unpacked tree.
    Verify,
    /// Moving the old version aside and the new one in.
    Swap,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Download => "copying",
            Stage::Extract => "extracting",
            Stage::Verify => "verifying",
            Stage::Swap => "swapping in",
        }
    }
}

pub trait Progress: Send + Sync {
    /// A new stage starts; `total` is its size in bytes when known.
    fn stage(&self, component: Component, stage: Stage, total: Option<u64>);
    /// Bytes done so far in the current stage.
    fn advance(&self, done: u64);
    /// Whether the front end asked to stop. Work checks this between chunks, and stops with
    /// [`crate::error::UpdateError::Cancelled`] while nothing has been swapped in yet; from the
    /// swap on, the transaction runs to its end (it takes milliseconds).
    fn cancelled(&self) -> bool {
        false
    }
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: Component, _: Stage, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
}
