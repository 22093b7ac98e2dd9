//! The bridge between an install running on a background thread and the window: the worker
//! reports through the core's [`Progress`] trait, the window reads a snapshot each frame, and the
//! Cancel button sets a flag that the worker checks between chunks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use eframe::egui;

use ibex_updater_core::client::component::Component;
use ibex_updater_core::progress::{Progress, Stage};

#[derive(Debug)]
pub struct JobProgress {
    state: Mutex<Snapshot>,
    cancel: AtomicBool,
    ctx: egui::Context,
}

/// What the window shows of a running job.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub current: Option<(Component, Stage)>,
    /// Stages already finished, in order.
    pub finished: Vec<(Component, Stage)>,
    pub total: Option<u64>,
    pub done: u64,
    pub stage_started: Option<Instant>,
    pub cancel_requested: bool,
}

impl Snapshot {
    pub fn fraction(&self) -> Option<f32> {
        self.total
            .filter(|&t| t > 0)
            .map(|t| (self.done as f64 / t as f64).clamp(0.0, 1.0) as f32)
    }

    /// Bytes per second over the stage so far.
    pub fn rate(&self) -> Option<f64> {
        let elapsed = self.stage_started?.elapsed().as_secs_f64();
        (elapsed > 0.05 && self.done > 0).then(|| self.done as f64 / elapsed)
    }

    pub fn time_left(&self) -> Option<Duration> {
        let left = self.total?.saturating_sub(self.done) as f64;
        let rate = self.rate()?;
        Duration::try_from_secs_f64(left / rate).ok()
    }

    /// "12.0 of 24.0 MB · 35.2 MB/s · 1 s left", as far as it is known.
    pub fn describe(&self) -> String {
        let mut parts = vec![match self.total {
            Some(total) => format!("{} of {}", megabytes(self.done), megabytes(total)),
            None if self.done > 0 => megabytes(self.done),
            None => String::new(),
        }];
        if let Some(rate) = self.rate() {
            parts.push(format!("{}/s", megabytes(rate as u64)));
        }
        if let Some(left) = self.time_left() {
            parts.push(format!("{} s left", left.as_secs().max(1)));
        }
        parts.retain(|p| !p.is_empty());
        parts.join(" · ")
    }
}

impl Snapshot {
    /// The bar the window and the pop-up draw: "IBEX GUI: copying — 12.0 MB of 24.0 MB · ...",
    /// moving by itself while the size is unknown.
    pub fn bar(&self) -> egui::ProgressBar {
        let stage = self.current.map_or_else(
            || "starting".to_string(),
            |(c, s)| format!("{c}: {}", s.label()),
        );
        let detail = self.describe();
        let text = if detail.is_empty() {
            stage
        } else {
            format!("{stage} — {detail}")
        };
        match self.fraction() {
            Some(f) => egui::ProgressBar::new(f),
            None => egui::ProgressBar::new(0.0).animate(true),
        }
        .text(text)
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

impl JobProgress {
    pub fn new(ctx: &egui::Context) -> JobProgress {
        JobProgress {
            state: Mutex::new(Snapshot::default()),
            cancel: AtomicBool::new(false),
            ctx: ctx.clone(),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.lock().clone()
    }

    pub fn request_cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.lock().cancel_requested = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        // A panic on the worker must not take the window down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Progress for JobProgress {
    fn stage(&self, component: Component, stage: Stage, total: Option<u64>) {
        let mut state = self.lock();
        if let Some(previous) = state.current.take() {
            state.finished.push(previous);
        }
        state.current = Some((component, stage));
        state.total = total;
        state.done = 0;
        state.stage_started = Some(Instant::now());
        drop(state);
        self.ctx.request_repaint();
    }

    fn advance(&self, done: u64) {
        self.lock().done = done;
        self.ctx.request_repaint();
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_bytes_and_keeps_finished_stages() {
        let progress = JobProgress::new(&egui::Context::default());
        progress.stage(Component::IbexGui, Stage::Download, Some(24_000_000));
        progress.advance(12_000_000);
        let snapshot = progress.snapshot();
        assert_eq!(snapshot.fraction(), Some(0.5));
        assert!(
            snapshot.describe().starts_with("12.0 MB of 24.0 MB"),
            "{}",
            snapshot.describe()
        );
        progress.stage(Component::IbexGui, Stage::Extract, None);
        let snapshot = progress.snapshot();
        assert_eq!(
            snapshot.finished,
            vec![(Component::IbexGui, Stage::Download)]
        );
        assert_eq!(snapshot.fraction(), None);
        assert!(!progress.cancelled());
        progress.request_cancel();
        assert!(progress.cancelled());
        assert!(progress.snapshot().cancel_requested);
    }
}
