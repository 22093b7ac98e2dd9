//! What the commands print: aligned text for people, JSON (`--json`) for scripts.

use ibex_updater_core::catalog::{Catalog, Verification};
use ibex_updater_core::client::component::Component;
use ibex_updater_core::install::Report;
use ibex_updater_core::instrument::link::InstrumentStatus;
use ibex_updater_core::instrument::list::Instrument;
use ibex_updater_core::release::{KitStatus, Release};
use ibex_updater_core::usecase::status::{Status, target_version};
use serde_json::{Value, json};

use ibex_updater_core::config::resolved::Settings;

pub fn status_json(status: &Status, instrument: Option<&Instrument>) -> Value {
    json!({
        "server": {
            "version": status.server.as_ref().map(|v| v.to_string()),
            "instrument": instrument.map(|i| json!({"name": i.name, "host": i.host, "pv_prefix": i.pv_prefix})),
        },
        "components": status.components.iter().map(|c| json!({
            "component": c.component.id(),
            "installed": c.installed.as_ref().map(|v| v.to_string()),
            "target": c.target.as_ref().map(|k| target_version(k).release().to_string()),
            "verdict": c.verdict.id(),
        })).collect::<Vec<_>>(),
    })
}

pub fn status_text(
    status: &Status,
    instrument: Option<&Instrument>,
    catalog: &Catalog,
    settings: &Settings,
) -> String {
    let mut out = String::new();
    let server = status.server.as_ref().map_or_else(
        || "unknown (pass --instrument or --server-version)".to_string(),
        |v| v.to_string(),
    );
    if let Some(i) = instrument {
        out.push_str(&format!(
            "Instrument:     {} ({}, PV prefix {})\n",
            i.name, i.host, i.pv_prefix
        ));
    }
    out.push_str(&format!("Server version: {server}\n"));
    out.push_str(&format!(
        "Release source: {} ({})\n",
        catalog.location,
        verification_text(&catalog.verification)
    ));
    out.push_str(&format!(
        "Install root:   {}\n\n",
        settings.install_root.path().display()
    ));
    let rows: Vec<[String; 4]> = status
        .components
        .iter()
        .map(|c| {
            [
                c.component.display_name().to_string(),
                c.installed.as_ref().map_or("-".into(), |v| v.to_string()),
                c.target.as_ref().map_or("-".into(), |k| {
                    format!("{} ({})", target_version(k), k.release)
                }),
                c.verdict.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["COMPONENT", "INSTALLED", "TARGET", "VERDICT"],
        &rows,
    ));
    out
}

pub fn instruments_json(statuses: &[InstrumentStatus], last: Option<&str>) -> Value {
    json!({
        "instruments": statuses.iter().map(|s| {
            let i = &s.instrument;
            json!({
                "name": i.name,
                "host": i.host,
                "pv_prefix": i.pv_prefix,
                "groups": i.groups,
                "target_station": i.target_station,
                "scheduled": i.scheduled,
                "server_version": s.server_version.as_ref().ok().map(ToString::to_string),
                "reachable": s.server_version.is_ok(),
                "error": s.server_version.as_ref().err().map(ToString::to_string),
                "last_used": last.is_some_and(|l| l == i.name),
            })
        }).collect::<Vec<_>>(),
    })
}

pub fn instruments_text(statuses: &[InstrumentStatus], last: Option<&str>) -> String {
    let rows: Vec<[String; 5]> = statuses
        .iter()
        .map(|s| {
            let i = &s.instrument;
            let marker = if last == Some(i.name.as_str()) {
                " *"
            } else {
                ""
            };
            [
                format!("{}{marker}", i.name),
                i.host.clone(),
                i.pv_prefix.clone(),
                i.groups.join(","),
                match &s.server_version {
                    Ok(v) if v.is_development() => format!("{v} (development)"),
                    Ok(v) => v.to_string(),
                    Err(_) => "unreachable".to_string(),
                },
            ]
        })
        .collect();
    let mut out = table(
        &[
            "INSTRUMENT",
            "HOST",
            "PV PREFIX",
            "GROUPS",
            "SERVER VERSION",
        ],
        &rows,
    );
    if last.is_some() {
        out.push_str("\n* last used\n");
    }
    out
}

pub fn releases_json(catalog: &Catalog) -> Value {
    json!({
        "source": catalog.location,
        "releases": catalog.releases.iter().map(|r| json!({
            "name": r.name.to_string(),
            "kits": r.kits.iter().map(|k| json!({
                "component": k.component.id(),
                "version": k.version.as_ref().map(|v| v.to_string()),
                "complete": k.is_complete(),
                "status": k.status.to_string(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// "signed index, serial 7" or "unverified: no signed index.json".
pub fn verification_text(verification: &Verification) -> String {
    match verification {
        Verification::Signed { serial, .. } => format!("signed index, serial {serial}"),
        Verification::Unverified => "unverified: no signed index.json".to_string(),
    }
}

pub fn releases_text(catalog: &Catalog) -> String {
    let cell = |r: &Release, c| match r.kit(c) {
        None => "-".to_string(),
        Some(k) if k.status == KitStatus::Complete => k
            .version
            .as_ref()
            .map_or_else(|| "?".into(), |v| v.to_string()),
        Some(k) => format!("not installable: {}", k.status),
    };
    let rows: Vec<[String; 3]> = catalog
        .releases
        .iter()
        .rev()
        .map(|r| {
            [
                r.name.to_string(),
                cell(r, Component::IbexGui),
                cell(r, Component::GeniePython),
            ]
        })
        .collect();
    format!(
        "Releases in {} ({}):\n\n{}",
        catalog.location,
        verification_text(&catalog.verification),
        table(&["RELEASE", "IBEX GUI", "GENIE_PYTHON"], &rows)
    )
}

pub fn report_json(report: &Report, verb: &str) -> Value {
    json!({
        "recovered": report.recovered,
        verb: report.changes.iter().map(|c| json!({
            "component": c.component.id(),
            "from": c.from.as_ref().map(|v| v.to_string()),
            "to": c.to.as_ref().map(|v| v.to_string()),
            "release": c.release.as_ref().map(|r| r.to_string()),
            "sha256": c.sha256,
        })).collect::<Vec<_>>(),
    })
}

pub fn report_text(report: &Report, verb: &str) -> String {
    let mut out = String::new();
    for c in &report.changes {
        let from = c.from.as_ref().map_or("nothing".into(), |v| v.to_string());
        let to = c.to.as_ref().map_or("nothing".into(), |v| v.to_string());
        out.push_str(&format!("{verb} {}: {from} -> {to}", c.component));
        if let Some(release) = &c.release {
            out.push_str(&format!(" (release {release}"));
            if let Some(sha) = &c.sha256 {
                out.push_str(&format!(", archive SHA-256 {sha}"));
            }
            out.push(')');
        }
        out.push('\n');
    }
    out
}

fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
