//! The Windows installer: `wix/main.wxs` builds with wixl (Debian package `wixl`), and its tables,
//! read back with msiinfo (package `msitools`), hold what IT relies on. The Windows binary cannot
//! be built here, so this build's binary stands in for `ibex-updater.exe`.
#![allow(clippy::unwrap_used)] // helpers: a failing tool run should panic the test

use std::path::Path;
use std::process::Command;

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok();
    if !found {
        crate::common::peer_missing(name, "apt-get install wixl msitools");
    }
    found
}

fn export(msi: &Path, table: &str) -> String {
    let out = Command::new("msiinfo")
        .arg("export")
        .arg(msi)
        .arg(table)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "msiinfo export {table}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Rows of an exported table (after its three header lines), split into columns.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(3)
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

#[test]
#[cfg_attr(
    windows,
    ignore = "wixl and msiinfo are Linux tools; .ci/msi-under-wine.sh builds this MSI and installs it with msiexec"
)]
fn msi_builds_with_wixl_and_carries_version_properties_and_upgrade_code() {
    if !tool("wixl") || !tool("msiinfo") {
        return;
    }
    let root = crate::common::workspace_root();
    let dir = tempfile::tempdir().unwrap();
    let msi = dir.path().join("ibex-updater.msi");
    let version = env!("CARGO_PKG_VERSION");
    // wixl resolves sources relative to where it runs and refuses absolute paths, so the
    // inputs are copied beside each other.
    std::fs::copy(root.join("wix/main.wxs"), dir.path().join("main.wxs")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_ibex-updater"),
        dir.path().join("ibex-updater.exe"),
    )
    .unwrap();
    for icon in ["ibex-updater.ico", "ibex.ico", "genie_python.ico"] {
        std::fs::copy(root.join("assets").join(icon), dir.path().join(icon)).unwrap();
    }
    let out = Command::new("wixl")
        .current_dir(dir.path())
        .args(["-a", "x64", "-D"])
        .arg(format!("Version={version}"))
        .args([
            "-D",
            "BinaryPath=ibex-updater.exe",
            "-D",
            "IconPath=ibex-updater.ico",
            "-D",
            "IbexIconPath=ibex.ico",
            "-D",
            "GenieIconPath=genie_python.ico",
        ])
        .args(["-o", "ibex-updater.msi", "main.wxs"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wixl: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let property = rows(&export(&msi, "Property"));
    let value = |name: &str| property.iter().find(|r| r[0] == name).map(|r| r[1].clone());
    assert_eq!(
        value("ProductVersion").as_deref(),
        Some(version),
        "ProductVersion is the Cargo version"
    );
    assert_eq!(
        value("ALLUSERS").as_deref(),
        Some("1"),
        "a per-machine install"
    );
    assert_eq!(value("AUTO_CHECK").as_deref(), Some("0"));
    assert_eq!(value("ALLOW_UNSIGNED").as_deref(), Some("0"));
    let wxs = std::fs::read_to_string(root.join("wix/main.wxs")).unwrap();
    let upgrade = value("UpgradeCode").unwrap();
    assert!(
        wxs.contains(upgrade.trim_matches(['{', '}'])),
        "the upgrade code is the fixed one in main.wxs"
    );
    assert!(
        export(&msi, "Upgrade").contains(&upgrade),
        "a new version upgrades the old one"
    );

    // Each public property is written into the machine policy.
    let registry = rows(&export(&msi, "Registry"));
    for (name, property) in [
        ("ReleaseSource", "[RELEASE_SOURCE]"),
        ("Instrument", "[INSTRUMENT]"),
        ("InstallRoot", "[INSTALL_ROOT]"),
        ("EpicsUtilsSource", "[EPICS_UTILS_SOURCE]"),
        ("AutoCheck", "#[AUTO_CHECK]"),
        ("AllowUnsigned", "#[ALLOW_UNSIGNED]"),
    ] {
        let row = registry
            .iter()
            .find(|r| r[3] == name)
            .unwrap_or_else(|| panic!("no {name} in {registry:?}"));
        assert_eq!(
            (row[1].as_str(), row[2].as_str(), row[4].as_str()),
            ("2", r"Software\Policies\ISIS\IBEX Updater", property)
        );
    }

    // The logon check is registered for every user, and gated by AutoCheck in the program.
    let run = registry
        .iter()
        .find(|r| r[3] == "IBEX Updater check")
        .unwrap_or_else(|| panic!("no logon entry in {registry:?}"));
    assert_eq!(
        (run[1].as_str(), run[2].as_str(), run[4].as_str()),
        (
            "2",
            r"Software\Microsoft\Windows\CurrentVersion\Run",
            r#""[INSTALLDIR]ibex-updater.exe" check --prompt --logon"#
        )
    );

    // Program Files, and a Start menu shortcut to the executable.
    let directory = export(&msi, "Directory");
    assert!(
        directory.contains("ProgramFiles64Folder") && directory.contains("IBEX Updater"),
        "{directory}"
    );
    let shortcut = export(&msi, "Shortcut");
    assert!(
        shortcut.contains("ProgramMenuFolder") && shortcut.contains("[INSTALLDIR]ibex-updater.exe"),
        "{shortcut}"
    );
    assert!(export(&msi, "File").contains("ibex-updater.exe"));

    // IBEX is started through the updater: "IBEX" in the Start menu and on the desktop runs
    // `launch` with the IBEX icon; "genie_python" runs genie_python.bat under the install root.
    let shortcuts = rows(&shortcut);
    let find = |id: &str| {
        shortcuts
            .iter()
            .find(|r| r[0] == id)
            .unwrap_or_else(|| panic!("no shortcut {id} in {shortcuts:?}"))
    };
    for (id, folder) in [
        ("IbexShortcut", "ProgramMenuFolder"),
        ("IbexDesktop", "DesktopFolder"),
    ] {
        let row = find(id);
        assert_eq!(
            (
                row[1].as_str(),
                row[2].as_str(),
                row[4].as_str(),
                row[5].as_str()
            ),
            (folder, "IBEX", "[INSTALLDIR]ibex-updater.exe", "launch")
        );
        assert_eq!(row[8], "IbexIcon");
    }
    let genie = find("GeniePythonShortcut");
    assert_eq!(
        (genie[2].as_str(), genie[4].as_str(), genie[8].as_str()),
        (
            "genie_python",
            "[GENIE_PYTHON_DIR]genie_python.bat",
            "GeniePythonIcon"
        )
    );
    assert_eq!(
        value("GENIE_PYTHON_DIR").as_deref(),
        Some(r"C:\Instrument\Apps\Python3\")
    );

    // DESKTOP_SHORTCUT=0 and GENIE_SHORTCUT=0 remove the features that hold those shortcuts,
    // before the install decides what to install; uninstalling removes every shortcut with its
    // component.
    let actions = rows(&export(&msi, "CustomAction"));
    let action = |id: &str| {
        actions
            .iter()
            .find(|r| r[0] == id)
            .map(|r| (r[2].clone(), r[3].clone()))
    };
    assert_eq!(
        action("NoDesktopShortcut"),
        Some(("REMOVE".into(), "DesktopShortcut".into()))
    );
    assert_eq!(
        action("NoShortcuts"),
        Some(("REMOVE".into(), "DesktopShortcut,GenieShortcut".into()))
    );
    let sequence = export(&msi, "InstallExecuteSequence");
    assert!(
        sequence.contains(r#"NoDesktopShortcut	NOT Installed AND DESKTOP_SHORTCUT = "0" AND GENIE_SHORTCUT <> "0""#),
        "{sequence}"
    );
    let features = export(&msi, "FeatureComponents");
    assert!(
        features.contains("DesktopShortcut	IbexDesktopShortcut"),
        "{features}"
    );
    assert!(
        features.contains("GenieShortcut	GenieStartMenuShortcut"),
        "{features}"
    );
}
