//! `self-update`: the updater replaces itself with the newest build the signed index lists for
//! its platform, and keeps working when the published build is damaged or does not run.
#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{Env, Run};
use ibex_updater_core::usecase::self_update::current_target;

/// A signed share that publishes `build` as ibex-updater 9.9.9 for this platform, and a copy of
/// the updater (the one that updates itself) in its own folder.
struct Setup {
    env: Env,
    key: PathBuf,
    installed: PathBuf,
}

impl Setup {
    fn new(build: &[u8]) -> Setup {
        let env = Env::with_standard_share();
        let (key, _) = env.trusted_key("ibex-updater", "");
        let dir = env.share.join("Updater/9.9.9").join(current_target());
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("ibex-updater"), build).unwrap();
        let setup = Setup {
            key,
            installed: env.dir.path().join("bin").join("ibex-updater"),
            env,
        };
        setup.publish();
        fs::create_dir_all(setup.installed.parent().unwrap()).unwrap();
        fs::copy(env!("CARGO_BIN_EXE_ibex-updater"), &setup.installed).unwrap();
        setup
    }

    fn publish(&self) {
        self.env.publish(&self.key, &[]).assert_code(0);
    }

    fn published(&self) -> PathBuf {
        self.env
            .share
            .join("Updater/9.9.9")
            .join(current_target())
            .join("ibex-updater")
    }

    fn run(&self, args: &[&str]) -> Run {
        let source = self.env.share.display().to_string();
        Run::from(
            self.env
                .command_of(&self.installed, &source, args)
                .output()
                .unwrap(),
        )
    }

    fn still_runs(&self) {
        let run = Run::from(
            std::process::Command::new(&self.installed)
                .arg("--version")
                .output()
                .unwrap(),
        );
        run.assert_code(0);
        assert!(run.stdout.starts_with("ibex-updater "), "{run:?}");
    }
}

/// This updater, with a few bytes after it so that the published build differs from it (an ELF
/// or PE file still runs with trailing bytes).
fn new_build() -> Vec<u8> {
    let mut bytes = fs::read(env!("CARGO_BIN_EXE_ibex-updater")).unwrap();
    bytes.extend_from_slice(b"\nibex-updater 9.9.9 test build\n");
    bytes
}

fn same_file(a: &Path, b: &Path) -> bool {
    fs::read(a).unwrap() == fs::read(b).unwrap()
}

#[test]
fn replaces_itself_with_the_newer_published_build() {
    let setup = Setup::new(&new_build());
    let run = setup.run(&["self-update", "--check"]);
    run.assert_code(10);
    assert!(
        run.stdout.contains("ibex-updater 9.9.9 is available"),
        "{}",
        run.stdout
    );

    let run = setup.run(&["self-update", "--json"]);
    run.assert_code(0);
    assert_eq!(run.json()["to"], "9.9.9");
    assert!(
        same_file(&setup.installed, &setup.published()),
        "the binary was replaced"
    );
    setup.still_runs();
    let leftovers: Vec<_> = fs::read_dir(setup.installed.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["ibex-updater"],
        "no temporary files are left beside it"
    );
}

#[test]
fn a_damaged_download_leaves_the_old_binary_working() {
    let setup = Setup::new(&new_build());
    let before = fs::read(&setup.installed).unwrap();
    let mut published = fs::read(setup.published()).unwrap();
    let last = published.len() - 1;
    published[last] ^= 0x01;
    fs::write(setup.published(), published).unwrap();
    let run = setup.run(&["self-update"]);
    run.assert_code(3);
    assert!(run.stderr.contains("checksum mismatch"), "{}", run.stderr);
    assert_eq!(fs::read(&setup.installed).unwrap(), before);
    setup.still_runs();
}

#[test]
fn a_build_that_does_not_run_is_not_swapped_in() {
    let setup = Setup::new(b"#!/bin/sh\nexit 3\n");
    let before = fs::read(&setup.installed).unwrap();
    let run = setup.run(&["self-update"]);
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("cannot be used, so the running one was kept"),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read(&setup.installed).unwrap(), before);
    setup.still_runs();
}
