//! The command line: a contract that IT's scripts rely on, documented in the README.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ibex_updater_core::client::component::Component;
use ibex_updater_core::client::version::{ReleaseName, Version};

#[derive(Debug, Parser)]
#[command(
    name = "ibex-updater",
    version,
    about = "Installs and updates the IBEX client to match an instrument's server"
)]
pub struct Cli {
    /// Release share folder (or mirror URL). Default: $IBEX_UPDATER_SOURCE, then the policy file.
    #[arg(
        long,
        global = true,
        env = "IBEX_UPDATER_SOURCE",
        value_name = "PATH|URL"
    )]
    pub source: Option<String>,

    /// Where Client_E4 and Python3 live. Default: $IBEX_UPDATER_INSTALL_ROOT, the policy file,
    /// then C:\Instrument\Apps on Windows or the user data folder elsewhere.
    #[arg(
        long,
        global = true,
        env = "IBEX_UPDATER_INSTALL_ROOT",
        value_name = "DIR"
    )]
    pub install_root: Option<PathBuf>,

    /// Print JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Never prompt; write plain log lines instead of a progress bar.
    #[arg(long, global = true)]
    pub silent: bool,

    /// Use a built-in demo release share and install root (generated on first use).
    #[arg(long, global = true)]
    pub demo: bool,

    /// How long to wait for another updater working on the same install root.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,

    /// How long an HTTP mirror may keep the updater waiting (to connect, or for the next bytes)
    /// before the download is retried.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30.0)]
    pub http_timeout: f64,

    /// How long Channel Access reads from instruments may take.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 2.0)]
    pub ca_timeout: f64,

    /// Without a command, the window opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show installed versions, target kits and verdicts.
    Status(ServerArgs),
    /// Like status; the exit code is the most urgent verdict (0, 10, 11 or 12).
    Check(CheckArgs),
    /// Install the kits that match a server version, a named release, or the newest release.
    Install(InstallArgs),
    /// Start the IBEX GUI on an instrument, after checking that the client matches its server.
    Launch(LaunchArgs),
    /// Undo the last install or rollback as a unit (with --component, put back that component's
    /// previous version).
    Rollback(ComponentArgs),
    /// Every install and rollback: when, by whom, from and to which versions, and how it ended.
    History,
    /// List the releases in the source and the kits each one holds.
    Releases,
    /// List the instruments in CS:INSTLIST with the server version each one runs.
    Instruments,
    /// Which release every instrument runs, and how far behind the newest release it is.
    Fleet(FleetArgs),
    /// Serve the demo's simulated instrument fleet over Channel Access on loopback until killed.
    DemoFleet(DemoFleetArgs),
    /// Check the installed files against the manifest in the source's signed index.
    Verify(ComponentArgs),
    /// Write a release share's signed index (index.json and index.json.minisig).
    Publish(PublishArgs),
    /// Make a key pair for signing release indexes (minisign format).
    Keygen(KeygenArgs),
    /// Update ibex-updater itself from the builds the signed index lists.
    SelfUpdate(SelfUpdateArgs),
    /// Delete the superseded trees in an install root's trash. The updater starts this itself,
    /// in the background, after an install; nobody needs to.
    #[command(hide = true)]
    EmptyTrash(EmptyTrashArgs),
}

#[derive(Debug, Args)]
pub struct EmptyTrashArgs {
    /// The install root whose trash to empty.
    pub root: PathBuf,
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Print CSV (for a spreadsheet) instead of a table.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
}

#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// The instrument to open the GUI on (name, host name or PV prefix). Default: the one the
    /// GUI last used, then the one the updater last used.
    #[arg(long, value_name = "NAME")]
    pub instrument: Option<String>,
    /// Start at once, without asking the instrument's server.
    #[arg(long)]
    pub no_check: bool,
    /// Passed to the IBEX GUI as they are.
    #[arg(last = true, value_name = "GUI ARGS")]
    pub gui_args: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct SelfUpdateArgs {
    /// Only say whether a newer build is published (exit 10 when one is).
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The release share to index.
    #[arg(long, value_name = "DIR")]
    pub share: PathBuf,
    /// The minisign secret key to sign with.
    #[arg(long, value_name = "SECRET_KEY_FILE")]
    pub key: PathBuf,
    /// Where to write the index (default: the share itself).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The index's serial (default: one more than the index already there, or 1).
    #[arg(long, value_name = "N")]
    pub serial: Option<u64>,
    /// A name for this release source, written into the index (default: the one already there):
    /// updaters remember the newest serial of each name, wherever they fetch the index from.
    #[arg(long, value_name = "NAME")]
    pub source_id: Option<String>,
    /// How long the index stays valid; publish again before it expires.
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub valid_days: u64,
    /// Sign the index already there again, with a new serial and expiry, reading no archive.
    #[arg(long, conflicts_with = "audit")]
    pub refresh: bool,
    /// Read every archive the index lists again; report (exit 3) any that no longer matches.
    #[arg(long)]
    pub audit: bool,
    /// Move to the key given with --key: the old secret key signs a rotation statement.
    #[arg(long, value_name = "OLD_KEY", conflicts_with = "audit")]
    pub rotate_from: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write <name>.key (secret) and <name>.pub.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
    /// The key files' name: writes <name>.key and <name>.pub.
    #[arg(long, default_value = "ibex-updater")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct DemoFleetArgs {
    /// UDP search port (and TCP port when free); clients set EPICS_CA_SERVER_PORT to it.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Serve a generated fleet of this many instruments (all answering, 1 to 10000) instead of
    /// the demo's.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub size: Option<u16>,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The instrument server's version (CS:VERSION:SVN:REV), e.g. 26.2.0.1234, for offline use.
    #[arg(long, value_name = "V", conflicts_with = "instrument")]
    pub server_version: Option<Version>,

    /// Read the server version live from this instrument (name, host name or PV prefix).
    #[arg(long, value_name = "NAME")]
    pub instrument: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// When the client does not match, open a small window that offers to update (for the IBEX
    /// GUI's launcher or a logon script). Nothing is shown when it matches.
    #[arg(long)]
    pub prompt: bool,

    /// Run by the logon entry that the MSI registers: does nothing unless the machine policy
    /// turns `auto_check` on, runs at most once per `check_interval_hours`, and uses the policy's
    /// or the last used instrument.
    #[arg(long, requires = "prompt")]
    pub logon: bool,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Install exactly this release folder, e.g. 26.2.1 or 26.2.1-hotfix.
    #[arg(long, value_name = "V", conflicts_with_all = ["server_version", "instrument"])]
    pub version: Option<ReleaseName>,

    #[command(flatten)]
    pub components: ComponentArgs,

    /// Reinstall even when the same build is already installed.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ComponentArgs {
    /// Which part of the client: the IBEX GUI, genie_python, or both.
    #[arg(long, value_enum, default_value_t = Which::All)]
    pub component: Which,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    IbexGui,
    GeniePython,
    All,
}

impl Which {
    pub fn components(self) -> Vec<Component> {
        match self {
            Which::IbexGui => vec![Component::IbexGui],
            Which::GeniePython => vec![Component::GeniePython],
            Which::All => Component::ALL.to_vec(),
        }
    }
}
