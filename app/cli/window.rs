//! The two commands that open a window: no command at all (the main window) and
//! `check --prompt` (the mismatch pop-up). Their log goes to a file, since nobody sees stderr.

use std::fs::{self, OpenOptions};
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use ibex_updater::clock::{from_unix_seconds, unix_seconds};
use ibex_updater::effective::Settings;
use ibex_updater::error::UpdateError;
use ibex_updater::gui::{self, Backend, PromptApp, PromptOutcome};
use ibex_updater::paths;
use ibex_updater::prompt::{self, DEFAULT_REMIND_AFTER, Decision, PromptMemory};
use ibex_updater::status;

use crate::cli::args::{Cli, Command, ServerArgs};
use crate::cli::{Server, code, exit_code, settings, survey, verdict_code};

pub fn opens_window(cli: &Cli) -> bool {
    match &cli.command {
        None => true,
        Some(Command::Check(args)) => args.prompt,
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

fn no_window(e: &eframe::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "could not open the window: {e}. Without a display, use the commands instead (ibex-updater --help)"
    )
}

/// `check --prompt`: says nothing and exits 0 when the client matches; otherwise, unless the user
/// skipped this release or asked to be reminded later, asks in a small window. Exits 0 after a
/// successful update, else with the verdict's code (or 5 when the instrument did not answer).
pub fn prompt(cli: &Cli, settings: &Settings, args: &ServerArgs) -> Result<u8> {
    let (
        releases,
        Server {
            instrument,
            version,
        },
    ) = survey(settings, args)?;
    let server = match version {
        Ok(Some(version)) => version,
        Ok(None) => bail!(UpdateError::Usage(
            "check --prompt needs an instrument: pass --instrument NAME (or --server-version)"
                .into()
        )),
        Err(e) => {
            // An instrument that is down is no reason to interrupt the user.
            let e = anyhow::Error::from(e);
            tracing::warn!("not prompting: {e:#}");
            eprintln!("error: {e:#}");
            return Ok(exit_code(&e));
        }
    };
    let name = instrument.map_or_else(|| format!("a server running {server}"), |i| i.name);
    let status = status::evaluate(&settings.install_root, &releases, Some(&server))?;
    let worst = status.worst();
    let memory_path = PromptMemory::path();
    let memory = PromptMemory::load_from(&memory_path);
    let can_skip = match prompt::decide(&status, &name, &memory, SystemTime::now()) {
        Decision::Quiet(why) => {
            tracing::info!("{name}: not prompting ({why:?}); verdict {worst}");
            return Ok(verdict_code(worst));
        }
        Decision::Ask { can_skip } => can_skip,
    };
    if cli.silent {
        tracing::info!("{name}: {worst}, but --silent never prompts");
        return Ok(verdict_code(worst));
    }
    let remind_after = settings
        .policy
        .check_interval()
        .unwrap_or(DEFAULT_REMIND_AFTER);
    tracing::info!("{name}: {worst}; asking the user");
    let app = PromptApp::new(
        Backend::new(settings.clone(), paths::data_dir()),
        name,
        status,
        can_skip,
        remind_after,
        memory_path,
    );
    let outcome = gui::run_prompt(app)
        .map_err(|e| no_window(&e))
        .context("could not ask about the update")?;
    tracing::info!("the user chose {outcome:?}");
    Ok(match outcome {
        PromptOutcome::Updated => code::SUCCESS,
        _ => verdict_code(worst),
    })
}

/// `check --prompt --logon`, which the MSI registers to run at every logon: asks only when the
/// machine policy turns `auto_check` on, at most once per `check_interval_hours`, about the
/// instrument named, else the policy's, else the one last used. Otherwise it exits 0 quietly.
pub fn logon_check(cli: &Cli, settings: &Settings, args: &ServerArgs) -> Result<u8> {
    if settings.policy.auto_check != Some(true) {
        tracing::info!("logon check: auto_check is off in the machine policy");
        return Ok(code::SUCCESS);
    }
    let stamp = paths::data_dir().join("last-logon-check.txt");
    let now = SystemTime::now();
    if let Some(interval) = settings.policy.check_interval() {
        let last = fs::read_to_string(&stamp)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .map(from_unix_seconds);
        if last.is_some_and(|last| now.duration_since(last).is_ok_and(|d| d < interval)) {
            tracing::info!("logon check: already ran within {interval:?}");
            return Ok(code::SUCCESS);
        }
    }
    if let Err(e) = paths::write_atomically(&stamp, &unix_seconds(now).to_string()) {
        tracing::warn!("logon check: {e}");
    }
    let instrument = args
        .instrument
        .clone()
        .or_else(|| settings.instrument.clone())
        .or_else(|| paths::last_instrument(&paths::data_dir()));
    if instrument.is_none() && args.server_version.is_none() {
        tracing::info!("logon check: no instrument is known yet");
        return Ok(code::SUCCESS);
    }
    let args = ServerArgs {
        instrument,
        server_version: args.server_version.clone(),
    };
    prompt(cli, settings, &args)
}
