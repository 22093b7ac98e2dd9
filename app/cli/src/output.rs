//! What the commands print: aligned text for people, JSON (`--json`) for scripts.

use ibex_updater_core::catalog::{Catalog, Verification};
use ibex_updater_core::client::component::Component;
use ibex_updater_core::client::ipython_profile::{Applied, ProfileStep};
use ibex_updater_core::install::history;
use ibex_updater_core::install::{EpicsUtils, Report};
use ibex_updater_core::instrument::link::InstrumentStatus;
use ibex_updater_core::release::{KitStatus, Release};
use ibex_updater_core::usecase::fleet::Fleet;
use ibex_updater_core::usecase::fleet_export;
use ibex_updater_core::usecase::status::{ComponentStatus, Status, target_version};
use ibex_updater_core::usecase::survey::{InstrumentFrom, Server};
use serde_json::{Value, json};

use ibex_updater_core::config::resolved::Settings;

pub fn status_json(status: &Status, server: &Server, catalog: &Catalog) -> Value {
    let from = server.from.map(InstrumentFrom::id);
    json!({
        "server": {
            "version": status.server.as_ref().map(|v| v.to_string()),
            "instrument": server.instrument.as_ref().map(|i| json!({"name": i.name, "host": i.host, "pv_prefix": i.pv_prefix, "from": from})),
        },
        "components": status.components.iter().map(|c| json!({
            "component": c.component.id(),
            "installed": c.installed.as_ref().map(|v| v.to_string()),
            "library": c.library,
            "target": c.target.as_ref().map(|k| target_version(k).release().to_string()),
            "verdict": c.verdict.id(),
        })).collect::<Vec<_>>(),
        "ipython_profile_pending": status.profile_pending,
        "source": catalog.location,
        "verification": verification_json(&catalog.verification),
    })
}

/// Says which instrument the client is matched to when nobody named it this time, with how to
/// pick another: nothing when it was named or there is none.
pub fn instrument_chosen(server: &Server) -> String {
    match (&server.instrument, server.from) {
        (Some(i), Some(from @ (InstrumentFrom::LastUsed | InstrumentFrom::Settings))) => {
            let which = if from == InstrumentFrom::LastUsed {
                "the instrument you used last"
            } else {
                "the instrument in your settings"
            };
            format!(
                "Matching the client to {} ({which}); pick another with --instrument, or a release with --version\n",
                i.name
            )
        }
        _ => String::new(),
    }
}

pub fn status_text(
    status: &Status,
    server: &Server,
    catalog: &Catalog,
    settings: &Settings,
) -> String {
    let mut out = String::new();
    let version = status.server.as_ref().map_or_else(
        || "unknown (pass --instrument or --server-version)".to_string(),
        |v| v.to_string(),
    );
    if let Some(i) = &server.instrument {
        // An instrument nobody named this time is said to be so, with how to pick another.
        let why = match server.from {
            Some(InstrumentFrom::LastUsed) => {
                ", the one you used last; pick another with --instrument"
            }
            Some(InstrumentFrom::Settings) => {
                ", from your settings; pick another with --instrument"
            }
            Some(InstrumentFrom::Named) | None => "",
        };
        out.push_str(&format!(
            "Instrument:     {} ({}, PV prefix {}{why})\n",
            i.name, i.host, i.pv_prefix
        ));
    }
    out.push_str(&format!("Server version: {version}\n"));
    out.push_str(&format!(
        "Release source: {} ({})\n",
        catalog.location, catalog.verification
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
                installed_text(c),
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
    if status.profile_pending {
        out.push_str(PROFILE_PENDING);
        out.push('\n');
    }
    out
}

const PROFILE_PENDING: &str = "\ngenie_python's IPython profile is not set up for you yet, so genie_python would start without g.; \
     it is set up the next time you open IBEX Updater, or at your next logon check.";

/// "26.8.0.1500", with genie_python's library version beside it when that differs.
fn installed_text(c: &ComponentStatus) -> String {
    let installed = c.installed.as_ref().map_or("-".into(), |v| v.to_string());
    match &c.library {
        Some(library) => format!("{installed} (library {library})"),
        None => installed,
    }
}

fn profile_text(step: &ProfileStep) -> Option<String> {
    match step {
        ProfileStep::Current | ProfileStep::Done(Applied::AlreadyCurrent) => None,
        ProfileStep::Done(Applied::Created) => {
            Some("Set up genie_python's IPython profile for this user".into())
        }
        ProfileStep::Done(Applied::Replaced { kept }) => Some(format!(
            "Set up genie_python's IPython profile for this user (the previous config is kept as {})",
            kept.display()
        )),
        ProfileStep::Pending { reason } => Some(format!(
            "note: genie_python's IPython profile is not set up for this user: {reason}"
        )),
    }
}

fn profile_json(step: &ProfileStep) -> Value {
    match step {
        ProfileStep::Current => json!({"status": "current"}),
        ProfileStep::Done(Applied::AlreadyCurrent) => json!({"status": "already-current"}),
        ProfileStep::Done(Applied::Created) => json!({"status": "created"}),
        ProfileStep::Done(Applied::Replaced { kept }) => {
            json!({"status": "replaced", "kept": kept})
        }
        ProfileStep::Pending { reason } => json!({"status": "pending", "reason": reason}),
    }
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

pub fn fleet_text(fleet: &Fleet) -> String {
    let mut out = match (&fleet.newest, &fleet.source_error) {
        (Some(newest), _) => format!("Newest release: {newest}\n\n"),
        (None, Some(e)) => format!("Newest release: unknown ({e})\n\n"),
        (None, None) => "Newest release: none in the release source\n\n".to_string(),
    };
    out.push_str(&table(&fleet_export::HEADER, &fleet_export::rows(fleet)));
    out
}

pub fn releases_json(catalog: &Catalog) -> Value {
    json!({
        "source": catalog.location,
        "verification": verification_json(&catalog.verification),
        "releases": catalog.releases.iter().map(|r| json!({
            "name": r.name.to_string(),
            "kits": r.kits.iter().map(|k| json!({
                "component": k.component.id(),
                "version": k.version.as_ref().map(|v| v.to_string()),
                "complete": k.is_complete(),
                "status": k.status.to_string(),
                "linked_from": k.linked_from,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// Whether a signed index vouches for the source, and whether installing from it is allowed.
fn verification_json(verification: &Verification) -> Value {
    let serial = match verification {
        Verification::Signed { serial, .. } => Some(*serial),
        Verification::Unverified { .. } | Verification::IndexGone { .. } => None,
    };
    json!({
        "signed": verification.is_signed(),
        "serial": serial,
        "installs_allowed": verification.installs_allowed(),
    })
}

pub fn releases_text(catalog: &Catalog) -> String {
    let cell = |r: &Release, c| match r.kit(c) {
        None => "-".to_string(),
        Some(k) => {
            let shown = match (&k.status, &k.version) {
                (KitStatus::Complete, Some(v)) => v.to_string(),
                (KitStatus::Complete, None) => "?".into(),
                (status, _) => format!("not installable: {status}"),
            };
            let marker = if k.linked_from.is_some() {
                " (linked)"
            } else {
                ""
            };
            format!("{shown}{marker}")
        }
    };
    let linked: Vec<String> = catalog
        .releases
        .iter()
        .rev()
        .flat_map(|r| &r.kits)
        .filter_map(|k| {
            let from = k.linked_from.as_ref()?;
            Some(format!("  {} {}: {from}\n", k.release, k.component))
        })
        .collect();
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
    let mut out = format!(
        "Releases in {} ({}):\n\n{}",
        catalog.location,
        catalog.verification,
        table(&["RELEASE", "IBEX GUI", "GENIE_PYTHON"], &rows)
    );
    if !linked.is_empty() {
        out.push_str("\nLinked kits, and where they really are:\n");
        out.extend(linked);
    }
    out
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
            "files": c.files.map(|f| json!({
                "check": f.check,
                "switched": f.switched,
                "intact": f.intact,
                "linked": f.linked,
                "copied": f.copied,
                "taken_bytes": f.taken_bytes,
                "unpacked": f.unpacked.files,
                "unpacked_bytes": f.unpacked.bytes,
                "blocks_read": f.unpacked.blocks_read,
                "blocks": f.unpacked.blocks,
            })),
        })).collect::<Vec<_>>(),
        "epics_utils": report.epics_utils.as_ref().map(epics_utils_json),
        "ipython_profile": report.ipython_profile.as_ref().map(profile_json),
        "edited": report.edited.iter().map(|(component, files)| json!({
            "component": component.id(),
            "files": files,
        })).collect::<Vec<_>>(),
        "mixed_lines": report.mixed_lines.as_ref().map(|m| json!({
            "ibex-gui": format!("{}.{}", m.gui.major(), m.gui.minor()),
            "genie-python": format!("{}.{}", m.genie.major(), m.genie.minor()),
            "message": m.to_string(),
        })),
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
        if c.files.is_some_and(|f| f.check == "crc32") {
            out.push_str(
                "  checked by the CRC32 of each file the archive records (no signed index: this catches damage, not a deliberate change)\n",
            );
        }
        if c.files.is_some_and(|f| f.switched) {
            out.push_str(
                "  switched to the copy kept on this machine: nothing downloaded or unpacked\n",
            );
        } else if c.files.is_some_and(|f| f.intact) {
            out.push_str("  already intact: every file passed its check, so nothing was written\n");
        } else if let Some(files) = &c.files
            && files.linked + files.copied > 0
        {
            out.push_str(&format!(
                "  {} files unchanged, taken from the tree already here ({:.1} MB); {} unpacked ({:.1} MB)\n",
                files.linked + files.copied,
                files.taken_bytes as f64 / 1e6,
                files.unpacked.files,
                files.unpacked.bytes as f64 / 1e6,
            ));
        }
    }
    for (component, files) in &report.edited {
        out.push_str(&format!(
            "note: {component} had files edited by hand that the new version does not carry; `rollback` puts them back: {}\n",
            files.join(", ")
        ));
    }
    if let Some(mixed) = &report.mixed_lines {
        out.push_str(&format!("warning: {mixed}\n"));
    }
    let profile = report.ipython_profile.as_ref().and_then(profile_text);
    if let Some(line) = profile {
        out.push_str(&line);
        out.push('\n');
    }
    if let Some(line) = report.epics_utils.as_ref().map(epics_utils_text) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

pub fn epics_utils_text(outcome: &EpicsUtils) -> String {
    match outcome {
        EpicsUtils::Mirrored(m) if m.is_unchanged() => format!(
            "EPICS_UTILS already matches {} ({} files)",
            m.source.display(),
            m.files
        ),
        EpicsUtils::Mirrored(m) => format!(
            "Mirrored EPICS_UTILS from {}: {} files, {} new or changed, {} removed",
            m.source.display(),
            m.files,
            m.changed,
            m.removed
        ),
        EpicsUtils::NotUpdated { reason, .. } => {
            format!("warning: EPICS_UTILS was not updated (the client was): {reason}")
        }
    }
}

fn epics_utils_json(outcome: &EpicsUtils) -> Value {
    match outcome {
        EpicsUtils::Mirrored(m) => json!({
            "status": if m.is_unchanged() { "unchanged" } else { "mirrored" },
            "source": m.source,
            "files": m.files,
            "changed": m.changed,
            "removed": m.removed,
        }),
        EpicsUtils::NotUpdated { source, reason } => json!({
            "status": "not-updated",
            "source": source,
            "reason": reason,
        }),
    }
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

pub fn history_json(entries: &[history::Entry]) -> Value {
    json!({
        "history": entries.iter().map(|e| json!({
            "time": history::utc_text(e.time),
            "unix_time": e.time,
            "user": e.user,
            "action": e.action,
            "changes": e.changes.iter().map(|m| json!({
                "component": m.component.id(),
                "from": m.from,
                "to": m.to,
            })).collect::<Vec<_>>(),
            "outcome": if e.failure.is_some() { "failed" } else { "done" },
            "error": e.failure,
        })).collect::<Vec<_>>(),
    })
}

pub fn history_text(entries: &[history::Entry]) -> String {
    if entries.is_empty() {
        return "Nothing has been installed or rolled back here yet.\n".to_string();
    }
    let rows: Vec<[String; 4]> = entries
        .iter()
        .map(|e| {
            let action = match e.action {
                history::Action::Install => "install",
                history::Action::Rollback => "rollback",
            };
            let what = match &e.failure {
                Some(why) => format!("failed, nothing changed: {why}"),
                None => e.changes_text(),
            };
            [
                history::utc_text(e.time),
                e.user.clone(),
                action.to_string(),
                what,
            ]
        })
        .collect();
    table(&["When", "Who", "What", "Changes"], &rows)
}
