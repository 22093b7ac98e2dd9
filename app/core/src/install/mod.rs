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
pub mod layout;
mod lock;
pub mod mirror;
pub mod reuse;
pub mod running;
mod signed_kit;
pub mod trash;
pub mod tree_record;
pub mod unpack_listed;
pub mod verify;

use std::collections::HashSet;
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
use crate::error::UpdateError;
use crate::fsx::{self, Staging, Syncer};
use crate::index::FileEntry;
use crate::progress::{Progress, Stage};
use crate::release::{Kit, KitStatus};
use crate::source::ReleaseSource;
use journal::{Journal, Move, TxState};
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
    /// How the files got into the new tree, for a kit the signed index lists file by file.
    pub files: Option<FilesStaged>,
}

/// How a kit's files reached the staged tree: taken unchanged from a tree already on disk, or
/// unpacked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilesStaged {
    /// The tree kept on this machine for this version was swapped back in: nothing was
    /// downloaded, unpacked or linked.
    pub switched: bool,
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

/// Files are synced on this many threads while the extraction goes on.
const SYNC_THREADS: usize = 4;

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
    // Only now, and only for the kits installed, are their manifests fetched.
    let manifests = kits
        .iter()
        .map(|kit| {
            kit.manifest
                .as_ref()
                .map(|listed| crate::source::manifest(source, listed))
                .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let staging = begin(root)?;
    let staged = kits
        .iter()
        .zip(&manifests)
        .map(|(kit, manifest)| {
            let manifest = manifest.as_deref();
            match signed_kit::kept_tree(root, kit, manifest) {
                Some(tree) => signed_kit::switch_to(root, kit, tree, options),
                None => prepare(
                    root,
                    source,
                    kit,
                    manifest,
                    staging.path(),
                    progress,
                    options,
                ),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if progress.cancelled() {
        return Err(UpdateError::Cancelled);
    }

    let mut changes = Vec::new();
    let mut moves = Vec::new();
    for (kit, (tree, sha256, files)) in kits.iter().zip(staged) {
        let installed = root.component_dir(kit.component);
        changes.push(Change {
            component: kit.component,
            from: version_file::installed(&installed),
            to: kit.version.clone().map(ClientVersion::Release),
            release: Some(kit.release.clone()),
            sha256: Some(sha256),
            files,
        });
        moves.push(component_move(root, kit.component, tree, staging.path()));
    }
    swap(root, staging, moves, options.keep_releases, progress)?;
    Ok(Report {
        recovered,
        changes,
        ..Report::default()
    })
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
        if previous.is_dir() {
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
    swap(root, staging, moves, options.keep_releases, progress)?;
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

fn swap(
    root: &InstallRoot,
    staging: Staging,
    moves: Vec<Move>,
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
    journal.write(&root.journal_path())?;
    // From here the journal describes the staging folder, and recovery owns it.
    let tx_dir = staging.keep();
    checkpoint::reach("journal-written")?;
    if let Err(e) = journal::swap_in(root, &journal) {
        drop(Staging::adopt(tx_dir));
        return Err(e);
    }
    journal::commit(root, &mut journal, &tx_dir)
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

/// Stages one kit: archive copied and hashed, unpacked, version files written and checked, user
/// files carried over. Returns the staged tree and the archive's SHA-256.
fn prepare(
    root: &InstallRoot,
    source: &dyn ReleaseSource,
    kit: &Kit,
    manifest: Option<&[FileEntry]>,
    tx_dir: &Path,
    progress: &dyn Progress,
    options: &InstallOptions,
) -> Result<(PathBuf, String, Option<FilesStaged>), UpdateError> {
    let component = kit.component;
    let version = match (&kit.status, &kit.version) {
        (KitStatus::Complete, Some(version)) => version.clone(),
        (status, _) => {
            return Err(UpdateError::KitNotInstallable {
                component,
                release: kit.release.to_string(),
                status: if *status == KitStatus::Complete {
                    KitStatus::MissingVersion
                } else {
                    status.clone()
                },
            });
        }
    };

    let tree = tx_dir.join(component.id());
    fs::create_dir_all(&tree).map_err(UpdateError::io("create", &tree))?;
    let syncer = (options.sync && fsx::SYNC_EACH_FILE).then(|| Syncer::start(SYNC_THREADS));
    let writeback = options
        .sync
        .then(|| fsx::EarlyWriteback::start(&tree))
        .flatten();
    let (sha256, staged, recorded) = match manifest {
        Some(manifest) => {
            let from_archive = signed_kit::from_archive(kit, manifest);
            let staged = signed_kit::stage_changed_files(
                root,
                source,
                kit,
                &version,
                manifest,
                &from_archive,
                &tree,
                tx_dir,
                progress,
                syncer.as_ref(),
            )?;
            let sha256 = kit.sha256.clone().unwrap_or_default();
            // A later install may take these from this tree, by their times: not what the GUI
            // and the updater write to, whose times say nothing.
            let reusable: Vec<&FileEntry> = from_archive
                .into_iter()
                .filter(|e| !reuse::is_gui_state(&e.path))
                .collect();
            (sha256, Some(staged), Some((manifest, reusable)))
        }
        None => {
            progress.stage(component, Stage::Download, kit.archive_size);
            let archive = tx_dir.join(format!("{}.7z", component.id()));
            let sha256 = source.fetch(kit, &archive, progress)?;
            checkpoint::reach(&format!("staged:{}", component.id()))?;
            extract::extract_7z(&archive, &tree, component, progress, syncer.as_ref())?;
            fsx::remove_file(&archive)?;
            (sha256, None, None)
        }
    };
    checkpoint::reach(&format!("extracted:{}", component.id()))?;

    progress.stage(component, Stage::Verify, None);
    check_program(&tree, kit)?;
    for file in &kit.files {
        source.fetch_kit_file(file, &tree.join(file.name))?;
    }
    check_version(&tree, &version, true)?;
    version_file::write(&tree, &version)?;
    check_version(&tree, &version, false)?;
    fixups::apply(
        component,
        &tree,
        &root.component_dir(component),
        &options.hostname,
    )?;
    if let Some(syncer) = syncer {
        syncer.finish()?;
        let written_after = [
            version_file::VERSION_FILE,
            version_file::BUILD_FILE,
            INI_FILE,
            HISTORY_FILE,
        ];
        let kit_files = kit.files.iter().map(|f| f.name);
        let written_after: Vec<PathBuf> = written_after
            .into_iter()
            .chain(kit_files)
            .map(|name| tree.join(name))
            .collect();
        fsx::sync_files(&written_after)?;
        fsx::sync_folders(&tree)?;
    } else if options.sync {
        drop(writeback);
        fsx::sync_filesystem_of(&tree)?;
    }
    if let Some((manifest, reusable)) = recorded {
        let taken: HashSet<&str> = reusable.iter().map(|e| e.path.as_str()).collect();
        let state = manifest.iter().filter(|e| !taken.contains(e.path.as_str()));
        tree_record::write(&tree, reusable, state)?;
    }
    checkpoint::reach(&format!("prepared:{}", component.id()))?;
    Ok((tree, sha256, staged))
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
