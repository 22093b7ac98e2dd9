//! The core's error type. Every variant names what it concerns (path, release, expected, actual)
//! so that the front ends can show it as is; [`UpdateError::kind`] tells them which exit code it
//! maps to.

use std::io;
use std::path::PathBuf;

use crate::client::component::Component;
use crate::client::version::ParseVersionError;
use crate::instrument::ca::CaError;
use crate::release::KitStatus;

/// The classes of failure that scripts can tell apart by exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Anything else: I/O, another install running, nothing to roll back.
    Failure,
    /// Checksum, signature, incomplete or corrupt kit: nothing was changed.
    Integrity,
    /// The release share or mirror could not be read.
    SourceUnreachable,
    /// The request itself is wrong.
    Usage,
    /// An instrument did not answer over Channel Access, or answered nonsense.
    InstrumentUnreachable,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    // The OS error is part of the message and not a `source`, so that printing the error with
    // its chain says it once.
    #[error("cannot read the release source {location}: {cause}")]
    SourceUnreachable { location: String, cause: io::Error },

    #[error("cannot read the EPICS_UTILS folder {path}: {cause}")]
    EpicsUtilsUnreachable { path: PathBuf, cause: io::Error },

    #[error("{location} holds no release folders; did you mean {}?", suggestion.display())]
    NotAReleaseShare {
        location: String,
        suggestion: PathBuf,
    },

    #[error("release {release} is not in the release source")]
    NoSuchRelease { release: String },

    #[error("the release source has no complete {component} kit for {wanted}")]
    NoMatchingKit {
        component: Component,
        wanted: String,
    },

    #[error("the {component} kit of release {release} cannot be installed: {status}")]
    KitNotInstallable {
        component: Component,
        release: String,
        status: KitStatus,
    },

    #[error("checksum mismatch for {path}: expected SHA-256 {expected}, got {actual}")]
    ChecksumMismatch {
        path: String,
        expected: String,
        actual: String,
    },

    #[error("{path} is truncated: expected {expected} bytes, got {actual}")]
    Truncated {
        path: String,
        expected: u64,
        actual: u64,
    },

    #[error(
        "{path} is not a valid 7-Zip archive ({detail}); the kit on the release source is damaged"
    )]
    CorruptArchive { path: String, detail: String },

    #[error(
        "{archive} holds an entry that would be written outside the install folder: '{entry}' ({reason})"
    )]
    UnsafeArchiveEntry {
        archive: String,
        entry: String,
        reason: &'static str,
    },

    #[error(
        "the {component} kit of release {release} unpacked without {program}, so it is not a working {component}; the kit on the release source is damaged"
    )]
    KitWithoutProgram {
        component: Component,
        release: String,
        program: String,
    },

    #[error("{path} says {actual}, but the kit is release {expected}")]
    VersionMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("{path} is not a version file the updater understands: {detail}")]
    BadVersionFile { path: PathBuf, detail: String },

    #[error("could not {op} {path}: {cause}")]
    Io {
        op: &'static str,
        path: PathBuf,
        cause: io::Error,
    },

    #[error(
        "another ibex-updater ({holder}) is changing {root}; wait for it to finish, then try again"
    )]
    Locked { root: PathBuf, holder: String },

    #[error("{component} is running from {path} (process {pid}); close it, then try again")]
    ClientRunning {
        component: Component,
        path: PathBuf,
        pid: u32,
    },

    /// Windows refused a move or delete for longer than the retries wait: a program holds a file
    /// in the folder open.
    #[error(
        "{path} is in use by another program ({detail}); close the IBEX GUI, genie_python and any window or editor open in that folder, then try again (if nothing has it open, this account may not change it)"
    )]
    InUse { path: PathBuf, detail: String },

    #[error(
        "the IBEX GUI is not installed: {path} does not exist; install it with `ibex-updater install`"
    )]
    GuiNotInstalled { path: PathBuf },

    #[error("could not start {path}: {cause}")]
    StartFailed { path: PathBuf, cause: io::Error },

    #[error("there is no previous {component} to roll back to (looked in {path})")]
    NothingToRollBack { component: Component, path: PathBuf },

    #[error(
        "{path} is damaged and the interrupted install it describes cannot be recovered automatically: {detail}"
    )]
    BadJournal { path: PathBuf, detail: String },

    #[error(transparent)]
    InstrumentUnreachable(CaError),

    #[error("{pv} holds something the updater cannot use: {detail}")]
    BadPv { pv: String, detail: String },

    #[error("there is no instrument '{name}' in CS:INSTLIST; known instruments: {known}")]
    UnknownInstrument { name: String, known: String },

    #[error(transparent)]
    InvalidVersion(#[from] ParseVersionError),

    #[error(
        "no release source is set: pass --source, set IBEX_UPDATER_SOURCE, or ask IT to set release_source in {policy} (try --demo to see the updater work without the ISIS network)"
    )]
    NoReleaseSource { policy: PathBuf },

    #[error(
        "the machine policy fixes {setting} to {fixed} and does not let users change it (asked for {wanted})"
    )]
    PolicyFixesSetting {
        setting: String,
        fixed: String,
        wanted: String,
    },

    #[error("{what} {path} is not valid: {detail}")]
    BadConfigFile {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },

    #[error("the Channel Access address list is not valid: {detail}")]
    BadCaAddresses { detail: String },

    #[error("{flag} {value} is not {expected}")]
    InvalidNumber {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error("{command} needs an instrument: pass --instrument NAME (or --server-version)")]
    NeedsServer { command: &'static str },

    #[error(
        "the server runs a development build ({version}), which no release matches; name a release with --version"
    )]
    DevelopmentServer { version: String },

    #[error("{location} has no signed index.json, so {purpose}")]
    NoSignedIndex {
        location: String,
        purpose: &'static str,
    },

    #[error(
        "{url}: plain http:// is used only when the machine policy sets allow_http = true; use https://"
    )]
    PlainHttpRefused { url: String },

    #[error(
        "{path}, a CA certificate that the machine policy trusts (extra_ca_certs), cannot be used: {detail}"
    )]
    BadCaCert { path: PathBuf, detail: String },

    #[error(
        "{url}: the server's TLS certificate was refused, because {reason}; nothing was downloaded from it"
    )]
    UntrustedCertificate { url: String, reason: String },

    #[error("the proxy {proxy} is not usable: {detail}")]
    BadProxy { proxy: String, detail: String },

    #[error("could not set up HTTP: {detail}")]
    HttpSetup { detail: String },

    #[error("trusted_keys in the machine policy ({policy}): {detail}")]
    BadTrustedKey { policy: PathBuf, detail: String },

    #[error("{path} already exists; move it away first (a key is never overwritten)")]
    KeyExists { path: PathBuf },

    #[error("{path} is not a usable minisign secret key: {detail}")]
    BadSecretKey { path: PathBuf, detail: String },

    #[error("could not make a key pair: {detail}")]
    KeyGeneration { detail: String },

    #[error(
        "--serial {serial} is not above the serial of the index already published ({previous}); updaters that saw it would refuse the new one"
    )]
    SerialNotAbove { serial: u64, previous: u64 },

    #[error(
        "{path} is larger than {cap} bytes, far more than such a file holds, so it was not read"
    )]
    TooLarge { path: String, cap: u64 },

    #[error("could not write {what}: {detail}")]
    Serialize { what: String, detail: String },

    #[error("the release index of {location} is not valid: {detail}")]
    BadIndex { location: String, detail: String },

    #[error("the release index of {location} is not validly signed: {detail}")]
    BadIndexSignature { location: String, detail: String },

    #[error(
        "the release index of {location} is signed by key {key_id}, which this updater does not trust; add the release team's public key to trusted_keys in the machine policy"
    )]
    UnknownSigningKey { location: String, key_id: String },

    #[error(
        "the release index of {location} has serial {serial}, older than serial {seen} seen before: someone may be serving an old index to hold back a fix (rollback attack); ask the release team"
    )]
    IndexRollback {
        location: String,
        serial: u64,
        seen: u64,
    },

    #[error(
        "{path}, where the updater remembers the newest release index it has seen, is damaged ({detail}); without it an older index could be replayed, so none is trusted. Ask IT: remove it only if nothing has tampered with this machine"
    )]
    BadSerialStore { path: PathBuf, detail: String },

    #[error(
        "the release index of {location} expired {days_ago} day(s) ago; the release team must publish it again (an attacker could be holding back updates)"
    )]
    IndexExpired { location: String, days_ago: u64 },

    #[error(
        "the release index of {location} is signed by key {key_id}, which the release team retired for key {successor}: it is an old index served again, or signed by a key that may be compromised"
    )]
    RetiredSigningKey {
        location: String,
        key_id: String,
        successor: String,
    },

    #[error(
        "the release index of {location} names the source '{found}', but this location has served source '{seen}': someone may be serving another source's index here. If the release team really renamed it, IT removes {} for this user", store.display()
    )]
    IndexSourceChanged {
        location: String,
        seen: String,
        found: String,
        store: PathBuf,
    },

    #[error(
        "the release index of {location} is in format {format}, but this location has served format {seen}: an old index may be being served again; ask the release team"
    )]
    IndexFormatDowngrade {
        location: String,
        format: u32,
        seen: u32,
    },

    #[error("the manifest {path} of {location} cannot be used: {detail}")]
    BadManifest {
        location: String,
        path: String,
        detail: String,
    },

    #[error(
        "{url} was not read within {seconds} s in all (retries included), far longer than signed metadata of its size needs; it was not used"
    )]
    MetadataTooSlow { url: String, seconds: u64 },

    #[error("cannot {what}: {detail}")]
    CannotPublish { what: &'static str, detail: String },

    #[error("could not download {url} after {attempts} attempts: {detail}")]
    DownloadFailed {
        url: String,
        attempts: u32,
        detail: String,
    },

    #[error("{url}: the server answered {status}")]
    HttpStatus { url: String, status: String },

    #[error(
        "{location} has no signed index.json, so nothing vouches for its kits: its releases can be compared but not installed. Either the release team publishes an index there (`ibex-updater publish`, see packaging/RELEASING.md), or IT allows unsigned shares with allow_unsigned = true in the machine policy {} (IBEX_UPDATER_POLICY names another file; the MSI property ALLOW_UNSIGNED=1 sets it)", policy.display()
    )]
    UnsignedSource { location: String, policy: PathBuf },

    #[error(
        "{location} served a signed index.json before (serial {serial}) and has none now: someone may have removed it to get unchecked kits installed, so nothing is installed from it, even though the machine policy allows unsigned shares. If the release team really removed the index, IT resets this for the user by removing the lines of [locations.\"{location}\"] from {}", store.display()
    )]
    SignedIndexGone {
        location: String,
        serial: u64,
        store: PathBuf,
    },

    #[error(
        "the published updater build {path} cannot be used, so the running one was kept: {detail}"
    )]
    BadUpdaterBuild { path: String, detail: String },

    #[error(
        "the install history {} cannot be used to tell what the last install changed ({detail}), so a rollback of the whole client would be a guess: name the component to roll back with --component ibex-gui or --component genie-python", path.display()
    )]
    HistoryUnusable { path: PathBuf, detail: String },

    #[error(
        "{} is not a real folder (a link, or a file): the updater never follows a link where it keeps its own folders, since another account may have planted it. Remove it, then try again", path.display()
    )]
    UnsafeStateFolder { path: PathBuf },

    #[error(
        "{} cannot be rolled back to or switched to: {detail}; nothing was changed. Install that release again instead", tree.display()
    )]
    KeptTreeChanged { tree: PathBuf, detail: String },

    #[error("the install was cancelled before anything was swapped in")]
    Cancelled,

    /// Raised only by the test hook `IBEX_UPDATER_TEST_FAIL_AT`, in a `test-hooks` build.
    #[cfg(feature = "test-hooks")]
    #[error("failed on purpose at test checkpoint '{checkpoint}'")]
    TestFailure { checkpoint: String },
}

impl UpdateError {
    /// Which exit code the error maps to. Every variant is listed, so a new one must be placed.
    pub fn kind(&self) -> ErrorKind {
        match self {
            UpdateError::SourceUnreachable { .. }
            | UpdateError::EpicsUtilsUnreachable { .. }
            | UpdateError::DownloadFailed { .. }
            | UpdateError::HttpStatus { .. }
            | UpdateError::UntrustedCertificate { .. }
            | UpdateError::MetadataTooSlow { .. } => ErrorKind::SourceUnreachable,
            UpdateError::KitNotInstallable { .. }
            | UpdateError::ChecksumMismatch { .. }
            | UpdateError::Truncated { .. }
            | UpdateError::CorruptArchive { .. }
            | UpdateError::UnsafeArchiveEntry { .. }
            | UpdateError::VersionMismatch { .. }
            | UpdateError::KitWithoutProgram { .. }
            | UpdateError::BadIndex { .. }
            | UpdateError::BadIndexSignature { .. }
            | UpdateError::UnknownSigningKey { .. }
            | UpdateError::IndexRollback { .. }
            | UpdateError::BadSerialStore { .. }
            | UpdateError::IndexExpired { .. }
            | UpdateError::RetiredSigningKey { .. }
            | UpdateError::IndexSourceChanged { .. }
            | UpdateError::IndexFormatDowngrade { .. }
            | UpdateError::BadManifest { .. }
            | UpdateError::UnsignedSource { .. }
            | UpdateError::SignedIndexGone { .. }
            | UpdateError::TooLarge { .. }
            | UpdateError::BadUpdaterBuild { .. } => ErrorKind::Integrity,
            UpdateError::InvalidVersion(_)
            | UpdateError::UnknownInstrument { .. }
            | UpdateError::NoReleaseSource { .. }
            | UpdateError::NotAReleaseShare { .. }
            | UpdateError::PolicyFixesSetting { .. }
            | UpdateError::BadConfigFile { .. }
            | UpdateError::BadCaAddresses { .. }
            | UpdateError::InvalidNumber { .. }
            | UpdateError::NeedsServer { .. }
            | UpdateError::NoSignedIndex { .. }
            | UpdateError::PlainHttpRefused { .. }
            | UpdateError::BadProxy { .. }
            | UpdateError::BadCaCert { .. }
            | UpdateError::BadTrustedKey { .. }
            | UpdateError::KeyExists { .. }
            | UpdateError::BadSecretKey { .. }
            | UpdateError::SerialNotAbove { .. }
            | UpdateError::CannotPublish { .. } => ErrorKind::Usage,
            UpdateError::InstrumentUnreachable(_) | UpdateError::BadPv { .. } => {
                ErrorKind::InstrumentUnreachable
            }
            UpdateError::NoSuchRelease { .. }
            | UpdateError::NoMatchingKit { .. }
            | UpdateError::DevelopmentServer { .. }
            | UpdateError::BadVersionFile { .. }
            | UpdateError::Io { .. }
            | UpdateError::Locked { .. }
            | UpdateError::ClientRunning { .. }
            | UpdateError::InUse { .. }
            | UpdateError::GuiNotInstalled { .. }
            | UpdateError::StartFailed { .. }
            | UpdateError::NothingToRollBack { .. }
            | UpdateError::BadJournal { .. }
            | UpdateError::HttpSetup { .. }
            | UpdateError::KeyGeneration { .. }
            | UpdateError::Serialize { .. }
            | UpdateError::HistoryUnusable { .. }
            | UpdateError::UnsafeStateFolder { .. }
            | UpdateError::Cancelled => ErrorKind::Failure,
            UpdateError::KeptTreeChanged { .. } => ErrorKind::Integrity,
            #[cfg(feature = "test-hooks")]
            UpdateError::TestFailure { .. } => ErrorKind::Failure,
        }
    }

    /// Wraps a serialisation failure (which would be a bug) with what was being written.
    pub fn serialize(what: impl std::fmt::Display) -> impl FnOnce(String) -> UpdateError {
        let what = what.to_string();
        move |detail| UpdateError::Serialize { what, detail }
    }

    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> UpdateError {
        let path = path.into();
        move |cause| UpdateError::Io { op, path, cause }
    }
}
