//! `launch`: how scientists start IBEX. Checks the client against the instrument, asks about an
//! update when they differ, points the GUI at the instrument and starts it.

use anyhow::Result;
use ibex_updater_core::client::gui_preference::GuiInstrument;
use ibex_updater_core::client::version::Version;
use ibex_updater_core::config::resolved::Settings;
use ibex_updater_core::usecase::launch::{self, Check, Preference, Prepared, Started};
use ibex_updater_core::usecase::survey::{self, ServerRequest, Survey};
use serde_json::{Value, json};

use crate::args::{Cli, LaunchArgs};
use crate::exit::code;
use crate::window::{self, Asked};

pub fn launch(cli: &Cli, settings: &Settings, args: &LaunchArgs) -> Result<u8> {
    let prepared = launch::prepare(settings, args.instrument.as_deref(), !args.no_check);
    if let Some(e) = &prepared.lookup_failed {
        tracing::warn!("launch: {e}; the IBEX GUI opens on the instrument it last used");
    }
    let asked = match &prepared.check {
        Check::Differs(server) => ask(cli, settings, &prepared, server)?,
        Check::NoAnswer(e) => {
            // A silent instrument never holds the start up.
            tracing::info!("launch: starting without a check: {e}");
            None
        }
        other => {
            tracing::info!("launch: {other:?}");
            None
        }
    };
    let instrument = prepared.instrument.as_ref().map(|(i, _)| i);
    let (preference, started) =
        launch::start_gui(&settings.install_root, instrument, &args.gui_args)?;
    if cli.json {
        println!(
            "{}",
            launch_json(&prepared, asked.as_ref(), preference, &started)
        );
    } else {
        print!(
            "{}",
            launch_text(&prepared, asked.as_ref(), preference, &started)
        );
    }
    Ok(code::SUCCESS)
}

/// The client differs from the server: a closer look against the release source, and the
/// pop-up if the user is to be asked. A source that cannot be read is no reason not to start.
fn ask(
    cli: &Cli,
    settings: &Settings,
    prepared: &Prepared,
    server: &Version,
) -> Result<Option<Asked>> {
    let request = ServerRequest {
        instrument: None,
        server_version: Some(server.clone()),
    };
    let Survey {
        catalog, status, ..
    } = match survey::survey(settings, &request) {
        Ok(survey) => survey,
        Err(e) => {
            tracing::warn!("launch: not offering an update: {e}");
            return Ok(None);
        }
    };
    let name = prepared
        .instrument
        .as_ref()
        .map_or_else(|| server.to_string(), |(i, _)| i.name.clone());
    // The pop-up is a courtesy: if it cannot open, the GUI still starts.
    match window::offer(cli, settings, &name, catalog, status, true) {
        Ok(asked) => Ok(Some(asked)),
        Err(e) => {
            tracing::warn!("launch: could not ask about the update: {e:#}");
            Ok(None)
        }
    }
}

fn instrument_json(prepared: &Prepared) -> Value {
    prepared.instrument.as_ref().map_or(Value::Null, |(i, from)| {
        json!({"name": i.name, "host": i.host, "pv_prefix": i.pv_prefix, "from": from.id()})
    })
}

fn check_json(check: &Check) -> Value {
    let (status, server, error) = match check {
        Check::Skipped => ("skipped", None, None),
        Check::NoInstrument => ("no-instrument", None, None),
        Check::NoAnswer(e) => ("no-answer", None, Some(e.to_string())),
        Check::Development(v) => ("development", Some(v), None),
        Check::Matches(v) => ("matches", Some(v), None),
        Check::Differs(v) => ("differs", Some(v), None),
    };
    json!({"status": status, "server_version": server.map(ToString::to_string), "error": error})
}

fn launch_json(
    prepared: &Prepared,
    asked: Option<&Asked>,
    preference: Preference,
    started: &Started,
) -> Value {
    let gui = match started {
        Started::Started { pid, program } => {
            json!({"status": "started", "pid": pid, "program": program})
        }
        Started::AlreadyRunning { pid, program } => {
            json!({"status": "already-running", "pid": pid, "program": program})
        }
    };
    json!({
        "instrument": instrument_json(prepared),
        "lookup_error": prepared.lookup_failed.as_ref().map(ToString::to_string),
        "check": check_json(&prepared.check),
        "asked": asked.map(Asked::id),
        "preference": preference.id(),
        "gui": gui,
    })
}

fn launch_text(
    prepared: &Prepared,
    asked: Option<&Asked>,
    preference: Preference,
    started: &Started,
) -> String {
    let mut out = String::new();
    let instrument = prepared.instrument.as_ref().map(|(i, _)| i);
    let name = instrument.map_or("its last instrument", |i: &GuiInstrument| i.name.as_str());
    if let Some(e) = &prepared.lookup_failed {
        out.push_str(&format!(
            "warning: {e}; the IBEX GUI opens on the instrument it last used\n"
        ));
    }
    match &prepared.check {
        Check::Matches(v) => out.push_str(&format!("{name} runs {v}: your client matches.\n")),
        Check::Development(v) => out.push_str(&format!(
            "{name} runs a development server ({v}): not checked.\n"
        )),
        Check::NoAnswer(e) => out.push_str(&format!(
            "{name} did not answer ({e}); starting without a check.\n"
        )),
        Check::Differs(v) => out.push_str(&format!(
            "{name} runs {v}, which your client does not match ({}).\n",
            asked.map_or("not asked", Asked::id)
        )),
        Check::Skipped | Check::NoInstrument => {}
    }
    match started {
        Started::Started { pid, .. } => {
            out.push_str(&format!("Started the IBEX GUI on {name} (process {pid}).\n"));
        }
        Started::AlreadyRunning { pid, .. } => out.push_str(&format!(
            "The IBEX GUI is already running (process {pid}), so it was not started again and its instrument was left as it is. Close it, then launch again to switch instrument.\n"
        )),
    }
    if preference == Preference::Written {
        out.push_str(&format!("It opens on {name}.\n"));
    }
    out
}
