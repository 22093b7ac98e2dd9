//! Linux programs the tests start (the Channel Access peers and caproto's tools).
//!
//! On Linux they are started directly. Under Wine (the Windows test run) a Windows process can
//! start a Linux program but can neither wait for it, nor read its exit code, nor stop it: the
//! tests ask `tests/peers/launcher.py` instead, which `.ci/windows.sh` runs beside them and whose
//! port `IBEX_TEST_LAUNCHER` names. Either way the program's output arrives as lines, and dropping
//! the handle kills the program with everything it started.
#![allow(clippy::unwrap_used)] // the peer harness: a failure to set a peer up should panic the test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, Stdio};

/// Whether `command` runs a Linux program: everything but a Windows `.exe`, under Wine.
pub(crate) fn is_linux(command: &Command) -> bool {
    cfg!(windows)
        && !command
            .get_program()
            .to_string_lossy()
            .to_ascii_lowercase()
            .ends_with(".exe")
}

/// `relative` (a path in the repository) as a Linux program reads it: Windows' own paths mean
/// nothing to a Linux program, and the repository's path at build time is the Linux one.
pub(crate) fn repository_path(relative: &str) -> String {
    format!("{}/../../{relative}", env!("CARGO_MANIFEST_DIR"))
}

/// Whether the launcher is there to start Linux programs (always true on Linux).
pub(crate) fn available() -> bool {
    !cfg!(windows) || std::env::var_os("IBEX_TEST_LAUNCHER").is_some()
}

/// A running program whose output is read line by line.
pub(crate) struct Running {
    process: Process,
    output: Box<dyn BufRead + Send>,
}

impl Running {
    /// The program's output, for a reader thread of its own.
    pub(crate) fn take_output(&mut self) -> Box<dyn BufRead + Send> {
        std::mem::replace(&mut self.output, Box::new(std::io::empty()))
    }
}

enum Process {
    Local(Child),
    Launched(TcpStream),
}

/// Starts `command` with stdin closed and its output piped.
pub(crate) fn spawn(command: &mut Command) -> Running {
    if is_linux(command) {
        let stream = launch(command);
        let output = Box::new(BufReader::new(stream.try_clone().unwrap()));
        return Running {
            process: Process::Launched(stream),
            output,
        };
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // Its own process group, so that the drop can kill whatever the program started.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    let mut child = command.spawn().unwrap();
    let output = Box::new(BufReader::new(child.stdout.take().unwrap()));
    Running {
        process: Process::Local(child),
        output,
    }
}

/// Runs `command` to its end: whether it succeeded, and its output (stdout and stderr).
pub(crate) fn output(command: &mut Command) -> (bool, String) {
    if !is_linux(command) {
        let out = command.stdin(Stdio::null()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        return (out.status.success(), text);
    }
    let mut text = String::new();
    launch(command).read_to_string(&mut text).unwrap();
    let (body, last) = text.trim_end().rsplit_once('\n').unwrap_or(("", &text));
    (last.trim() == "EXIT 0", body.to_string())
}

/// Hands `command` to the launcher; the stream carries its output and, closed, stops it.
fn launch(command: &Command) -> TcpStream {
    let port: u16 = std::env::var("IBEX_TEST_LAUNCHER")
        .expect("IBEX_TEST_LAUNCHER names the port of tests/peers/launcher.py")
        .parse()
        .unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let argv: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let env: serde_json::Map<String, serde_json::Value> = command
        .get_envs()
        .map(|(name, value)| {
            let value = value.map_or(serde_json::Value::Null, |v| {
                v.to_string_lossy().into_owned().into()
            });
            (name.to_string_lossy().into_owned(), value)
        })
        .collect();
    let request = serde_json::json!({ "argv": argv, "env": env });
    writeln!(stream, "{request}").unwrap();
    stream
}

impl Drop for Running {
    fn drop(&mut self) {
        match &mut self.process {
            Process::Local(child) => {
                #[cfg(unix)]
                {
                    let group = format!("-{}", child.id());
                    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            // The launcher kills the program's process group when the connection closes.
            Process::Launched(stream) => {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}
