//! The window: a thin front end over the core. Everything that touches the disk, the network or
//! Channel Access runs on named background threads ([`backend`]); the window polls their replies
//! each frame and asks for a repaint when one arrives, so it never blocks.

mod app;
mod backend;
mod components_view;
mod confirm_rollback;
mod explain;
mod first_run;
mod fleet_view;
mod history_view;
mod instrument_picker;
mod job_progress;
mod notices;
mod prompt_app;
mod release_picker;
mod renderer;
mod settings_view;
mod theme;
mod typed_server;
mod unsigned_source;
mod wait_for_close;

use std::sync::Arc;

pub use app::{FIRST_FRAME_LOG, UpdaterApp};
pub use backend::Backend;
/// Why a window could not be opened (no display, no usable renderer).
pub use eframe::Error as WindowError;
pub use explain::sentence;
pub use job_progress::JobProgress;
pub use prompt_app::{OutcomeHandle, PromptApp, PromptOutcome};

/// The renderer, its options and the window's icon, shared by the main window and the pop-up.
fn native_options(title: &str, size: [f32; 2]) -> eframe::NativeOptions {
    let mut viewport = eframe::egui::ViewportBuilder::default()
        .with_title(title)
        .with_app_id("ibex-updater")
        .with_inner_size(size)
        .with_min_inner_size([size[0] * 0.6, size[1] * 0.6]);
    match eframe::icon_data::from_png_bytes(include_bytes!("../../../assets/ibex-updater.png")) {
        Ok(icon) => viewport = viewport.with_icon(Arc::new(icon)),
        Err(e) => tracing::warn!("the window icon could not be decoded: {e}"),
    }
    eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: renderer::wgpu_options(),
        ..Default::default()
    }
}

/// Opens the main window and returns when it is closed.
pub fn run_window(backend: Backend) -> Result<(), eframe::Error> {
    let title = if backend.is_demo() {
        "IBEX Updater (demo)"
    } else {
        "IBEX Updater"
    };
    eframe::run_native(
        title,
        native_options(title, [980.0, 640.0]),
        Box::new(|_| Ok(Box::new(UpdaterApp::new(backend)))),
    )
}

/// Opens the mismatch pop-up and returns what the user chose.
pub fn run_prompt(app: PromptApp) -> Result<PromptOutcome, eframe::Error> {
    let outcome = app.outcome_handle();
    eframe::run_native(
        "IBEX client update",
        native_options("IBEX client update", [560.0, 320.0]),
        Box::new(|_| Ok(Box::new(app))),
    )?;
    Ok(outcome.take())
}
