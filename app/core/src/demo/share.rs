//! A built-in demo: a small release share and an install root, generated on first use, so that
//! every command can be tried without the ISIS network.
//!
//! The share holds 25.8.0, 26.2.0, 26.2.1 (a partial release: IBEX GUI only), 26.2.1-hotfix and
//! 26.8.0, each with release notes. The install root starts with IBEX GUI 25.8.0 and
//! genie_python 26.2.0, so there is something to update. Each kit carries a few megabytes of
//! filler, stored uncompressed, so that an install in the window shows its progress.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sevenz_rust2::{ArchiveEntry, ArchiveWriter, EncoderMethod};

use crate::catalog::TargetRequest;
use crate::client::component::Component;
use crate::client::version::ReleaseName;
use crate::client::version_file;
use crate::error::UpdateError;
use crate::install::{self, InstallOptions, InstallRoot};
use crate::progress::NoProgress;
use crate::source::share::{COPY_COMPLETE, RELEASE_NOTES};
use crate::source::{ReleaseSource, ShareSource};

/// (release folder, build number, kits it holds)
const RELEASES: &[(&str, &str, &[Component])] = &[
    (
        "25.8.0",
        "1021",
        &[Component::IbexGui, Component::GeniePython],
    ),
    (
        "26.2.0",
        "1234",
        &[Component::IbexGui, Component::GeniePython],
    ),
    ("26.2.1", "1302", &[Component::IbexGui]),
    (
        "26.2.1-hotfix",
        "1310",
        &[Component::IbexGui, Component::GeniePython],
    ),
    (
        "26.8.0",
        "1500",
        &[Component::IbexGui, Component::GeniePython],
    ),
];

#[derive(Debug, Clone)]
pub struct Demo {
    pub share: PathBuf,
    pub install_root: PathBuf,
}

/// Returns the demo under `dir`, generating it the first time.
pub fn ensure(dir: &Path) -> Result<Demo, UpdateError> {
    let demo = Demo {
        share: dir.join("Releases"),
        install_root: dir.join("Apps"),
    };
    if demo.share.is_dir() {
        return Ok(demo);
    }
    tracing::info!("generating the demo release share in {}", dir.display());
    // Build beside the final place and rename, so a half-made demo is never picked up.
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    let built = Demo {
        share: tmp.join("Releases"),
        install_root: tmp.join("Apps"),
    };
    let result = write_share(&built.share).and_then(|()| preinstall(&built));
    if let Err(e) = result.and_then(|()| {
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
        }
        // An empty folder already there (made by hand, or by a test) would stop the rename on
        // Windows; remove_dir removes it only if it is empty.
        #[allow(clippy::disallowed_methods)] // only an empty folder: nothing to retry or follow
        let _ = fs::remove_dir(dir);
        crate::fsx::rename(&tmp, dir)
    }) {
        let _ = crate::fsx::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(demo)
}

fn write_share(share: &Path) -> Result<(), UpdateError> {
    for (name, build, components) in RELEASES {
        let release: ReleaseName = name.parse()?;
        for &component in *components {
            write_kit(share, &release, build, component)?;
        }
        let notes = share.join(name).join(RELEASE_NOTES);
        fs::write(&notes, release_notes(&release, components))
            .map_err(UpdateError::io("write", &notes))?;
    }
    Ok(())
}

/// Lays one kit out as the release build does: unpacked tree, archive of the tree, version files
/// beside the archive, COPY_COMPLETE.txt last.
fn write_kit(
    share: &Path,
    release: &ReleaseName,
    build: &str,
    component: Component,
) -> Result<(), UpdateError> {
    let kit_dir = share.join(release.to_string()).join(component.kit_dir());
    let tree = kit_dir.join(match component {
        Component::IbexGui => "Client",
        Component::GeniePython => "Python",
    });
    let files = demo_files(component, release);
    for (name, content) in &files {
        let path = tree.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
        }
        fs::write(&path, content).map_err(UpdateError::io("write", &path))?;
    }
    let archive = kit_dir.join(component.archive_path());
    if let Some(parent) = archive.parent() {
        fs::create_dir_all(parent).map_err(UpdateError::io("create", parent))?;
    }
    let write_err = |e: sevenz_rust2::Error| UpdateError::Io {
        op: "write",
        path: archive.clone(),
        cause: std::io::Error::other(format!("{e:?}")),
    };
    let mut writer = ArchiveWriter::create(&archive).map_err(write_err)?;
    writer.set_content_methods(vec![EncoderMethod::COPY.into()]);
    for (name, content) in &files {
        let mut entry = ArchiveEntry::new_file(name);
        if name == STAND_IN_GUI {
            // What 7-Zip writes on Unix for an executable: the mode in the high 16 bits.
            entry.has_windows_attributes = true;
            entry.windows_attributes = 0x8000 | (0o100_755 << 16);
        }
        writer
            .push_archive_entry(entry, Some(content.as_slice()))
            .map_err(write_err)?;
    }
    writer
        .finish()
        .map_err(UpdateError::io("write", &archive))?;

    let version = release.version.with_build(build)?;
    version_file::write(&kit_dir.join(component.version_dir()), &version)?;
    let note = kit_dir.join(COPY_COMPLETE);
    fs::write(&note, "copy complete\r\n").map_err(UpdateError::io("write", &note))
}

/// The GUI program that `launch` starts on Linux and macOS: a stand-in for the real GUI.
const STAND_IN_GUI: &str = "ibex-client";

/// Says which instrument it was started on, as the real GUI would show: in
/// `workspace/stand-in.log`, and in a dialog where zenity or xmessage is installed.
const STAND_IN_SCRIPT: &str = r#"#!/bin/sh
# The IBEX Updater demo's stand-in for the IBEX GUI.
prefs=configuration/.settings/uk.ac.stfc.isis.ibex.instrument.prefs
name=$(sed -n 's/^preferences\/initialName=//p' "$prefs" 2>/dev/null)
message="IBEX GUI (demo stand-in) started on ${name:-no instrument} in $(pwd)"
mkdir -p workspace && echo "$message" >> workspace/stand-in.log
if command -v zenity >/dev/null 2>&1; then
    exec zenity --info --title "IBEX GUI" --text "$message"
elif command -v xmessage >/dev/null 2>&1; then
    exec xmessage "$message"
fi
"#;

fn demo_files(component: Component, release: &ReleaseName) -> Vec<(String, Vec<u8>)> {
    let v = &release.version;
    let (filler_name, filler_len) = match component {
        Component::IbexGui => (
            format!("plugins/uk.ac.stfc.isis.ibex.runtime_{v}.jar"),
            8 << 20,
        ),
        Component::GeniePython => (
            "Lib/site-packages/numpy/core/_multiarray.pyd".into(),
            3 << 20,
        ),
    };
    let text_files: Vec<(String, String)> = match component {
        Component::IbexGui => vec![
            (
                "ibex-client.exe".into(),
                format!("IBEX GUI {release} (demo)\n"),
            ),
            (STAND_IN_GUI.into(), STAND_IN_SCRIPT.into()),
            (
                "ibex-client.ini".into(),
                "-startup\r\nplugins/org.eclipse.equinox.launcher.jar\r\n-vmargs\r\n-Xmx2048m\r\n"
                    .into(),
            ),
            (
                format!("plugins/uk.ac.stfc.isis.ibex.ui_{v}.jar"),
                format!("demo plugin for {release}\n"),
            ),
            (
                "plugins/org.eclipse.equinox.launcher.jar".into(),
                "demo launcher\n".into(),
            ),
        ],
        Component::GeniePython => vec![
            (
                "python.exe".into(),
                format!("genie_python {release} (demo)\n"),
            ),
            (
                "Lib/site-packages/genie_python/version.py".into(),
                format!("VERSION = \"{v}\"\n"),
            ),
            (
                "Lib/site-packages/genie_python/genie.py".into(),
                "def cget(block):\n    return None\n".into(),
            ),
        ],
    };
    text_files
        .into_iter()
        .map(|(name, text)| (name, text.into_bytes()))
        .chain([(filler_name, filler(filler_len))])
        .collect()
}

/// Bytes that look like a compiled file: a fast xorshift stream, the same on every machine.
fn filler(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn release_notes(release: &ReleaseName, components: &[Component]) -> String {
    let kits = components
        .iter()
        .map(|c| format!("- {c}"))
        .collect::<Vec<_>>()
        .join("\n");
    let what = match release.suffix.as_deref() {
        Some(suffix) => format!(
            "A **{suffix}** build of {}: install it only when the release team asks you to.",
            release.version
        ),
        None if components.len() < Component::ALL.len() => {
            "A *partial* release: only the kits below were rebuilt; the others come from the \
             previous release of the same line."
                .to_string()
        }
        None => "A full release of the IBEX client.".to_string(),
    };
    format!(
        "# IBEX {release} (demo)\n\n{what}\n\n## Kits\n\n{kits}\n\n## Changes\n\n\
         - Faster start-up of the script generator.\n\
         - Block names may now contain underscores.\n\
         - `g.cset()` reports the block's limits when a value is refused.\n"
    )
}

fn preinstall(demo: &Demo) -> Result<(), UpdateError> {
    let source = ShareSource::new(&demo.share);
    let catalog = source.read_catalog()?;
    let root = InstallRoot::new(&demo.install_root);
    let options = InstallOptions {
        hostname: "DEMO-PC".into(),
        lock_wait: Duration::from_secs(5),
        // The demo is regenerated if anything goes wrong; nothing to protect from a power cut.
        sync: false,
        epics_utils: None,
        keep_releases: install::DEFAULT_KEEP,
    };
    for (component, release) in [
        (Component::IbexGui, "25.8.0"),
        (Component::GeniePython, "26.2.0"),
    ] {
        let request = TargetRequest::Release(release.parse()?);
        if let Some(kit) = catalog.target(component, &request)? {
            install::install(&root, &source, &[kit], &NoProgress, &options)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_is_made_in_an_empty_folder_that_is_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let demo = ensure(dir.path()).unwrap();
        assert!(demo.share.join("26.2.0").is_dir());
        assert!(demo.install_root.is_dir());
    }
}
