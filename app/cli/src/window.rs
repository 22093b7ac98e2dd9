//! The two commands that open a window: no command at all (the main window) and
//! `check --prompt` (the mismatch pop-up). Their log goes to a file, since nobody sees stderr.

use std::fs::{self, OpenOptions};
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::{Context, Result};
use ibex_updater_core::catalog::Catalog;
use ibex_updater_core::config::paths;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::error::UpdateError;
use ibex_updater_core::usecase::launch;
use ibex_updater_core::usecase::logon::{self, Logon};
use ibex_updater_core::usecase::prompt::{
    self, DEFAULT_REMIND_AFTER, Decision, PromptMemory, Quiet,
};
use ibex_updater_core::usecase::status::Status;
use ibex_updater_core::usecase::survey::{self, ServerRequest, Survey};
use ibex_updater_window::{self as gui, Backend, PromptApp, PromptOutcome};

use crate::args::{Cli, Command, ServerArgs};
use crate::exit::{code, exit_code, verdict_code};
use crate::settings;

pub fn opens_window(cli: &Cli) -> bool {
    match &cli.command {
        None => true,
        Some(Command::Check(args)) => args.prompt,
        // Started from a shortcut, where nobody reads stderr.
        Some(Command::Launch(_)) => !cli.json,
        Some(_) => false,
    }
}

/// `<data folder>/logs/ibex-updater.log`, appended to, for IT. `IBEX_UPDATER_LOG` sets the level.
pub fn init_file_logging() {
    let dir = paths::data_dir().join("logs");
    let path = dir.join("ibex-updater.log");
    let file = fs::create_dir_all(&dir)
        .and_then(|()| OpenOptions::new().create(true).append(true).open(&path));
    let filter = tracing_subscriber::EnvFilter::try_from_env("IBEX_UPDATER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match file {
        Ok(file) => builder
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .init(),
        Err(e) => {
            builder.with_writer(std::io::stderr).init();
            tracing::warn!("could not open the log file {}: {e}", path.display());
        }
    }
}

/// Opens the main window and returns when it closes.
pub fn open(cli: &Cli) -> Result<u8> {
    let settings = match settings::resolve(cli) {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!("{e:#}");
            // Started from the Start menu, nobody reads stderr: say it in a dialog too.
            rfd::MessageDialog::new()
                .set_level(rfd::MessageLevel::Error)
                .set_title("IBEX Updater cannot start")
                .set_description(format!("{e:#}"))
                .show();
            return Err(e);
        }
    };
    tracing::info!(
        "opening the window (release source {:?}, install root {})",
        settings.source_location,
        settings.install_root.path().display()
    );
    gui::run_window(Backend::new(settings, paths::data_dir())).map_err(|e| no_window(&e))?;
    Ok(code::SUCCESS)
}

fn no_window(e: &gui::WindowError) -> anyhow::Error {
    anyhow::anyhow!(
        "could not open the window: {e}. Without a display, use the commands instead (ibex-updater --help)"
    )
}

/// `check --prompt`: says nothing and exits 0 when the client matches; otherwise, unless the user
/// skipped this release or asked to be reminded later, asks in a small window. Exits 0 after a
/// successful update, else with the verdict's code (or 5 when the instrument did not answer).
pub fn prompt(cli: &Cli, settings: &Settings, args: &ServerArgs) -> Result<u8> {
    prompt_for(cli, settings, &args.request())
}

fn prompt_for(cli: &Cli, settings: &Settings, request: &ServerRequest) -> Result<u8> {
    let Survey {
        catalog,
        server,
        status,
    } = survey::survey(settings, request)?;
    let server_version = match server.version {
        Ok(Some(version)) => version,
        Ok(None) => {
            return Err(UpdateError::NeedsServer {
                command: "check --prompt",
            }
            .into());
        }
        Err(e) => {
            // An instrument that is down is no reason to interrupt the user.
            let e = anyhow::Error::from(e);
            tracing::warn!("not prompting: {e:#}");
            eprintln!("error: {e:#}");
            return Ok(exit_code(&e));
        }
    };
    let name = server
        .instrument
        .map_or_else(|| format!("a server running {server_version}"), |i| i.name);
    let worst = status.worst();
    Ok(match offer(cli, settings, &name, catalog, status, false)? {
        Asked::Quiet(_) | Asked::Silent => verdict_code(worst),
        Asked::Answered(PromptOutcome::Updated) => code::SUCCESS,
        Asked::Answered(PromptOutcome::UpdatedStartGui) => {
            let (_, started) = launch::start_gui(&settings.install_root, None, &[])?;
            tracing::info!("{started:?}");
            code::SUCCESS
        }
        Asked::Answered(
            PromptOutcome::RemindLater | PromptOutcome::Skipped | PromptOutcome::Dismissed,
        ) => verdict_code(worst),
    })
}

/// What came of offering the update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Not asked: nothing to do, or the user's earlier answer stands.
    Quiet(Quiet),
    /// Not asked: `--silent` never asks.
    Silent,
    Answered(PromptOutcome),
}

impl Asked {
    pub fn id(&self) -> &'static str {
        match self {
            Asked::Quiet(Quiet::Matches) => "matches",
            Asked::Quiet(Quiet::Skipped) => "skipped-before",
            Asked::Quiet(Quiet::Postponed) => "reminding-later",
            Asked::Silent => "silent",
            Asked::Answered(PromptOutcome::Updated | PromptOutcome::UpdatedStartGui) => "updated",
            Asked::Answered(PromptOutcome::RemindLater) => "remind-later",
            Asked::Answered(PromptOutcome::Skipped) => "skipped",
            Asked::Answered(PromptOutcome::Dismissed) => "dismissed",
        }
    }
}

/// Shows the pop-up about `status` unless the user's earlier answers or `--silent` say not to.
pub fn offer(
    cli: &Cli,
    settings: &Settings,
    name: &str,
    catalog: Catalog,
    status: Status,
    launching: bool,
) -> Result<Asked> {
    let worst = status.worst();
    let memory_path = PromptMemory::path();
    let memory = PromptMemory::load_from(&memory_path);
    let can_skip = match prompt::decide(&status, name, &memory, SystemTime::now()) {
        Decision::Quiet(why) => {
            tracing::info!("{name}: not prompting ({why:?}); verdict {worst}");
            return Ok(Asked::Quiet(why));
        }
        Decision::Ask { can_skip } => can_skip,
    };
    if cli.silent {
        tracing::info!("{name}: {worst}, but --silent never prompts");
        return Ok(Asked::Silent);
    }
    let remind_after = settings
        .policy
        .check_interval()
        .unwrap_or(DEFAULT_REMIND_AFTER);
    let notes = settings
        .source()
        .ok()
        .and_then(|source| survey::target_notes(source, &status));
    tracing::info!("{name}: {worst}; asking the user");
    let mut app = PromptApp::new(
        Backend::new(settings.clone(), paths::data_dir()),
        name.to_string(),
        catalog,
        status,
        can_skip,
        remind_after,
        memory_path,
    )
    .with_notes(notes);
    if launching {
        app = app.launching();
    }
    let outcome = gui::run_prompt(app)
        .map_err(|e| no_window(&e))
        .context("could not ask about the update")?;
    tracing::info!("the user chose {outcome:?}");
    Ok(Asked::Answered(outcome))
}

/// `check --prompt --logon`, which the MSI registers to run at every logon (see
/// [`logon::decide`]); when it does not ask, it exits 0 quietly.
pub fn logon_check(cli: &Cli, settings: &Settings, args: &ServerArgs) -> Result<u8> {
    let profile = logon::catch_up_profile(settings);
    tracing::info!("logon check: genie_python's IPython profile: {profile:?}");
    match logon::decide(
        settings,
        &args.request(),
        &paths::data_dir(),
        SystemTime::now(),
    ) {
        Logon::Off => tracing::info!("logon check: auto_check is off in the machine policy"),
        Logon::RanRecently(interval) => {
            tracing::info!("logon check: already ran within {interval:?}");
        }
        Logon::NoInstrument => tracing::info!("logon check: no instrument is known yet"),
        Logon::Ask(request) => return prompt_for(cli, settings, &request),
    }
    Ok(code::SUCCESS)
}
