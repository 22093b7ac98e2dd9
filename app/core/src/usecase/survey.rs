//! What every look at the client starts from: tidy up after an interrupted install, read the
//! release source once into a [`Catalog`], ask the instrument's server its version, and judge
//! each component. `status`, `check`, `check --prompt` and the window all start here.

use std::path::Path;

use crate::catalog::Catalog;
use crate::client::component::Component;
use crate::client::version::{ClientVersion, ReleaseName, Version};
use crate::client::version_file;
use crate::config::paths;
use crate::config::resolved::Settings;
use crate::error::UpdateError;
use crate::index::UpdaterBuild;
use crate::install::{self, InstallLock, InstallRoot, history};
use crate::instrument::link::{self, InstrumentStatus};
use crate::instrument::list::Instrument;
use crate::source::ReleaseSource;
use crate::usecase::self_update;
use crate::usecase::status::{self, Status};

/// Which server to compare against, as the user asked for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerRequest {
    /// An instrument to ask live (name, host name or PV prefix, in any case).
    pub instrument: Option<String>,
    /// A server version given by hand, for use off the instrument network.
    pub server_version: Option<Version>,
}

/// Where the instrument asked came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentFrom {
    /// `--instrument`, or picked in the window.
    Named,
    /// The machine policy or the user's settings.
    Settings,
    /// None was named: the one used last, as the window starts from.
    LastUsed,
}

impl InstrumentFrom {
    /// As in JSON.
    pub fn id(self) -> &'static str {
        match self {
            InstrumentFrom::Named => "named",
            InstrumentFrom::Settings => "settings",
            InstrumentFrom::LastUsed => "last-used",
        }
    }
}

impl ServerRequest {
    /// The instrument to ask and where it came from: the one named, else (unless a server
    /// version is given) the one the policy or the user's settings name, else the one last used
    /// (remembered in `data_dir`), as the window does.
    pub fn instrument(
        &self,
        settings: &Settings,
        data_dir: &Path,
    ) -> Option<(String, InstrumentFrom)> {
        match (&self.instrument, &self.server_version) {
            (Some(query), _) => Some((query.clone(), InstrumentFrom::Named)),
            (None, Some(_)) => None,
            (None, None) => settings
                .instrument
                .clone()
                .map(|name| (name, InstrumentFrom::Settings))
                .or_else(|| {
                    paths::last_instrument(data_dir).map(|name| (name, InstrumentFrom::LastUsed))
                }),
        }
    }
}

/// What is known of the server: the instrument asked, if any, and the server version (none when
/// nothing names one), or why it could not be read.
#[derive(Debug)]
pub struct Server {
    pub instrument: Option<Instrument>,
    /// Where the instrument asked came from, when one was.
    pub from: Option<InstrumentFrom>,
    pub version: Result<Option<Version>, UpdateError>,
}

/// Reads the server version live from the instrument to ask, remembering it as the last one
/// used, or takes the version given by hand. Only a failure to find the instrument is an error
/// here; an instrument that does not answer is reported in [`Server::version`].
pub fn ask_server(settings: &Settings, request: &ServerRequest) -> Result<Server, UpdateError> {
    let data_dir = paths::data_dir();
    let Some((query, from)) = request.instrument(settings, &data_dir) else {
        return Ok(Server {
            instrument: None,
            from: None,
            version: Ok(request.server_version.clone()),
        });
    };
    let instrument = link::find(&settings.ca, &query)?;
    paths::remember_instrument(&data_dir, &instrument.name);
    let version = link::server_version(&settings.ca, &instrument).map(Some);
    Ok(Server {
        instrument: Some(instrument),
        from: Some(from),
        version,
    })
}

/// The instrument to start from when none is named: the policy's or the user's, else the one
/// last used (remembered in `data_dir`).
pub fn preferred_instrument(settings: &Settings, data_dir: &Path) -> Option<String> {
    settings
        .instrument
        .clone()
        .or_else(|| paths::last_instrument(data_dir))
}

/// Every instrument in `CS:INSTLIST` with the server version it answered, read in one batch.
pub fn instruments(settings: &Settings) -> Result<Vec<InstrumentStatus>, UpdateError> {
    let list = link::instrument_list(&settings.ca)?;
    Ok(link::server_versions(&settings.ca, list))
}

/// Reads the source once, for every question of this run.
pub fn read_catalog(settings: &Settings) -> Result<Catalog, UpdateError> {
    settings.source()?.read_catalog()
}

/// Everything `status` and `check` report.
#[derive(Debug)]
pub struct Survey {
    pub catalog: Catalog,
    pub server: Server,
    pub status: Status,
}

/// Tidies up, reads the catalog, asks the server and judges each component. An instrument that
/// does not answer still gets a status (verdicts `unknown`); its error stays in `server`.
pub fn survey(settings: &Settings, request: &ServerRequest) -> Result<Survey, UpdateError> {
    recover_if_idle(&settings.install_root);
    let catalog = read_catalog(settings)?;
    let server = ask_server(settings, request)?;
    let version = server.version.as_ref().ok().and_then(Option::as_ref);
    let status = status::evaluate(&settings.install_root, &catalog.releases, version)?;
    Ok(Survey {
        catalog,
        server,
        status,
    })
}

/// Read-only looks tidy up after an interrupted install too, when nobody else is installing and
/// the install root is writable; otherwise the next install does it.
pub fn recover_if_idle(root: &InstallRoot) {
    if !root.state_dir().exists() {
        return;
    }
    if let Some(_lock) = InstallLock::try_acquire(root)
        && let Err(e) = install::journal::recover(root)
    {
        tracing::warn!("could not tidy up after an interrupted install: {e}");
    }
}

/// Everything the window's main view shows for one server version, from one read of the source.
#[derive(Debug, Clone)]
pub struct Overview {
    pub catalog: Catalog,
    pub status: Status,
    /// The version each component would roll back to.
    pub previous: Vec<(Component, Option<ClientVersion>)>,
    /// The target release's notes, when the source has them.
    pub notes: Option<(ReleaseName, String)>,
    /// A newer build of the updater itself, when the signed index lists one.
    pub updater_offer: Option<UpdaterBuild>,
    /// Every install and rollback on this install root, oldest first.
    pub history: Vec<history::Entry>,
}

impl Overview {
    pub fn previous(&self, component: Component) -> Option<&ClientVersion> {
        self.previous
            .iter()
            .find(|(c, _)| *c == component)
            .and_then(|(_, v)| v.as_ref())
    }
}

/// Reads the source once and answers everything the window shows against `server`.
pub fn overview(
    source: &dyn ReleaseSource,
    root: &InstallRoot,
    server: Option<&Version>,
) -> Result<Overview, UpdateError> {
    let catalog = source.read_catalog()?;
    let status = status::evaluate(root, &catalog.releases, server)?;
    let previous = Component::ALL
        .into_iter()
        .map(|c| (c, version_file::installed(&root.previous_dir(c))))
        .collect();
    let notes = target_notes(source, &status);
    let updater_offer = self_update::offer(&catalog).ok().flatten().cloned();
    let history = history::read(root).unwrap_or_else(|e| {
        tracing::warn!("could not read the install history: {e}");
        Vec::new()
    });
    Ok(Overview {
        catalog,
        status,
        previous,
        notes,
        updater_offer,
        history,
    })
}

/// The notes of the release that the status's targets come from, when the source has them.
pub fn target_notes(source: &dyn ReleaseSource, status: &Status) -> Option<(ReleaseName, String)> {
    status
        .components
        .iter()
        .find_map(|c| c.target.as_ref())
        .and_then(|kit| Some((kit.release.clone(), source.release_notes(&kit.release)?)))
}
