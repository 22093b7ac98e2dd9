//! The fleet as a table, a spreadsheet (CSV) or JSON, and grouped by release line: the same for
//! `ibex-updater fleet` and the window's Fleet view, so an export from either reads the same.

use serde_json::{Value, json};

use super::fleet::{Fleet, Standing};
use crate::client::version::Version;
use crate::instrument::link::InstrumentStatus;

/// The columns of the table and the CSV.
pub const HEADER: [&str; 4] = ["INSTRUMENT", "SERVER VERSION", "LINE", "STANDING"];

/// One row per instrument, in the order of `HEADER`.
pub fn rows(fleet: &Fleet) -> Vec<[String; 4]> {
    fleet
        .instruments
        .iter()
        .map(|(s, standing)| {
            let version = s.server_version.as_ref().ok();
            [
                s.instrument.name.clone(),
                version.map_or_else(|| "-".into(), ToString::to_string),
                version.and_then(line).unwrap_or_else(|| "-".into()),
                standing.text(),
            ]
        })
        .collect()
}

/// "26.2": a release's line; a development server has none.
pub fn line(version: &Version) -> Option<String> {
    (!version.is_development()).then(|| format!("{}.{}", version.major(), version.minor()))
}

/// RFC 4180: every field quoted, quotes doubled, CRLF line ends, as spreadsheets read it.
pub fn csv(fleet: &Fleet) -> String {
    let line = |cells: &[String]| {
        let quoted: Vec<String> = cells
            .iter()
            .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
            .collect();
        quoted.join(",") + "\r\n"
    };
    let header: Vec<String> = HEADER.iter().map(|h| h.to_lowercase()).collect();
    let mut out = line(&header);
    for row in rows(fleet) {
        out.push_str(&line(&row));
    }
    out
}

pub fn json(fleet: &Fleet) -> Value {
    json!({
        "newest": fleet.newest.as_ref().map(ToString::to_string),
        "source_error": fleet.source_error.as_ref().map(ToString::to_string),
        "instruments": fleet.instruments.iter().map(|(s, standing)| {
            let version = s.server_version.as_ref().ok();
            json!({
                "name": s.instrument.name,
                "host": s.instrument.host,
                "server_version": version.map(ToString::to_string),
                "line": version.and_then(line),
                "lines_behind": match standing {
                    Standing::LinesBehind(n) => Some(*n),
                    Standing::Newest | Standing::PatchBehind => Some(0),
                    _ => None,
                },
                "standing": standing.text(),
                "error": s.server_version.as_ref().err().map(ToString::to_string),
            })
        }).collect::<Vec<_>>(),
    })
}

/// Instruments that share a release line, or have none (development, unreachable).
#[derive(Debug)]
pub struct LineGroup<'a> {
    /// "26.2", "development" or "unreachable".
    pub line: String,
    pub instruments: Vec<&'a (InstrumentStatus, Standing)>,
}

/// The fleet by release line, newest line first, then development servers, then the
/// instruments that did not answer; by name within a group.
pub fn by_line(fleet: &Fleet) -> Vec<LineGroup<'_>> {
    // (rank, major, minor): release lines first, newest first; then the two groups with no line.
    let mut groups: std::collections::BTreeMap<(u8, std::cmp::Reverse<(u64, u64)>), LineGroup<'_>> =
        std::collections::BTreeMap::new();
    for entry in &fleet.instruments {
        let (key, label) = match &entry.0.server_version {
            Ok(v) if !v.is_development() => (
                (0, std::cmp::Reverse((v.major(), v.minor()))),
                format!("{}.{}", v.major(), v.minor()),
            ),
            Ok(_) => ((1, std::cmp::Reverse((0, 0))), "development".to_string()),
            Err(_) => ((2, std::cmp::Reverse((0, 0))), "unreachable".to_string()),
        };
        groups
            .entry(key)
            .or_insert_with(|| LineGroup {
                line: label,
                instruments: Vec::new(),
            })
            .instruments
            .push(entry);
    }
    let mut groups: Vec<LineGroup<'_>> = groups.into_values().collect();
    for group in &mut groups {
        group
            .instruments
            .sort_by(|a, b| a.0.instrument.name.cmp(&b.0.instrument.name));
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UpdateError;
    use crate::instrument::list::Instrument;

    fn entry(
        name: &str,
        version: Option<&str>,
        standing: Standing,
    ) -> (InstrumentStatus, Standing) {
        let status = InstrumentStatus {
            instrument: Instrument {
                name: name.into(),
                host: format!("NDX{name}"),
                pv_prefix: format!("IN:{name}:"),
                scheduled: true,
                groups: Vec::new(),
                target_station: None,
            },
            server_version: version
                .map(|v| v.parse().unwrap())
                .ok_or(UpdateError::NoSuchRelease {
                    release: "x".into(),
                }),
        };
        (status, standing)
    }

    fn fleet() -> Fleet {
        Fleet {
            newest: Some("26.8.1".parse().unwrap()),
            source_error: None,
            instruments: vec![
                entry("ZOOM", Some("26.2.1.1302"), Standing::LinesBehind(1)),
                entry("OFFLINE", None, Standing::Unreachable),
                entry("DEVBOX", Some("0.0.0.42"), Standing::Development),
                entry("ENGINX", Some("26.8.1.1600"), Standing::Newest),
                entry("LARMOR", Some("26.2.0.1234"), Standing::LinesBehind(1)),
                entry("IRIS", Some("25.8.0.1021"), Standing::LinesBehind(2)),
            ],
        }
    }

    #[test]
    fn groups_are_newest_line_first_then_development_then_unreachable() {
        let fleet = fleet();
        let groups = by_line(&fleet);
        let shown: Vec<(String, Vec<&str>)> = groups
            .iter()
            .map(|g| {
                let names = g
                    .instruments
                    .iter()
                    .map(|(s, _)| s.instrument.name.as_str())
                    .collect();
                (g.line.clone(), names)
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("26.8".to_string(), vec!["ENGINX"]),
                ("26.2".to_string(), vec!["LARMOR", "ZOOM"]),
                ("25.8".to_string(), vec!["IRIS"]),
                ("development".to_string(), vec!["DEVBOX"]),
                ("unreachable".to_string(), vec!["OFFLINE"]),
            ]
        );
    }

    #[test]
    fn csv_quotes_every_field_and_ends_lines_with_crlf() {
        let text = csv(&fleet());
        let mut lines = text.split("\r\n");
        assert_eq!(
            lines.next(),
            Some("\"instrument\",\"server version\",\"line\",\"standing\"")
        );
        assert_eq!(
            lines.next(),
            Some("\"ZOOM\",\"26.2.1.1302\",\"26.2\",\"1 release line behind\"")
        );
        assert!(text.ends_with("\r\n"));
    }
}
