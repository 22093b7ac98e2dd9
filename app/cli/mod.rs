//! The command line front end: parses arguments, calls the core, prints, and maps the outcome to
//! the documented exit codes.

mod args;
mod output;
mod progress;
mod settings;
mod signing;
mod window;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use ibex_updater::component::Component;
use ibex_updater::error::{ErrorKind, UpdateError};
use ibex_updater::install::{self, InstallLock, InstallOptions, Report};
use ibex_updater::instrument_link;
use ibex_updater::instruments::Instrument;
use ibex_updater::progress::{NoProgress, Progress};
use ibex_updater::source::{Release, ReleaseSource, TargetRequest, select_target};
use ibex_updater::status::{self, target_version};
use ibex_updater::verdict::Verdict;
use ibex_updater::version::{ClientVersion, Version};
use ibex_updater::{demo_fleet, paths};
use serde_json::json;

use args::{CheckArgs, Cli, Command, DemoFleetArgs, InstallArgs, ServerArgs};
use ibex_updater::effective::Settings;

/// The exit codes documented in the README.
pub(crate) mod code {
    pub const SUCCESS: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const INTEGRITY: u8 = 3;
    pub const SOURCE_UNREACHABLE: u8 = 4;
    pub const INSTRUMENT_UNREACHABLE: u8 = 5;
    pub const UPDATE_AVAILABLE: u8 = 10;
    pub const UPDATE_RECOMMENDED: u8 = 11;
    pub const UPDATE_REQUIRED: u8 = 12;
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if window::opens_window(&cli) {
        window::init_file_logging();
    } else {
        init_logging(cli.silent);
    }
    match dispatch(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = exit_code(&e);
            if cli.json {
                let doc = json!({"error": {"code": code, "message": format!("{e:#}")}});
                println!("{doc}");
            }
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn init_logging(silent: bool) {
    let default = if silent { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("IBEX_UPDATER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(!silent && std::io::stderr().is_terminal())
        .init();
}

pub(crate) fn exit_code(e: &anyhow::Error) -> u8 {
    match e
        .chain()
        .find_map(|cause| cause.downcast_ref::<UpdateError>())
        .map(UpdateError::kind)
    {
        Some(ErrorKind::Integrity) => code::INTEGRITY,
        Some(ErrorKind::SourceUnreachable) => code::SOURCE_UNREACHABLE,
        Some(ErrorKind::Usage) => code::USAGE,
        Some(ErrorKind::InstrumentUnreachable) => code::INSTRUMENT_UNREACHABLE,
        Some(ErrorKind::Failure) | None => code::FAILURE,
    }
}

fn dispatch(cli: &Cli) -> Result<u8> {
    let Some(command) = &cli.command else {
        return window::open(cli);
    };
    match command {
        Command::DemoFleet(args) => return serve_demo_fleet(args),
        Command::Publish(args) => return signing::publish(cli, args),
        Command::Keygen(args) => return signing::keygen(args),
        _ => {}
    }
    let settings = settings::resolve(cli)?;
    let options = InstallOptions {
        hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        lock_wait: Duration::from_secs(cli.lock_wait),
    };
    match command {
        Command::Check(args) if args.logon => window::logon_check(cli, &settings, &args.server),
        Command::Check(args) if args.prompt => window::prompt(cli, &settings, &args.server),
        Command::Status(args) | Command::Check(CheckArgs { server: args, .. }) => {
            let (worst, unreachable) = status(cli, &settings, args)?;
            if let Some(e) = unreachable {
                eprintln!("error: {e:#}");
                return Ok(exit_code(&e));
            }
            Ok(match command {
                Command::Check(_) => verdict_code(worst),
                _ => code::SUCCESS,
            })
        }
        Command::Install(args) => install(cli, &settings, args, &options),
        Command::Rollback(args) => {
            let components = args.component.components();
            let strict = components.len() == 1;
            let report = with_progress(cli, |p| {
                install::rollback(&settings.install_root, &components, strict, p, &options)
            })?;
            print_report(cli, &report, "rolled_back", "Rolled back");
            Ok(code::SUCCESS)
        }
        Command::Instruments => instruments(cli, &settings),
        Command::Verify(args) => signing::verify(cli, &settings, &args.component.components()),
        Command::SelfUpdate(args) => signing::self_update(cli, &settings, args.check),
        Command::DemoFleet(_) | Command::Publish(_) | Command::Keygen(_) => {
            unreachable!("handled before the settings are resolved")
        }
        Command::Releases => {
            let source = settings.source()?;
            let releases = source.releases()?;
            if cli.json {
                println!("{}", output::releases_json(&source.location(), &releases));
            } else {
                print!(
                    "{}",
                    output::releases_text(
                        &source.location(),
                        &output::verification_text(source),
                        &releases
                    )
                );
            }
            Ok(code::SUCCESS)
        }
    }
}

pub(crate) fn verdict_code(worst: Verdict) -> u8 {
    match worst {
        Verdict::UpdateAvailable => code::UPDATE_AVAILABLE,
        Verdict::UpdateRecommended => code::UPDATE_RECOMMENDED,
        Verdict::UpdateRequired | Verdict::NotInstalled => code::UPDATE_REQUIRED,
        Verdict::UpToDate | Verdict::Development | Verdict::Unknown => code::SUCCESS,
    }
}

/// Prints the status and returns its most urgent verdict. An instrument that does not answer
/// still gets its status printed (verdicts `unknown`, and in JSON an `error` member); that error
/// comes back beside the verdict for the exit code.
fn status(
    cli: &Cli,
    settings: &Settings,
    args: &ServerArgs,
) -> Result<(Verdict, Option<anyhow::Error>)> {
    let (
        releases,
        Server {
            instrument,
            version,
        },
    ) = survey(settings, args)?;
    let (server, unreachable) = match version {
        Ok(version) => (version, None),
        Err(e) => (None, Some(anyhow::Error::from(e))),
    };
    let status = status::evaluate(&settings.install_root, &releases, server.as_ref())?;
    if cli.json {
        let mut doc = output::status_json(&status, instrument.as_ref());
        if let Some(e) = &unreachable {
            doc["error"] = json!({"code": exit_code(e), "message": format!("{e:#}")});
        }
        println!("{doc}");
    } else {
        print!(
            "{}",
            output::status_text(&status, instrument.as_ref(), settings)
        );
    }
    Ok((status.worst(), unreachable))
}

/// What `status` and `check` start from: tidy up after an interrupted install, read the releases,
/// and ask the server.
pub(crate) fn survey(settings: &Settings, args: &ServerArgs) -> Result<(Vec<Release>, Server)> {
    recover_if_idle(settings);
    let releases = settings.source()?.releases()?;
    Ok((releases, ask_server(settings, args)?))
}

/// The instrument to ask: `--instrument`, else (unless a server version is given) the one the
/// policy or the user's settings name.
fn instrument_query<'a>(settings: &'a Settings, args: &'a ServerArgs) -> Option<&'a str> {
    match (&args.instrument, &args.server_version) {
        (Some(query), _) => Some(query),
        (None, None) => settings.instrument.as_deref(),
        (None, Some(_)) => None,
    }
}

/// What a command knows of the server: the instrument it asked, if any, and the server version
/// (none when neither an instrument nor `--server-version` names one), or why it could not be read.
pub(crate) struct Server {
    pub instrument: Option<Instrument>,
    pub version: Result<Option<Version>, UpdateError>,
}

/// Reads the server version live from the instrument to ask, remembering it, or takes
/// `--server-version`. Only a failure to find the instrument is an error here.
fn ask_server(settings: &Settings, args: &ServerArgs) -> Result<Server> {
    let Some(query) = instrument_query(settings, args) else {
        return Ok(Server {
            instrument: None,
            version: Ok(args.server_version.clone()),
        });
    };
    let instrument = instrument_link::find(&settings.ca, query)?;
    paths::remember_instrument(&paths::data_dir(), &instrument.name);
    let version = instrument_link::server_version(&settings.ca, &instrument).map(Some);
    Ok(Server {
        instrument: Some(instrument),
        version,
    })
}

fn instruments(cli: &Cli, settings: &Settings) -> Result<u8> {
    let list = instrument_link::instrument_list(&settings.ca)?;
    let statuses = instrument_link::server_versions(&settings.ca, list);
    let last = paths::last_instrument(&paths::data_dir());
    if cli.json {
        println!("{}", output::instruments_json(&statuses, last.as_deref()));
    } else {
        print!("{}", output::instruments_text(&statuses, last.as_deref()));
    }
    Ok(code::SUCCESS)
}

fn serve_demo_fleet(args: &DemoFleetArgs) -> Result<u8> {
    let server =
        demo_fleet::serve(args.port, args.size).context("could not start the demo fleet")?;
    println!(
        "serving the demo instrument fleet on 127.0.0.1: searches on UDP port {}, circuits on TCP port {}",
        server.search_port, server.tcp_port
    );
    println!(
        "read it with: EPICS_CA_ADDR_LIST=127.0.0.1 EPICS_CA_AUTO_ADDR_LIST=NO EPICS_CA_SERVER_PORT={} ibex-updater instruments",
        server.search_port
    );
    // Scripts wait for the lines above before they connect.
    std::io::Write::flush(&mut std::io::stdout())?;
    loop {
        std::thread::park();
    }
}

/// Read-only commands tidy up after an interrupted install too, when nobody else is installing
/// and the install root is writable; otherwise the next install does it.
fn recover_if_idle(settings: &Settings) {
    let root = &settings.install_root;
    if !root.state_dir().exists() {
        return;
    }
    if let Some(_lock) = InstallLock::try_acquire(root)
        && let Err(e) = install::journal::recover(root)
    {
        tracing::warn!("could not tidy up after an interrupted install: {e}");
    }
}

fn install(
    cli: &Cli,
    settings: &Settings,
    args: &InstallArgs,
    options: &InstallOptions,
) -> Result<u8> {
    let source = settings.source()?;
    let report = plan_and_install(cli, settings, source, args, options).with_context(|| {
        format!(
            "nothing was changed in {}",
            settings.install_root.path().display()
        )
    })?;
    print_report(cli, &report, "installed", "Installed");
    Ok(code::SUCCESS)
}

fn plan_and_install(
    cli: &Cli,
    settings: &Settings,
    source: &dyn ReleaseSource,
    args: &InstallArgs,
    options: &InstallOptions,
) -> Result<Report> {
    let releases = source.releases()?;
    // A release named with --version wins over any instrument the settings name.
    let request = match &args.version {
        Some(release) => TargetRequest::Release(release.clone()),
        None => match ask_server(settings, &args.server)?.version? {
            Some(server) => TargetRequest::Server(server),
            None => TargetRequest::Latest,
        },
    };
    let mut kits = Vec::new();
    for component in args.components.component.components() {
        let kit = select_target(&releases, component, &request)?
            .ok_or_else(|| no_kit(component, &request))?;
        let installed =
            ibex_updater::installed::version_in(&settings.install_root.component_dir(component));
        let wanted = ClientVersion::Release(target_version(kit));
        if !args.force && installed.as_ref() == Some(&wanted) {
            tracing::info!("{component} {wanted} is already installed");
            if !cli.json {
                println!("{component} {wanted} is already installed (use --force to reinstall)");
            }
            continue;
        }
        kits.push(kit);
    }
    if kits.is_empty() {
        return Ok(Report::default());
    }
    with_progress(cli, |p| {
        install::install(&settings.install_root, source, &kits, p, options)
    })
}

fn no_kit(component: Component, request: &TargetRequest) -> anyhow::Error {
    let wanted = match request {
        TargetRequest::Server(v) if v.is_development() => {
            return anyhow!(
                "the server runs a development build ({v}), which no release matches; name a release with --version"
            );
        }
        TargetRequest::Server(v) => format!("server version {v}"),
        TargetRequest::Release(r) => format!("release {r}"),
        TargetRequest::Latest => "the newest release".to_string(),
    };
    UpdateError::NoMatchingKit { component, wanted }.into()
}

fn with_progress<T>(
    cli: &Cli,
    work: impl FnOnce(&dyn Progress) -> Result<T, UpdateError>,
) -> Result<T> {
    if cli.json {
        return Ok(work(&NoProgress)?);
    }
    if cli.silent || !std::io::stderr().is_terminal() {
        return Ok(work(&progress::LogProgress)?);
    }
    let bar = progress::TerminalProgress::new();
    let result = work(&bar);
    bar.finish();
    Ok(result?)
}

fn print_report(cli: &Cli, report: &Report, key: &str, verb: &str) {
    for note in &report.recovered {
        eprintln!("note: {note}");
    }
    if cli.json {
        println!("{}", output::report_json(report, key));
    } else {
        print!("{}", output::report_text(report, verb));
    }
}
