//! The fleet at a glance: which instruments run which release, and how far behind the newest
//! release each one is, from one batch read of CS:INSTLIST and every version PV.

use std::collections::BTreeSet;

use crate::catalog::Catalog;
use crate::client::version::Version;
use crate::config::resolved::Settings;
use crate::error::UpdateError;
use crate::instrument::link::InstrumentStatus;
use crate::usecase::survey;

/// Where one instrument's server stands against the release source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// On the newest release line, at its newest patch (or past it).
    Newest,
    /// On the newest line, behind its newest patch.
    PatchBehind,
    /// This many release lines (major.minor) are newer than the server's.
    LinesBehind(usize),
    Development,
    Unreachable,
    /// The release source could not be read, so there is nothing to compare with.
    Unknown,
}

impl Standing {
    pub fn text(self) -> String {
        match self {
            Standing::Newest => "newest".into(),
            Standing::PatchBehind => "a patch behind".into(),
            Standing::LinesBehind(1) => "1 release line behind".into(),
            Standing::LinesBehind(n) => format!("{n} release lines behind"),
            Standing::Development => "development".into(),
            Standing::Unreachable => "unreachable".into(),
            Standing::Unknown => "unknown".into(),
        }
    }
}

#[derive(Debug)]
pub struct Fleet {
    /// The newest plain release in the source, when it could be read.
    pub newest: Option<Version>,
    /// Why the source could not be read (the fleet is listed all the same).
    pub source_error: Option<UpdateError>,
    pub instruments: Vec<(InstrumentStatus, Standing)>,
}

/// Reads the fleet, and the release source to compare it with.
pub fn fleet(settings: &Settings) -> Result<Fleet, UpdateError> {
    let instruments = survey::instruments(settings)?;
    let (lines, newest, source_error) = match survey::read_catalog(settings) {
        Ok(catalog) => {
            let (lines, newest) = release_lines(&catalog);
            (lines, newest, None)
        }
        Err(e) => (BTreeSet::new(), None, Some(e)),
    };
    let instruments = instruments
        .into_iter()
        .map(|status| {
            let standing = standing(&status, &lines, newest.as_ref());
            (status, standing)
        })
        .collect();
    Ok(Fleet {
        newest,
        source_error,
        instruments,
    })
}

/// The (major, minor) of every plain release, and the newest plain release.
fn release_lines(catalog: &Catalog) -> (BTreeSet<(u64, u64)>, Option<Version>) {
    let plain: Vec<&Version> = catalog
        .releases
        .iter()
        .filter(|r| r.name.is_plain())
        .map(|r| &r.name.version)
        .collect();
    let lines = plain.iter().map(|v| (v.major(), v.minor())).collect();
    let newest = plain.into_iter().max_by(|a, b| a.cmp_release(b)).cloned();
    (lines, newest)
}

fn standing(
    status: &InstrumentStatus,
    lines: &BTreeSet<(u64, u64)>,
    newest: Option<&Version>,
) -> Standing {
    let server = match &status.server_version {
        Ok(server) if server.is_development() => return Standing::Development,
        Ok(server) => server,
        Err(_) => return Standing::Unreachable,
    };
    let Some(newest) = newest else {
        return Standing::Unknown;
    };
    let newer_lines = lines
        .iter()
        .filter(|&&line| line > (server.major(), server.minor()))
        .count();
    if newer_lines > 0 {
        Standing::LinesBehind(newer_lines)
    } else if server.same_line(newest) && server.cmp_release(newest).is_lt() {
        Standing::PatchBehind
    } else {
        Standing::Newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::list::Instrument;

    fn status(version: Result<&str, ()>) -> InstrumentStatus {
        InstrumentStatus {
            instrument: Instrument {
                name: "LARMOR".into(),
                host: "NDXLARMOR".into(),
                pv_prefix: "IN:LARMOR:".into(),
                scheduled: true,
                groups: Vec::new(),
                target_station: None,
            },
            server_version: version.map(|v| v.parse().unwrap()).map_err(|()| {
                UpdateError::NoSuchRelease {
                    release: "x".into(),
                }
            }),
        }
    }

    #[test]
    fn counts_release_lines_and_patches_behind() {
        let lines: BTreeSet<_> = [(25, 8), (26, 2), (26, 8)].into();
        let newest: Version = "26.8.1".parse().unwrap();
        let judge = |v| standing(&status(v), &lines, Some(&newest));
        assert_eq!(judge(Ok("26.8.1.1600")), Standing::Newest);
        assert_eq!(judge(Ok("26.8.0.1500")), Standing::PatchBehind);
        assert_eq!(judge(Ok("26.2.1.1302")), Standing::LinesBehind(1));
        assert_eq!(judge(Ok("25.2.0")), Standing::LinesBehind(3));
        assert_eq!(judge(Ok("0.0.0.42")), Standing::Development);
        assert_eq!(judge(Err(())), Standing::Unreachable);
        assert_eq!(
            standing(&status(Ok("26.8.1")), &lines, None),
            Standing::Unknown
        );
    }
}
