//! Dispatch: each command is a use case of the core, printed as text or JSON.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use ibex_updater_core::catalog::TargetRequest;
use ibex_updater_core::client::verdict::Verdict;
use ibex_updater_core::config::paths;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::demo::fleet as demo_fleet;
use ibex_updater_core::error::UpdateError;
use ibex_updater_core::install::history;
use ibex_updater_core::install::{InstallOptions, InstallRoot, Report, trash};
use ibex_updater_core::progress::{NoProgress, Progress};
use ibex_updater_core::usecase::plan::{self, InstallRequest};
use ibex_updater_core::usecase::survey::{self, ServerRequest};
use ibex_updater_core::usecase::{apply, fleet, fleet_export};
use serde_json::json;

use crate::args::{CheckArgs, Cli, Command, DemoFleetArgs, InstallArgs, ServerArgs};
use crate::exit::{code, exit_code, verdict_code};
use crate::{background, launch, output, progress, settings, signing, window};

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

fn dispatch(cli: &Cli) -> Result<u8> {
    let Some(command) = &cli.command else {
        return window::open(cli);
    };
    match command {
        Command::DemoFleet(args) => return serve_demo_fleet(args),
        Command::Publish(args) => return signing::publish(cli, args),
        Command::Keygen(args) => return signing::keygen(args),
        Command::EmptyTrash(args) => {
            trash::empty(&InstallRoot::new(&args.root));
            return Ok(code::SUCCESS);
        }
        _ => {}
    }
    let settings = settings::resolve(cli)?;
    let outcome = run_command(cli, command, &settings);
    // Whatever the command superseded (an install, a rollback, the pop-up's update) is deleted
    // by a process of its own, so that this one can exit now.
    background::empty_trash_later(&settings.install_root);
    outcome
}

fn run_command(cli: &Cli, command: &Command, settings: &Settings) -> Result<u8> {
    let options = apply::options(settings, settings::seconds("--lock-wait", cli.lock_wait)?);
    match command {
        Command::Check(args) if args.logon => window::logon_check(cli, settings, &args.server),
        Command::Check(args) if args.prompt => window::prompt(cli, settings, &args.server),
        Command::Status(args) | Command::Check(CheckArgs { server: args, .. }) => {
            let (worst, unreachable) = status(cli, settings, args)?;
            if let Some(e) = unreachable {
                eprintln!("error: {e:#}");
                return Ok(exit_code(&e));
            }
            Ok(match command {
                Command::Check(_) => verdict_code(worst),
                _ => code::SUCCESS,
            })
        }
        Command::Install(args) => install(cli, settings, args, &options),
        Command::Launch(args) => launch::launch(cli, settings, args),
        Command::Rollback(args) => {
            let components = args.component.components();
            let report = with_progress(cli, |p| {
                apply::rollback(&settings.install_root, &components, p, &options)
            })?;
            print_report(cli, &report, "rolled_back", "Rolled back");
            Ok(code::SUCCESS)
        }
        Command::History => {
            let entries = history::read(&settings.install_root)?;
            if cli.json {
                println!("{}", output::history_json(&entries));
            } else {
                print!("{}", output::history_text(&entries));
            }
            Ok(code::SUCCESS)
        }
        Command::Instruments => instruments(cli, settings),
        Command::Fleet(args) => {
            let fleet = fleet::fleet(settings)?;
            if cli.json {
                println!("{}", fleet_export::json(&fleet));
            } else if args.csv {
                print!("{}", fleet_export::csv(&fleet));
            } else {
                print!("{}", output::fleet_text(&fleet));
            }
            Ok(code::SUCCESS)
        }
        Command::Verify(args) => signing::verify(cli, settings, &args.component.components()),
        Command::SelfUpdate(args) => signing::self_update(cli, settings, args.check),
        Command::Releases => {
            let catalog = survey::read_catalog(settings)?;
            if cli.json {
                println!("{}", output::releases_json(&catalog));
            } else {
                print!("{}", output::releases_text(&catalog));
            }
            Ok(code::SUCCESS)
        }
        Command::DemoFleet(_)
        | Command::Publish(_)
        | Command::Keygen(_)
        | Command::EmptyTrash(_) => {
            unreachable!("handled before the settings are resolved")
        }
    }
}

impl ServerArgs {
    pub fn request(&self) -> ServerRequest {
        ServerRequest {
            instrument: self.instrument.clone(),
            server_version: self.server_version.clone(),
        }
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
    let survey::Survey {
        catalog,
        server,
        status,
    } = survey::survey(settings, &args.request())?;
    // Both outputs read the server before its error is taken for the exit code.
    let doc = cli
        .json
        .then(|| output::status_json(&status, &server, &catalog));
    let text = (!cli.json).then(|| output::status_text(&status, &server, &catalog, settings));
    let unreachable = server.version.err().map(anyhow::Error::from);
    if let Some(mut doc) = doc {
        if let Some(e) = &unreachable {
            doc["error"] = json!({"code": exit_code(e), "message": format!("{e:#}")});
        }
        println!("{doc}");
    }
    if let Some(text) = text {
        print!("{text}");
    }
    Ok((status.worst(), unreachable))
}

fn instruments(cli: &Cli, settings: &Settings) -> Result<u8> {
    let statuses = survey::instruments(settings)?;
    let last = paths::last_instrument(&paths::data_dir());
    if cli.json {
        println!("{}", output::instruments_json(&statuses, last.as_deref()));
    } else {
        print!("{}", output::instruments_text(&statuses, last.as_deref()));
    }
    Ok(code::SUCCESS)
}

fn serve_demo_fleet(args: &DemoFleetArgs) -> Result<u8> {
    let server = demo_fleet::serve(args.port, args.size.map(usize::from))
        .context("could not start the demo fleet")?;
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

fn install(
    cli: &Cli,
    settings: &Settings,
    args: &InstallArgs,
    options: &InstallOptions,
) -> Result<u8> {
    let report = plan_and_install(cli, settings, args, options).with_context(|| {
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
    args: &InstallArgs,
    options: &InstallOptions,
) -> Result<Report> {
    let source = settings.source()?;
    let catalog = source.read_catalog()?;
    let target = match &args.version {
        Some(release) => TargetRequest::Release(release.clone()),
        None => {
            let server = survey::ask_server(settings, &args.server.request())?;
            if !cli.json {
                print!("{}", output::instrument_chosen(&server));
            }
            plan::target_for_server(server)?
        }
    };
    let request = InstallRequest {
        target,
        components: args.components.component.components(),
        force: args.force,
    };
    let plan = plan::plan(&catalog, &settings.install_root, &request)?;
    if !cli.json {
        for (component, version) in &plan.already_installed {
            println!("{component} {version} is already installed (use --force to reinstall)");
        }
    }
    with_progress(cli, |p| {
        apply::install(source, &settings.install_root, &plan, p, options)
    })
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
