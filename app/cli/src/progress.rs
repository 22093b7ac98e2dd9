//! Progress on a terminal (a bar) or in a log (one line per stage, for silent installs).

use ibex_updater_core::client::component::Component;
use ibex_updater_core::progress::{Progress, Stage};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug)]
pub struct TerminalProgress {
    bar: ProgressBar,
}

impl TerminalProgress {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        TerminalProgress { bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for TerminalProgress {
    fn stage(&self, component: Component, stage: Stage, total: Option<u64>) {
        let template = if total.is_some() {
            "{msg:26} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta} left"
        } else {
            "{msg:26} {spinner}"
        };
        // Message, style and length first, one reset last: every frame drawn shows one stage.
        self.bar
            .set_message(format!("{component}: {}", stage.label()));
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
        self.bar.set_length(total.unwrap_or(0));
        self.bar.reset();
    }

    fn advance(&self, done: u64) {
        self.bar.set_position(done);
    }
}

/// Plain log lines: one per stage.
#[derive(Debug, Default)]
pub struct LogProgress;

impl Progress for LogProgress {
    fn stage(&self, component: Component, stage: Stage, total: Option<u64>) {
        match total {
            Some(bytes) => tracing::info!("{component}: {} ({bytes} bytes)", stage.label()),
            None => tracing::info!("{component}: {}", stage.label()),
        }
    }

    fn advance(&self, _done: u64) {}
}
