//! Installing and rolling back, as one transaction over the components asked for.
//!
//! An install stages every component first (copy with SHA-256, unpack, version files, user
//! files) without touching the installed client; only then does [`journal`] swap them in.
//! A failure before the swap removes the staging folder and changes nothing.

pub mod checkpoint;
pub mod extract;
mod file_checks;
mod fixups;
pub mod history;
pub mod journal;
pub mod kit_files;
pub mod layout;
mod lock;
pub mod mirror;
pub mod reuse;
pub mod running;
mod stage;
pub mod trash;
pub mod tree_record;
pub mod unpack_listed;
pub mod verify;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use fixups::{HISTORY_FILE, INI_FILE};
pub use layout::{InstallRoot, Part};
pub use lock::InstallLock;

use crate::client::component::Component;
use crate::client::ipython_profile::ProfileStep;
use crate::client::release_lines::MixedLines;
use crate::client::version::{ClientVersion, ReleaseName, Version};
use crate::client::version_file;
use crate::digest::{self, Check, Sums};
use crate::error::UpdateError;
use crate::fsx::{self, Durable, Staging};
use crate::progress::NoProgress;
use crate::progress::{Progress, Stage};
use crate::release::{Kit, KitStatus};
use crate::source::ReleaseSource;
use journal::{Journal, Move, TxState};
use kit_files::{KitFiles, Wanted};
use tree_record::RecordedFile;
use unpack_listed::Unpacked;

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Appended to `ibex-client.ini` as `-Djava.rmi.server.hostname`.
    pub hostname: String,
    /// How long to wait for another updater working on the same install root.
    pub lock_wait: Duration,
    /// Sync the staged tree to the disk before the swap, so that a power cut after the commit
    /// cannot leave empty files in the installed client. Off only to measure what it costs.
    pub sync: bool,
    /// The site's EPICS tools folder (policy `epics_utils_source`), mirrored after the client.
    pub epics_utils: Option<PathBuf>,
    /// Trees of each component kept on disk, the installed one included.
    pub keep_releases: usize,
}

/// The installed tree and the one `rollback` restores.
pub const DEFAULT_KEEP: usize = 2;

/// One component that changed version.
#[derive(Debug, Clone)]
pub struct Change {
    pub component: Component,
    pub from: Option<ClientVersion>,
    pub to: Option<ClientVersion>,
    /// The release folder it came from (installs only).
    pub release: Option<ReleaseName>,
    /// The archive's SHA-256 (installs only).
    pub sha256: Option<String>,
    /// How the files got into the new tree (installs only).
    pub files: Option<FilesStaged>,
}

/// How a kit's files reached the staged tree: taken unchanged from a tree already on disk, or
/// unpacked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilesStaged {
    /// The tree kept on this machine for this version was swapped back in: nothing was
    /// downloaded, unpacked or linked.
    pub switched: bool,
    /// A reinstall (`--force`) found the installed tree intact: every file of the kit there and
    /// passing its check, nothing else in it. Nothing was written.
    pub intact: bool,
    /// How each file was checked: `sha256` (the signed manifest's) or `crc32` (the archive
    /// header's, for a share read without a signed index).
    pub check: &'static str,
    pub linked: u64,
    pub copied: u64,
    /// Bytes of the files linked or copied.
    pub taken_bytes: u64,
    pub unpacked: Unpacked,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// What the run found and put right from an earlier, interrupted one.
    pub recovered: Vec<String>,
    pub changes: Vec<Change>,
    /// The EPICS_UTILS mirror, when the policy names a source for it.
    pub epics_utils: Option<EpicsUtils>,
    /// genie_python's per-user step for the user who ran the install.
    pub ipython_profile: Option<ProfileStep>,
    /// Files of the replaced versions that were edited by hand: the new version does not have
    /// the edits, and the rolled-back copy keeps them.
    pub edited: Vec<(Component, Vec<String>)>,
    /// The GUI and genie_python left on different release lines.
    pub mixed_lines: Option<MixedLines>,
}

/// How the EPICS_UTILS mirror went. It never fails the client install it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpicsUtils {
    Mirrored(mirror::MirrorReport),
    /// Left as it was, and why.
    NotUpdated {
        source: PathBuf,
        reason: String,
    },
}

/// Takes the install lock and puts right anything an interrupted run left behind.
pub fn lock_and_recover(
    root: &InstallRoot,
    wait: Duration,
) -> Result<(InstallLock, Vec<String>), UpdateError> {
    fs::create_dir_all(root.path()).map_err(UpdateError::io("create", root.path()))?;
    let lock = InstallLock::acquire(root, wait)?;
    let notes = journal::recover(root)?;
    Ok((lock, notes))
}

/// Installs `kits` (at most one per component) as one transaction.
pub fn install(
    root: &InstallRoot,
    source: &dyn ReleaseSource,
    kits: &[&Kit],
    progress: &dyn Progress,
    options: &InstallOptions,
) -> Result<Report, UpdateError> {
    let (_lock, recovered) = lock_and_recover(root, options.lock_wait)?;
    for kit in kits {
        running::refuse_if_running(kit.component, &root.component_dir(kit.component))?;
    }
    for kit in kits {
        installable(kit)?;
    }
    // Only now, and only for the kits installed, are their file lists read: the signed manifest
    // (fetched), else the archive's header.
    let listed = kits
        .iter()
        .map(|kit| kit_files(source, kit, progress))
        .collect::<Result<Vec<_>, _>>()?;
    let staging = begin(root)?;
    let mut switches = Vec::new();
    let mut changes = Vec::new();
    let mut moves = Vec::new();
    for (kit, (files, archive)) in kits.iter().zip(listed) {
        let installed = root.component_dir(kit.component);
        // The tree to swap in: none when the installed one already is the kit.
        let (staged, tree) = if stage::is_intact(root, kit, &files) {
            tracing::info!(
                "{} {} is intact: nothing to write",
                kit.component,
                kit.release
            );
            let intact = FilesStaged {
                intact: true,
                check: stage::check_kind(&files),
                ..FilesStaged::default()
            };
            (intact, None)
        } else if let Some(tree) = stage::kept_tree(root, kit, &files) {
            let (tree, switch) = stage::switch_to(root, kit, tree, options, staging.path())?;
            switches.push(switch);
            let switched = FilesStaged {
                switched: true,
                check: stage::check_kind(&files),
                ..FilesStaged::default()
            };
            (switched, Some(tree))
        } else {
            let (tree, staged) = prepare(
                root,
                source,
                kit,
                &files,
                archive,
                staging.path(),
                progress,
                options,
            )?;
            (staged, Some(tree))
        };
        changes.push(Change {
            component: kit.component,
            from: version_file::installed(&installed),
            to: kit.version.clone().map(ClientVersion::Release),
            release: Some(kit.release.clone()),
            sha256: kit.sha256.clone(),
            files: Some(staged),
        });
        if let Some(tree) = tree {
            moves.push(component_move(root, kit.component, tree, staging.path()));
        }
    }
    if progress.cancelled() {
        return Err(UpdateError::Cancelled);
    }
    if !moves.is_empty() {
        swap(
            root,
            staging,
            moves,
            switches,
            options.keep_releases,
            progress,
        )?;
    }
    Ok(Report {
        recovered,
        changes,
        ..Report::default()
    })
}

/// A kit that may be installed: complete, with its version known.
fn installable(kit: &Kit) -> Result<&Version, UpdateError> {
    match (&kit.status, &kit.version) {
        (KitStatus::Complete, Some(version)) => Ok(version),
        (status, _) => Err(UpdateError::KitNotInstallable {
            component: kit.component,
            release: kit.release.to_string(),
            status: if *status == KitStatus::Complete {
                KitStatus::MissingVersion
            } else {
                status.clone()
            },
        }),
    }
}

/// The files `kit`'s archive installs, from its signed manifest when the source lists one, else
/// from the archive's header; and the archive, when it had to be found to read its header.
fn kit_files(
    source: &dyn ReleaseSource,
    kit: &Kit,
    progress: &dyn Progress,
) -> Result<(KitFiles, Option<PathBuf>), UpdateError> {
    match &kit.manifest {
        Some(listed) => {
            let manifest = crate::source::manifest(source, listed)?;
            Ok((KitFiles::from_manifest(kit, &manifest), None))
        }
        None => {
            progress.stage(kit.component, Stage::Download, kit.archive_size);
            let archive = source.local_archive(kit, progress)?;
            Ok((KitFiles::from_archive(kit, &archive)?, Some(archive)))
        }
    }
}

/// Puts back the previous version of each of `components` that has one. With `strict`, a
/// component without a previous version is an error; otherwise it is left alone.
pub fn rollback(
    root: &InstallRoot,
    components: &[Component],
    strict: bool,
    progress: &dyn Progress,
    options: &InstallOptions,
) -> Result<Report, UpdateError> {
    let (_lock, recovered) = lock_and_recover(root, options.lock_wait)?;
    let mut targets = Vec::new();
    for &component in components {
        let previous = root.previous_dir(component);
        // A link there is not a tree the updater kept: refused below, never followed.
        if fs::symlink_metadata(&previous).is_ok() {
            targets.push(component);
        } else if strict {
            return Err(UpdateError::NothingToRollBack {
                component,
                path: previous,
            });
        }
    }
    if targets.is_empty() {
        let component = components.first().copied().unwrap_or(Component::IbexGui);
        return Err(UpdateError::NothingToRollBack {
            component,
            path: root.previous_dir(component),
        });
    }
    for &component in &targets {
        running::refuse_if_running(component, &root.component_dir(component))?;
        stage::check_rollback_tree(&root.previous_dir(component))?;
    }
    let staging = begin(root)?;
    let changes = targets
        .iter()
        .map(|&component| Change {
            component,
            from: version_file::installed(&root.component_dir(component)),
            to: version_file::installed(&root.previous_dir(component)),
            release: None,
            sha256: None,
            files: None,
        })
        .collect();
    let moves = targets
        .iter()
        .map(|&c| component_move(root, c, root.previous_dir(c), staging.path()))
        .collect();
    swap(
        root,
        staging,
        moves,
        Vec::new(),
        options.keep_releases,
        progress,
    )?;
    Ok(Report {
        recovered,
        changes,
        ..Report::default()
    })
}

fn component_move(
    root: &InstallRoot,
    part: impl Into<Part>,
    incoming: PathBuf,
    tx_dir: &Path,
) -> Move {
    let part = part.into();
    let installed = root.component_dir(part);
    Move {
        part,
        had_old: installed.exists(),
        installed,
        incoming,
        aside: tx_dir.join(format!("{}.old", part.id())),
        previous: root.previous_dir(part),
        kept: Some(root.kept_dir(part)),
    }
}

/// Swaps the staged trees in. A kept tree switched to keeps its own GUI state in the staging
/// folder until the commit: `switches` put it back before that folder goes, if the swap fails.
fn swap(
    root: &InstallRoot,
    staging: Staging,
    moves: Vec<Move>,
    switches: Vec<stage::KeptSwitch>,
    keep: usize,
    progress: &dyn Progress,
) -> Result<(), UpdateError> {
    for component in moves.iter().filter_map(|m| m.part.component()) {
        progress.stage(component, Stage::Swap, None);
    }
    let mut journal = Journal {
        tx: staging
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        state: TxState::Swapping,
        moves,
        keep,
    };
    if let Err(e) = journal.write(&root.journal_path()) {
        drop(switches);
        return Err(e);
    }
    // From here the journal describes the staging folder, and recovery owns it.
    let tx_dir = staging.keep();
    checkpoint::reach("journal-written")?;
    if let Err(e) = journal::swap_in(root, &journal) {
        drop(switches);
        drop(Staging::adopt(tx_dir));
        return Err(e);
    }
    journal::commit(root, &mut journal, &tx_dir)?;
    switches.into_iter().for_each(stage::KeptSwitch::done);
    Ok(())
}

/// Creates this transaction's staging folder, removed again unless the swap takes it over.
fn begin(root: &InstallRoot) -> Result<Staging, UpdateError> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    Staging::create(
        root.staging_dir()
            .join(format!("tx-{stamp}-{}", std::process::id())),
    )
}

/// Stages one kit: its files taken from trees on disk or unpacked, each checked; its kit files
/// and version files written and checked; the user's state carried over; its record written; and
/// all of it made durable. Returns the staged tree and how its files got there.
#[allow(clippy::too_many_arguments)]
fn prepare(
    root: &InstallRoot,
    source: &dyn ReleaseSource,
    kit: &Kit,
    files: &KitFiles,
    archive: Option<PathBuf>,
    tx_dir: &Path,
    progress: &dyn Progress,
    options: &InstallOptions,
) -> Result<(PathBuf, FilesStaged), UpdateError> {
    let component = kit.component;
    let version = installable(kit)?.clone();
    let tree = tx_dir.join(component.id());
    fs::create_dir_all(&tree).map_err(UpdateError::io("create", &tree))?;
    let durable = options.sync.then(|| Durable::start(&tree));
    let staged = stage::stage_files(
        root,
        source,
        kit,
        files,
        archive,
        &tree,
        progress,
        durable.as_ref(),
    )?;
    checkpoint::reach(&format!("extracted:{}", component.id()))?;

    progress.stage(component, Stage::Verify, None);
    check_program(&tree, kit)?;
    fetch_kit_files(source, kit, files, &tree)?;
    check_version(&tree, &version, true)?;
    version_file::write(&tree, &version)?;
    check_version(&tree, &version, false)?;
    fixups::apply(
        component,
        &tree,
        &root.component_dir(component),
        &options.hostname,
    )?;
    let written_by_install: Vec<&str> = [version_file::VERSION_FILE, version_file::BUILD_FILE]
        .into_iter()
        .chain(kit.files.iter().map(|f| f.name))
        .collect();
    record(&tree, files, &staged.sums, &written_by_install)?;
    if let Some(durable) = durable {
        let written_later: Vec<PathBuf> = written_by_install
            .iter()
            .chain(&[INI_FILE, HISTORY_FILE, tree_record::RECORD_FILE])
            .map(|name| tree.join(name))
            .collect();
        durable.finish(&tree, &written_later)?;
    }
    checkpoint::reach(&format!("prepared:{}", component.id()))?;
    Ok((tree, staged.files))
}

/// Puts the kit's files beside its archive into the tree: checked against the signed index when
/// the source has one (which must list them), copied as they are from a share read without one.
fn fetch_kit_files(
    source: &dyn ReleaseSource,
    kit: &Kit,
    files: &KitFiles,
    tree: &Path,
) -> Result<(), UpdateError> {
    for file in &kit.files {
        let dest = tree.join(file.name);
        let listed = files
            .written_by_install
            .iter()
            .find(|w| w.path == file.name);
        match (&kit.manifest, listed) {
            (
                Some(_),
                Some(Wanted {
                    size,
                    check: Check::Sha256(sha256),
                    ..
                }),
            ) => source.fetch_file(&file.path, *size, sha256, &dest, &NoProgress)?,
            (Some(_), _) => tracing::warn!(
                "not installing {}: the signed manifest does not list it",
                file.path
            ),
            (None, _) => source.fetch_kit_file(file, &dest)?,
        }
    }
    Ok(())
}

/// Writes the tree's record: both sums of every file staged, and of the files the install wrote
/// itself (the version files, the kit's files beside its archive).
fn record(
    tree: &Path,
    files: &KitFiles,
    sums: &HashMap<String, Sums>,
    written_by_install: &[&str],
) -> Result<(), UpdateError> {
    let mut recorded: Vec<RecordedFile> = files
        .files
        .iter()
        .filter_map(|w| {
            let sums = sums.get(&w.path)?;
            Some(RecordedFile {
                path: w.path.clone(),
                size: w.size,
                sha256: Some(sums.sha256.clone()),
                crc32: Some(sums.crc32),
            })
        })
        .collect();
    for name in written_by_install {
        let path = tree.join(name);
        if let Some(bytes) = fsx::read_state_capped(&path, fsx::cap::OWN_FILE)? {
            let sums = digest::sums_of(&bytes);
            recorded.push(RecordedFile {
                path: (*name).to_string(),
                size: bytes.len() as u64,
                sha256: Some(sums.sha256),
                crc32: Some(sums.crc32),
            });
        }
    }
    tree_record::write(tree, recorded)
}

/// An archive that unpacked to nothing (or to anything but the component) would replace a
/// working client with a broken one: the component's program must be there.
fn check_program(tree: &Path, kit: &Kit) -> Result<(), UpdateError> {
    let programs = kit.component.program();
    if programs.iter().any(|p| tree.join(p).is_file()) {
        return Ok(());
    }
    Err(UpdateError::KitWithoutProgram {
        component: kit.component,
        release: kit.release.to_string(),
        program: programs.join(" or "),
    })
}

/// The tree's VERSION.txt must name the kit's release. `may_be_absent` is for the unpacked
/// archive, which normally holds none (the build writes it beside the archive).
fn check_version(tree: &Path, expected: &Version, may_be_absent: bool) -> Result<(), UpdateError> {
    let path = tree.join(version_file::VERSION_FILE);
    match version_file::read(tree)? {
        None if may_be_absent => Ok(()),
        Some(ClientVersion::Release(found)) if found.same_release(expected) => Ok(()),
        found => Err(UpdateError::VersionMismatch {
            path,
            expected: expected.to_string(),
            actual: found.map_or_else(|| "nothing".to_string(), |v| v.to_string()),
        }),
    }
}
