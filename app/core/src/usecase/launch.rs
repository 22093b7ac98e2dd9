//! `launch`: the IBEX GUI started through the updater, so that every start checks the client
//! against the instrument, at no cost when nothing is wrong.
//!
//! 1. Which instrument: the one named, else the one the GUI itself last used (its preference
//!    file), else the one the updater last used.
//! 2. A quick check of that instrument's server version against the installed client: a silent
//!    instrument or a development server never holds the start up.
//! 3. The GUI's preference is pointed at the instrument, unless the GUI is running (it rewrites
//!    the file when it closes).
//! 4. The GUI is started detached, in `Client_E4`, and the updater exits.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::client::component::Component;
use crate::client::gui_preference::{self, GuiInstrument};
use crate::client::version::{ClientVersion, Version};
use crate::client::version_file;
use crate::config::paths;
use crate::config::resolved::Settings;
use crate::error::UpdateError;
use crate::install::InstallRoot;
use crate::install::running;
use crate::instrument::ca::CaConfig;
use crate::instrument::link;
use crate::instrument::list::Instrument;
use crate::usecase::survey;

/// How long the check waits for the server when the policy says nothing.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the instrument came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentFrom {
    Named,
    GuiPreference,
    LastUsed,
}

impl InstrumentFrom {
    pub fn id(self) -> &'static str {
        match self {
            InstrumentFrom::Named => "named",
            InstrumentFrom::GuiPreference => "gui-preference",
            InstrumentFrom::LastUsed => "last-used",
        }
    }
}

/// What the quick check found.
#[derive(Debug)]
pub enum Check {
    /// `--no-check`.
    Skipped,
    /// No instrument is known to check against.
    NoInstrument,
    /// The instrument did not answer (or answered nonsense) in time.
    NoAnswer(UpdateError),
    Development(Version),
    /// Both components are at the server's release or a later patch of its line.
    Matches(Version),
    /// The installed client is not at the server's release: a closer look against the release
    /// source decides whether to ask.
    Differs(Version),
}

/// What `launch` decided before starting anything.
#[derive(Debug)]
pub struct Prepared {
    pub instrument: Option<(GuiInstrument, InstrumentFrom)>,
    /// Why the instrument asked for could not be looked up (the GUI then opens on its own).
    pub lookup_failed: Option<UpdateError>,
    pub check: Check,
}

/// What became of the GUI's preference file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    Written,
    Unchanged,
    /// The GUI is running: it rewrites the file when it closes, so it was not touched.
    LeftAlone,
    /// No instrument to point it at.
    NoInstrument,
}

impl Preference {
    pub fn id(self) -> &'static str {
        match self {
            Preference::Written => "written",
            Preference::Unchanged => "unchanged",
            Preference::LeftAlone => "left-alone",
            Preference::NoInstrument => "no-instrument",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Started {
        pid: u32,
        program: PathBuf,
    },
    /// Nothing was brought up twice.
    AlreadyRunning {
        pid: u32,
        program: PathBuf,
    },
}

/// The GUI's program: `ibex-client.exe` on Windows, `ibex-client` elsewhere.
pub fn gui_program(root: &InstallRoot) -> PathBuf {
    let name = if cfg!(windows) {
        "ibex-client.exe"
    } else {
        "ibex-client"
    };
    root.component_dir(Component::IbexGui).join(name)
}

/// genie_python's console: `genie_python.bat` on Windows, `genie_python.sh` elsewhere.
pub fn genie_python_program(root: &InstallRoot) -> PathBuf {
    let name = if cfg!(windows) {
        "genie_python.bat"
    } else {
        "genie_python.sh"
    };
    root.component_dir(Component::GeniePython).join(name)
}

/// The check's timeout: the policy's, else [`DEFAULT_CHECK_TIMEOUT`].
pub fn check_timeout(settings: &Settings) -> Duration {
    settings
        .policy
        .launch_check_ms
        .map_or(DEFAULT_CHECK_TIMEOUT, Duration::from_millis)
}

/// Steps 1 and 2: the instrument and the quick check.
pub fn prepare(settings: &Settings, named: Option<&str>, check: bool) -> Prepared {
    let quick = CaConfig {
        search: settings.ca.search.clone(),
        timeout: check_timeout(settings),
    };
    let client_dir = settings.install_root.component_dir(Component::IbexGui);
    let in_gui = gui_preference::read(&client_dir).unwrap_or_else(|e| {
        tracing::warn!("ignoring the GUI's instrument preference: {e}");
        None
    });
    let (instrument, lookup_failed) = match (named, in_gui) {
        (Some(query), Some(gui)) if gui.matches(query) => {
            (Some((gui, InstrumentFrom::Named)), None)
        }
        (Some(query), _) => look_up(&quick, query, InstrumentFrom::Named),
        (None, Some(gui)) => (Some((gui, InstrumentFrom::GuiPreference)), None),
        (None, None) => match survey::preferred_instrument(settings, &paths::data_dir()) {
            Some(last) => look_up(&quick, &last, InstrumentFrom::LastUsed),
            None => (None, None),
        },
    };
    // As every command that names an instrument: the next one without a name starts from it.
    if let Some((named, InstrumentFrom::Named)) = &instrument {
        paths::remember_instrument(&paths::data_dir(), &named.name);
    }
    let check = match (&instrument, check) {
        (_, false) => Check::Skipped,
        (None, true) => Check::NoInstrument,
        (Some((gui, _)), true) => quick_check(&quick, &settings.install_root, gui),
    };
    Prepared {
        instrument,
        lookup_failed,
        check,
    }
}

type LookedUp = (Option<(GuiInstrument, InstrumentFrom)>, Option<UpdateError>);

fn look_up(quick: &CaConfig, query: &str, from: InstrumentFrom) -> LookedUp {
    match link::find(quick, query) {
        Ok(found) => {
            let gui = GuiInstrument {
                name: found.name,
                host: found.host,
                pv_prefix: found.pv_prefix,
            };
            (Some((gui, from)), None)
        }
        Err(e) => (None, Some(e)),
    }
}

fn quick_check(quick: &CaConfig, root: &InstallRoot, gui: &GuiInstrument) -> Check {
    let instrument = Instrument {
        name: gui.name.clone(),
        host: gui.host.clone(),
        pv_prefix: gui.pv_prefix.clone(),
        scheduled: false,
        groups: Vec::new(),
        target_station: None,
    };
    let server = match link::server_version(quick, &instrument) {
        Ok(server) => server,
        Err(e) => return Check::NoAnswer(e),
    };
    if server.is_development() {
        return Check::Development(server);
    }
    let at_server = |component| match version_file::installed(&root.component_dir(component)) {
        Some(ClientVersion::Release(v)) => v.same_line(&server) && v.cmp_release(&server).is_ge(),
        // A development client is the developer's business; never held up.
        Some(ClientVersion::Development(_)) => true,
        None => false,
    };
    if Component::ALL.into_iter().all(at_server) {
        Check::Matches(server)
    } else {
        Check::Differs(server)
    }
}

/// Steps 3 and 4: points the GUI at `instrument` unless it is running, and starts it detached
/// with `args`, in `Client_E4`. A GUI already running is not started twice.
pub fn start_gui(
    root: &InstallRoot,
    instrument: Option<&GuiInstrument>,
    args: &[OsString],
) -> Result<(Preference, Started), UpdateError> {
    let program = gui_program(root);
    if !program.is_file() {
        return Err(UpdateError::GuiNotInstalled { path: program });
    }
    let client_dir = root.component_dir(Component::IbexGui);
    if let Some((pid, running)) = running::running_from(&client_dir) {
        return Ok((
            Preference::LeftAlone,
            Started::AlreadyRunning {
                pid,
                program: running,
            },
        ));
    }
    let preference = match instrument {
        Some(instrument) if gui_preference::write(&client_dir, instrument)? => Preference::Written,
        Some(_) => Preference::Unchanged,
        None => Preference::NoInstrument,
    };
    let pid = spawn_detached(&program, args, &client_dir, Console::None)?;
    Ok((preference, Started::Started { pid, program }))
}

/// Opens genie_python's console in a window of its own.
pub fn start_genie_python(root: &InstallRoot) -> Result<u32, UpdateError> {
    let program = genie_python_program(root);
    if !program.is_file() {
        return Err(UpdateError::StartFailed {
            cause: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "genie_python is not installed",
            ),
            path: program,
        });
    }
    let dir = root.component_dir(Component::GeniePython);
    spawn_detached(&program, &[], &dir, Console::New)
}

/// Whether the program gets a console window (genie_python's does; the GUI needs none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Console {
    None,
    New,
}

/// Starts `program` so that it outlives the updater and holds none of its handles: no console
/// or terminal of the updater's, its own process group.
fn spawn_detached(
    program: &Path,
    args: &[OsString],
    dir: &Path,
    console: Console,
) -> Result<u32, UpdateError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    detach(&mut command, console);
    let child = command.spawn().map_err(|cause| UpdateError::StartFailed {
        path: program.to_path_buf(),
        cause,
    })?;
    tracing::info!("started {} (process {})", program.display(), child.id());
    Ok(child.id())
}

#[cfg(windows)]
fn detach(command: &mut Command, console: Console) {
    use std::os::windows::process::CommandExt;
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    const CREATE_NEW_CONSOLE: u32 = 0x0000_0010;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    // Never the updater's console, and never its Ctrl+C.
    let console = match console {
        Console::None => DETACHED_PROCESS,
        Console::New => CREATE_NEW_CONSOLE,
    };
    command.creation_flags(console | CREATE_NEW_PROCESS_GROUP);
}

#[cfg(unix)]
fn detach(command: &mut Command, _console: Console) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}
