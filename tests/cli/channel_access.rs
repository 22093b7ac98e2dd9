//! Channel Access against real peers on loopback: EPICS Base's soft IOC (PyPI `softioc`, EPICS 7)
//! and caproto's server serve a 61-instrument fleet that the updater reads; caproto-get reads the
//! updater's own demo fleet.
//!
//! The peers come from a Python with `softioc` and `caproto` installed: `$IBEX_TEST_PYTHON`, or
//! `target/ca-venv/bin/python` (which `.ci/run` creates). With `CI` set, a missing peer fails.
#![allow(clippy::unwrap_used)] // the peer harness: a failure to set a peer up should panic the test
#![allow(clippy::disallowed_methods)] // the test's own peers and readers run on plain threads

use std::io::BufRead;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Env, Run};
use crate::linux_program;
use ibex_updater_core::instrument::ca::{self, CaConfig, Value};
use ibex_updater_core::instrument::list::decode_instlist;

const FLEET: usize = 61;

pub(crate) fn python() -> Option<PathBuf> {
    if !linux_program::available() {
        crate::common::peer_missing(
            "the launcher of Linux peers (IBEX_TEST_LAUNCHER)",
            "run the Windows tests with .ci/windows.sh, which starts tests/peers/launcher.py",
        );
        return None;
    }
    // Under Wine, "python" is the launcher's own Python.
    let candidate = if cfg!(windows) {
        PathBuf::from("python")
    } else {
        std::env::var_os("IBEX_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::common::workspace_root().join("target/ca-venv/bin/python"))
    };
    let (works, _) =
        linux_program::output(Command::new(&candidate).args(["-c", "import softioc, caproto"]));
    if works {
        return Some(candidate);
    }
    crate::common::peer_missing(
        &format!(
            "a Python with softioc and caproto at {}",
            candidate.display()
        ),
        "python3 -m venv target/ca-venv && target/ca-venv/bin/pip install softioc caproto",
    );
    None
}

/// A loopback port free for both UDP and TCP.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// A CA server, killed with everything it started on drop. It holds the repeater port, so that
/// no peer spawns a repeater daemon that outlives the test.
pub(crate) struct Peer {
    _process: linux_program::Running,
    /// Everything the peer printed.
    output: Arc<Mutex<Vec<String>>>,
    port: u16,
    repeater_port: u16,
    _repeater: UdpSocket,
}

impl Peer {
    fn start(mut command: Command, port: u16) -> Peer {
        let repeater = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let repeater_port = repeater.local_addr().unwrap().port();
        command
            .envs(ca_env(port, repeater_port))
            .env("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1")
            .env("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "NO")
            .env("EPICS_CAS_BEACON_ADDR_LIST", "127.0.0.1")
            // Beacons go to the port this test holds, not to a repeater that is not there.
            .env("EPICS_CAS_BEACON_PORT", repeater_port.to_string())
            .env("EPICS_CA_MAX_ARRAY_BYTES", "1000000");
        let mut process = linux_program::spawn(&mut command);
        let stdout = process.take_output();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let output = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&output);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if line.starts_with("READY") || line.starts_with("serving") {
                    let _ = ready_tx.send(());
                }
                collected.lock().unwrap().push(line);
            }
        });
        let peer = Peer {
            _process: process,
            output,
            port,
            repeater_port,
            _repeater: repeater,
        };
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the peer never said it was ready");
        // Ready means listening; wait until a real read succeeds.
        let start = Instant::now();
        while ca::read_pv(&peer.config(), "CS:INSTLIST").is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the peer never served CS:INSTLIST"
            );
        }
        peer
    }

    pub(crate) fn python(python: &PathBuf, kind: &str, extra: &[&str]) -> Peer {
        let script = linux_program::repository_path("tests/peers/fleet_ioc.py");
        let mut command = Command::new(python);
        command
            .arg(script)
            .arg(kind)
            .arg(FLEET.to_string())
            .arg("--garbled")
            .args(extra);
        Peer::start(command, free_port())
    }

    fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    fn config(&self) -> CaConfig {
        CaConfig::single(
            (Ipv4Addr::LOCALHOST, self.port).into(),
            Duration::from_secs(2),
        )
    }

    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        ca_env(self.port, self.repeater_port)
    }
}

fn ca_env(port: u16, repeater_port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("EPICS_CA_ADDR_LIST", "127.0.0.1".into()),
        ("EPICS_CA_AUTO_ADDR_LIST", "NO".into()),
        ("EPICS_CA_SERVER_PORT", port.to_string()),
        ("EPICS_CA_REPEATER_PORT", repeater_port.to_string()),
    ]
}

fn run_with(env: &Env, peer: &Peer, args: &[&str]) -> Run {
    Run::from(env.command(args).envs(peer.env()).output().unwrap())
}

/// Everything the updater asks of an instrument fleet, against one real peer.
fn check_fleet(peer: &Peer) {
    // The instrument list and every version, in one batch.
    let env = Env::with_standard_share();
    let run = run_with(&env, peer, &["instruments", "--json"]);
    run.assert_code(0);
    let doc = run.json();
    let list = doc["instruments"].as_array().unwrap();
    assert_eq!(list.len(), FLEET + 1, "61 instruments plus GARBLED");
    for (i, inst) in list.iter().take(FLEET - 1).enumerate() {
        let n = i + 1;
        assert_eq!(inst["reachable"], true, "{inst}");
        assert_eq!(
            inst["server_version"],
            format!("26.2.{}.{}", n % 3, 1000 + n),
            "{inst}"
        );
    }
    let silent = &list[FLEET - 1];
    assert_eq!(
        (silent["name"].as_str(), silent["reachable"].as_bool()),
        (Some("INST061"), Some(false))
    );
    let garbled = &list[FLEET];
    assert_eq!(garbled["reachable"], false);
    assert!(
        garbled["error"]
            .as_str()
            .unwrap()
            .contains("not an IBEX version"),
        "{garbled}"
    );

    // --instrument reads the version live, by name, host or PV prefix in any case.
    for query in ["larmor", "NDXLARMOR", "in:larmor:"] {
        let run = run_with(&env, peer, &["status", "--json", "--instrument", query]);
        run.assert_code(0);
        let server = &run.json()["server"];
        assert_eq!(server["version"], "26.2.1.1001");
        assert_eq!(
            server["instrument"],
            serde_json::json!({"name": "LARMOR", "host": "NDXLARMOR", "pv_prefix": "IN:LARMOR:", "from": "named"})
        );
    }
    // ... and is remembered.
    let run = run_with(&env, peer, &["instruments", "--json"]);
    assert_eq!(run.json()["instruments"][0]["last_used"], true);
    // With nothing named, `status` asks the instrument used last, as the window does, and says so.
    let run = run_with(&env, peer, &["status", "--json"]);
    run.assert_code(0);
    let server = &run.json()["server"];
    assert_eq!(server["instrument"]["from"], "last-used", "{server}");
    assert_eq!(server["version"], "26.2.1.1001");
    let run = run_with(&env, peer, &["status"]);
    assert!(
        run.stdout
            .contains("LARMOR (NDXLARMOR, PV prefix IN:LARMOR:, the one you used last; pick another with --instrument)"),
        "{}",
        run.stdout
    );

    // A garbled version PV: a clear error, and nothing installed.
    let run = run_with(&env, peer, &["install", "--instrument", "GARBLED"]);
    run.assert_code(5);
    assert!(
        run.stderr
            .contains("IN:GARBLED:CS:VERSION:SVN:REV holds something the updater cannot use"),
        "{}",
        run.stderr
    );
    assert!(!env.gui_dir().exists());

    // Installing for an instrument takes the kit that matches its server.
    let run = run_with(&env, peer, &["install", "--json", "--instrument", "LARMOR"]);
    run.assert_code(0);
    assert_eq!(run.json()["installed"][0]["release"], "26.2.1");

    // An instrument that never answers: the status says unknown, the exit code is 5, and the
    // message names the PV and the addresses searched.
    let run = run_with(&env, peer, &["check", "--json", "--instrument", "INST061"]);
    run.assert_code(5);
    let doc = run.json();
    assert_eq!(doc["server"]["version"], serde_json::Value::Null);
    assert_eq!(doc["server"]["instrument"]["name"], "INST061");
    assert_eq!(doc["components"][0]["verdict"], "unknown");
    assert_eq!(doc["error"]["code"], 5);
    assert!(
        run.stderr.contains("IN:INST061:CS:VERSION:SVN:REV"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{}", peer.port)),
        "{}",
        run.stderr
    );
    // Nothing named: `install` matches the instrument used last (INST061 now), says so, and
    // installs nothing while it does not answer.
    let before = env.snapshot();
    let run = run_with(&env, peer, &["install"]);
    run.assert_code(5);
    assert!(
        run.stdout
            .contains("Matching the client to INST061 (the instrument you used last); pick another with --instrument"),
        "{}",
        run.stdout
    );
    assert_eq!(env.snapshot(), before);

    // A 100,000-character char array needs the extended header. (The soft IOC counts the
    // terminating NUL as an element; the text is what counts.)
    let big = ca::read_pv(&peer.config(), "TEST:BIG").unwrap();
    assert!(matches!(big, Value::Chars(_)), "{big:?}");
    let text = big.as_text();
    assert_eq!(text.len(), 100_000);
    assert!(
        text.bytes()
            .enumerate()
            .all(|(i, c)| c == b'a' + (i % 26) as u8)
    );
}

#[test]
fn reads_a_fleet_from_epics_base_soft_ioc() {
    let Some(python) = python() else { return };
    check_fleet(&Peer::python(&python, "softioc", &[]));
}

#[test]
fn reads_a_fleet_from_caproto_server_and_closes_cleanly() {
    let Some(python) = python() else { return };
    let peer = Peer::python(&python, "caproto", &["--log-commands"]);
    check_fleet(&peer);
    // caproto's own log: every circuit cleared its channels before it disconnected.
    let log = peer.output();
    let count = |what: &str| log.iter().filter(|l| l.contains(what)).count();
    let created = count("CreateChanResponse(");
    assert!(created > FLEET, "{created} channels created");
    assert_eq!(
        count("ClearChannelRequest("),
        created,
        "every channel is cleared"
    );
    assert!(count("Disconnected from client") > 0);
    assert_eq!(count("Traceback"), 0, "{log:#?}");
}

#[test]
fn the_address_list_comes_from_the_policy_unless_the_environment_says_otherwise() {
    if python().is_none() {
        return;
    }
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ibex-updater"));
    command.args(["demo-fleet", "--port", &port.to_string()]);
    let peer = Peer::start(command, port);
    let env = Env::with_standard_share();
    let policy = env.dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "{}ca_addr_list = '127.0.0.1:{port}'\n",
            crate::common::ALLOW_UNSIGNED
        ),
    )
    .unwrap();
    let run_with_policy = |args: &[&str], addr_list: Option<String>| {
        let mut cmd = env.command(args);
        cmd.env("IBEX_UPDATER_POLICY", &policy)
            .env("EPICS_CA_AUTO_ADDR_LIST", "NO")
            .env("EPICS_CA_REPEATER_PORT", peer.repeater_port.to_string())
            .env_remove("EPICS_CA_SERVER_PORT")
            .env_remove("EPICS_CA_ADDR_LIST");
        if let Some(list) = addr_list {
            cmd.env("EPICS_CA_ADDR_LIST", list);
        }
        Run::from(cmd.output().unwrap())
    };
    let instruments =
        |addr_list| run_with_policy(&["--ca-timeout", "1", "instruments", "--json"], addr_list);
    let run = instruments(None);
    run.assert_code(0);
    assert_eq!(run.json()["instruments"][0]["name"], "LARMOR");

    // The policy's instrument is the one asked when none is named.
    std::fs::write(
        &policy,
        format!(
            "{}ca_addr_list = '127.0.0.1:{port}'\ninstrument = 'zoom'\n",
            crate::common::ALLOW_UNSIGNED
        ),
    )
    .unwrap();
    let run = run_with_policy(&["status", "--json"], None);
    run.assert_code(0);
    assert_eq!(run.json()["server"]["instrument"]["name"], "ZOOM");
    assert_eq!(run.json()["server"]["version"], "26.2.1.1302");

    // The environment's address list overrides the policy's.
    let dead = free_port();
    let run = instruments(Some(format!("127.0.0.1:{dead}")));
    run.assert_code(5);
    assert!(
        run.stderr.contains(&format!("searched 127.0.0.1:{dead}")),
        "{}",
        run.stderr
    );
}

#[test]
fn caproto_get_reads_the_demo_fleet() {
    let Some(python) = python() else { return };
    let mut command = Command::new(env!("CARGO_BIN_EXE_ibex-updater"));
    let port = free_port();
    command.args(["demo-fleet", "--port", &port.to_string()]);
    let peer = Peer::start(command, port);
    let caproto_get = python.with_file_name("caproto-get");
    let (success, text) = linux_program::output(Command::new(caproto_get).envs(peer.env()).args([
        "CS:INSTLIST",
        "IN:LARMOR:CS:VERSION:SVN:REV",
        "TE:DEVBOX:CS:VERSION:SVN:REV",
    ]));
    assert!(success, "{text}");
    assert!(text.contains("[26.2.0.1234]"), "{text}");
    assert!(text.contains("[0.0.0.42]"), "{text}");
    // caproto-get prints a char array as decimal bytes: turn them back into the hex text.
    let line = text.lines().find(|l| l.starts_with("CS:INSTLIST")).unwrap();
    let bytes: Vec<u8> = line[line.find('[').unwrap() + 1..line.rfind(']').unwrap()]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let list = decode_instlist(&String::from_utf8(bytes).unwrap()).unwrap();
    let names: Vec<_> = list.iter().map(|i| i.name.as_str()).collect();
    assert!(
        names.contains(&"LARMOR") && names.contains(&"OFFLINE") && names.contains(&"DEVBOX"),
        "{names:?}"
    );
}

#[test]
fn no_server_at_all_is_exit_5_naming_what_was_searched() {
    let env = Env::with_standard_share();
    let port = free_port();
    let run = Run::from(
        env.command(&["--ca-timeout", "0.5", "instruments"])
            .envs(ca_env(port, free_port()))
            .output()
            .unwrap(),
    );
    run.assert_code(5);
    assert!(run.stderr.contains("CS:INSTLIST"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("searched 127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
}

#[test]
fn the_demo_shows_the_whole_fleet() {
    let env = Env::new();
    let run = env.run(&["--demo", "instruments", "--json"]);
    run.assert_code(0);
    let doc = run.json();
    let by_name = |name: &str| {
        doc["instruments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("LARMOR")["server_version"], "26.2.0.1234");
    assert_eq!(by_name("DEVBOX")["server_version"], "0.0.0.42");
    assert_eq!(by_name("OFFLINE")["reachable"], false);
    assert_eq!(by_name("CRYOLAB_R80")["pv_prefix"], "IN:CRYOLA7E:");
    let run = env.run(&["--demo", "check", "--json", "--instrument", "devbox"]);
    run.assert_code(0);
    assert_eq!(run.json()["components"][0]["verdict"], "development");
}

/// `fleet` against EPICS Base's soft IOC: every instrument's release line and how far behind the
/// share's newest plain release (26.2.2) it is, in text, JSON and CSV.
#[test]
fn the_fleet_says_which_release_each_instrument_runs() {
    let Some(python) = python() else { return };
    let peer = Peer::python(&python, "softioc", &[]);
    let env = Env::with_standard_share();
    let run = run_with(&env, &peer, &["fleet", "--json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["newest"], "26.2.2");
    let standing = |name: &str| {
        doc["instruments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .map(|i| {
                (
                    i["line"].clone(),
                    i["standing"].as_str().unwrap().to_string(),
                )
            })
            .unwrap()
    };
    assert_eq!(standing("LARMOR"), ("26.2".into(), "a patch behind".into()));
    assert_eq!(standing("INST002"), ("26.2".into(), "newest".into()));
    assert_eq!(standing("INST061").1, "unreachable");
    assert_eq!(standing("GARBLED").1, "unreachable");
    assert_eq!(doc["instruments"].as_array().unwrap().len(), FLEET + 1);

    let csv = run_with(&env, &peer, &["fleet", "--csv"]);
    csv.assert_code(0);
    assert!(
        csv.stdout
            .starts_with("\"instrument\",\"server version\",\"line\",\"standing\"\r\n")
    );
    assert!(
        csv.stdout
            .contains("\"LARMOR\",\"26.2.1.1001\",\"26.2\",\"a patch behind\"\r\n")
    );
    let text = run_with(&env, &peer, &["fleet"]);
    assert!(
        text.stdout.starts_with("Newest release: 26.2.2"),
        "{}",
        text.stdout
    );
}
