//! Shared helpers for the integration tests: realistic release shares built with the real 7-Zip,
//! and a runner for the real `ibex-updater` binary.
#![allow(dead_code)] // each test binary uses a different subset
#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sha2::{Digest, Sha256};

pub const GUI: &str = "ibex-gui";
/// The policy line that lets the tests read shares without a signed index.
pub const ALLOW_UNSIGNED: &str = "allow_unsigned = true\n";
pub const GENIE: &str = "genie-python";

/// The real 7-Zip (Debian package `7zip`). In CI a missing 7-Zip fails the run.
pub fn seven_zip() -> Option<&'static str> {
    let found = ["7zz", "7z", "7za"]
        .into_iter()
        .find(|exe| try_output(Command::new(exe).arg("i")).is_ok_and(|o| o.status.success()));
    if found.is_none() {
        peer_missing("7-Zip (7zz)", "apt-get install 7zip");
    }
    found
}

/// A test that needs a real peer (a tool, a server) calls this when the peer is missing: with `CI`
/// set that fails the test, so no test is skipped silently in CI; elsewhere it says SKIPPED.
pub fn peer_missing(what: &str, how_to_install: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is required in CI: {how_to_install}"
    );
    eprintln!("SKIPPED: {what} is not available ({how_to_install})");
}

/// Runs `command` to its end. Wine now and then fails to start a process at all (CreateProcess
/// answers ERROR_INTERNAL_ERROR, seen in CI runs): a start that fails for any reason but a missing
/// program is tried again a few times. What the program does once started is never retried.
pub fn try_output(command: &mut Command) -> std::io::Result<Output> {
    let mut failed_starts = 0;
    loop {
        match command.output() {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound && failed_starts < 3 => {
                failed_starts += 1;
                eprintln!(
                    "could not start {:?} ({e}); trying again",
                    command.get_program()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            result => return result,
        }
    }
}

/// [`try_output`], for a program that must start.
pub fn output_of(command: &mut Command) -> Output {
    try_output(command)
        .unwrap_or_else(|e| panic!("could not start {:?}: {e}", command.get_program()))
}

/// Starts a program the test has just copied into place. On Linux another test's fork can still
/// hold the copy's write handle for a moment, and the start fails with "Text file busy"
/// (ETXTBSY): that start is tried again.
pub fn spawn_copied(command: &mut Command) -> std::process::Child {
    let mut busy = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && busy < 50 => {
                busy += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            started => return started.unwrap(),
        }
    }
}

/// Archives `tree` as the release build does: `7z a <archive> . -mx1 -mf=off -r`, run inside it.
pub fn make_7z(tree: &Path, archive: &Path) {
    let exe = seven_zip().expect("7-Zip is needed to build fixtures");
    fs::create_dir_all(archive.parent().unwrap()).unwrap();
    let out = output_of(
        Command::new(exe)
            .args(["a", "-bd", "-y", "-mx1", "-mf=off", "-r"])
            .arg(archive)
            .arg(".")
            .current_dir(tree),
    );
    assert!(
        out.status.success(),
        "7z failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The files of a kit for `release`: different names and contents per release, so that a mix of
/// two releases is detectable.
pub fn kit_files(component: &str, release: &str) -> Vec<(String, String)> {
    match component {
        GUI => vec![
            ("ibex-client.exe".into(), format!("ibex client {release}\n")),
            (
                "ibex-client.ini".into(),
                "-startup\r\nplugins/launcher.jar\r\n-vmargs\r\n-Xmx2048m\r\n".into(),
            ),
            (
                format!("plugins/uk.ac.stfc.isis.ibex.ui_{release}.jar"),
                format!("plugin {release}\n").repeat(200),
            ),
            (
                "plugins/launcher.jar".into(),
                format!("launcher {release}\n"),
            ),
            (
                "configuration/config.ini".into(),
                format!("osgi {release}\n"),
            ),
        ],
        _ => vec![
            ("python.exe".into(), format!("python for genie {release}\n")),
            (
                "Lib/site-packages/genie_python/version.py".into(),
                format!("VERSION = '{release}'\n"),
            ),
            (
                format!(
                    "Lib/site-packages/genie_python/genie_{}.py",
                    release.replace(['.', '-'], "_")
                ),
                "x = 1\n".repeat(300),
            ),
        ],
    }
}

fn kit_layout(component: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    // (kit folder, unpacked tree, archive, folder holding VERSION.txt), relative to the release
    match component {
        GUI => (
            "Client",
            "Client/Client",
            "Client/zips/Client.7z",
            "Client/Client",
        ),
        _ => (
            "genie_python_3",
            "genie_python_3/Python",
            "genie_python_3/zips/Python.7z",
            "genie_python_3",
        ),
    }
}

#[derive(Debug, Clone)]
pub struct Share {
    pub root: PathBuf,
}

impl Share {
    pub fn new(root: &Path) -> Share {
        fs::create_dir_all(root).unwrap();
        Share {
            root: root.to_path_buf(),
        }
    }

    /// Adds a complete kit whose VERSION.txt says `release` (suffix dropped) and build `build`.
    pub fn add_kit(&self, release: &str, component: &str, build: &str) -> PathBuf {
        let number = release.split('-').next().unwrap();
        self.add_kit_with(
            release,
            component,
            &format!("{number} \r\n"),
            build,
            &kit_files(component, release),
        )
    }

    pub fn add_kit_with(
        &self,
        release: &str,
        component: &str,
        version_txt: &str,
        build: &str,
        files: &[(String, String)],
    ) -> PathBuf {
        let (kit, tree, archive, version_dir) = kit_layout(component);
        let rel = self.root.join(release);
        for (name, content) in files {
            let path = rel.join(tree).join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        make_7z(&rel.join(tree), &rel.join(archive));
        // The build writes the version files into the share's tree after archiving.
        fs::write(rel.join(version_dir).join("VERSION.txt"), version_txt).unwrap();
        fs::write(
            rel.join(version_dir).join("BUILD_NUMBER.txt"),
            format!("{build}\r\n"),
        )
        .unwrap();
        fs::write(rel.join(kit).join("COPY_COMPLETE.txt"), "done\r\n").unwrap();
        rel.join(kit)
    }

    pub fn archive(&self, release: &str, component: &str) -> PathBuf {
        self.root.join(release).join(kit_layout(component).2)
    }

    /// 25.8.0, 26.2.0 (both kits), 26.2.1 (IBEX GUI only: a partial release),
    /// 26.2.1-hotfix (both), 26.2.2 (GUI kit without COPY_COMPLETE.txt, genie complete).
    pub fn standard(root: &Path) -> Share {
        let share = Share::new(root);
        for (release, build) in [
            ("25.8.0", "1021"),
            ("26.2.0", "1234"),
            ("26.2.1-hotfix", "1310"),
        ] {
            share.add_kit(release, GUI, build);
            share.add_kit(release, GENIE, build);
        }
        share.add_kit("26.2.1", GUI, "1302");
        let incomplete = share.add_kit("26.2.2", GUI, "1400");
        fs::remove_file(incomplete.join("COPY_COMPLETE.txt")).unwrap();
        share.add_kit("26.2.2", GENIE, "1400");
        share
    }
}

/// A scratch space: a share, an install root, and an environment that reads nothing from the
/// machine (no policy file, no user data folder).
#[derive(Debug)]
pub struct Env {
    pub dir: tempfile::TempDir,
    pub share: PathBuf,
    pub root: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let share = dir.path().join("Releases");
        let root = dir.path().join("Apps");
        // Shares built by the tests have no signed index unless a test publishes one.
        fs::write(dir.path().join("no-policy.toml"), ALLOW_UNSIGNED).unwrap();
        Env { dir, share, root }
    }

    pub fn with_standard_share() -> Env {
        let env = Env::new();
        Share::standard(&env.share);
        env
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_from(&self.share.display().to_string(), args)
    }

    /// Like [`Env::command`], with another release source (an HTTP mirror's URL, say).
    pub fn command_from(&self, source: &str, args: &[&str]) -> Command {
        self.command_of(&updater_exe(), source, args)
    }

    /// Like [`Env::command_from`], running another copy of the updater.
    pub fn command_of(&self, program: &Path, source: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("IBEX_UPDATER_") {
                cmd.env_remove(key);
            }
        }
        cmd.env(
            "IBEX_UPDATER_POLICY",
            self.dir.path().join("no-policy.toml"),
        )
        .env("IBEX_UPDATER_DATA_DIR", self.dir.path().join("data"))
        // genie_python's per-user step writes into the user's profile: never the real one.
        .env("HOME", self.home())
        .env("USERPROFILE", self.home())
        .arg("--source")
        .arg(source)
        .arg("--install-root")
        .arg(&self.root)
        .args(args);
        cmd
    }

    /// Makes a signing key with `keygen` and a policy that trusts it (after `policy_extra`).
    /// Returns the secret key file and the public key's line.
    pub fn trusted_key(&self, name: &str, policy_extra: &str) -> (PathBuf, String) {
        let keys = self.dir.path().join("keys");
        fs::create_dir_all(&keys).unwrap();
        let run = self.run(&[
            "keygen",
            "--out-dir",
            keys.to_str().unwrap(),
            "--name",
            name,
        ]);
        run.assert_code(0);
        let public = fs::read_to_string(keys.join(format!("{name}.pub"))).unwrap();
        let line = public.lines().last().unwrap().to_string();
        assert!(
            run.stdout.contains(&line),
            "keygen prints the key to trust: {}",
            run.stdout
        );
        fs::write(
            self.dir.path().join("no-policy.toml"),
            format!("{policy_extra}trusted_keys = ['{line}']\n"),
        )
        .unwrap();
        (keys.join(format!("{name}.key")), line)
    }

    /// `publish` of the share with `key`, and `extra` arguments.
    pub fn publish(&self, key: &Path, extra: &[&str]) -> Run {
        let share = self.share.to_str().unwrap().to_string();
        let mut args = vec!["publish", "--share", &share, "--key", key.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(output_of(&mut self.command(args)))
    }

    /// Runs the updater against the release source at `source` instead of the share.
    pub fn run_from(&self, source: &str, args: &[&str]) -> Run {
        Run::from(output_of(&mut self.command_from(source, args)))
    }

    /// The home folder the updater sees as the user's.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn gui_dir(&self) -> PathBuf {
        self.root.join("Client_E4")
    }

    pub fn genie_dir(&self) -> PathBuf {
        self.root.join("Python3")
    }

    pub fn installed_version(&self, component: &str) -> Option<String> {
        let dir = if component == GUI {
            self.gui_dir()
        } else {
            self.genie_dir()
        };
        fs::read_to_string(dir.join("VERSION.txt"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// Everything under the install root, as path -> SHA-256, leaving out the updater's lock.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        snapshot(&self.root)
            .into_iter()
            // The lock, and the trash that a background process may be emptying meanwhile.
            .filter(|(path, _)| {
                path != ".ibex-updater/lock" && !path.starts_with(".ibex-updater/trash/")
            })
            .collect()
    }
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        self
    }
}

/// Every file below `dir` (path relative to it, `/`-separated) with its SHA-256.
pub fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                // The history records every attempt, failed ones too: it is not the client.
                if rel.ends_with(".ibex-updater/history.jsonl") {
                    continue;
                }
                let digest = Sha256::digest(fs::read(&path).unwrap_or_default());
                files.insert(rel, format!("{digest:x}"));
            }
        }
    }
    files
}

/// The files of one installed component folder in a snapshot.
pub fn component_files(
    snapshot: &BTreeMap<String, String>,
    dir_name: &str,
) -> BTreeMap<String, String> {
    let prefix = format!("{dir_name}/");
    snapshot
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(&prefix)
                .map(|rest| (rest.to_string(), v.clone()))
        })
        .collect()
}

/// The repository's root, where `target/`, `tests/peers/` and `tests/snapshots/` are.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `ibex-updater` binary that Cargo built for these tests (only the CLI's tests have one).
pub fn updater_exe() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_ibex-updater") {
        Some(exe) => PathBuf::from(exe),
        None => panic!("only the command line's tests run the binary"),
    }
}

/// Steps the window until `done` holds: background threads answer in their own time, so the test
/// waits for what it needs to see rather than for a fixed time.
/// Waits until the trash of the install root `root` is empty: superseded trees are deleted by
/// a background process after an install.
pub fn wait_for_empty_trash(root: &Path) {
    let trash = root.join(".ibex-updater").join("trash");
    let deadline = Instant::now() + Duration::from_secs(60);
    while fs::read_dir(&trash).is_ok_and(|mut entries| entries.next().is_some()) {
        assert!(
            Instant::now() < deadline,
            "the trash {} was not emptied",
            trash.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn step_until<S>(
    harness: &mut Harness<'_, S>,
    what: &str,
    done: impl Fn(&Harness<'_, S>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(harness) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.step();
}

pub fn has_label(harness: &Harness<'_, impl Sized>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

/// Runs `command` to its end and returns its exit code and its peak memory in kB, as Python's
/// `getrusage` of its one child gives it (Linux).
pub fn peak_memory(command: &mut Command) -> (i32, u64) {
    let mut python = Command::new("python3");
    python.args([
        "-c",
        "import resource, subprocess, sys\n\
         code = subprocess.run(sys.argv[1:], capture_output=True).returncode\n\
         print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
    ]);
    python.arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => python.env(key, value),
            None => python.env_remove(key),
        };
    }
    let out = output_of(&mut python);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut fields = text.split_whitespace();
    let code = fields.next().and_then(|f| f.parse().ok());
    let kb = fields.next().and_then(|f| f.parse().ok());
    match (code, kb) {
        (Some(code), Some(kb)) => (code, kb),
        _ => panic!(
            "python3 could not measure {command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Runs `command`, failing the test if it has not ended within `seconds`: for hostile inputs
/// (a FIFO, an endless file) that must never make a command wait for ever.
pub fn run_within(command: &mut Command, seconds: u64) -> Run {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not end within {seconds} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Run::from(child.wait_with_output().unwrap())
}
