//! Channel Access peers that misbehave on purpose, in this process: whatever a server does, every
//! command that asks instruments ends by its `--ca-timeout` and says which server failed.
#![allow(clippy::unwrap_used)] // fixtures: a failure to set one up should panic the test
#![allow(clippy::disallowed_methods)] // the test's own peers and readers run on plain threads

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use ibex_updater_core::demo::ca_server::search_reply;
use ibex_updater_core::instrument::ca::message::{Message, cmd};

use crate::common::{Env, Run};

/// A server that answers every name search, then on each circuit sends ECHO requests as fast as
/// it can and never reads a byte: the updater's answers pile up until its writes would block.
struct EchoFlood {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl EchoFlood {
    fn start() -> EchoFlood {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                break (udp, tcp);
            }
        };
        let port = tcp.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((len, from)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                let reply = search_reply(&buf[..len], port, |_| true);
                let _ = udp.send_to(&reply, from);
            }
        });
        let stopped = stop.clone();
        tcp.set_nonblocking(true).unwrap();
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match tcp.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let stopped = stopped.clone();
                        thread::spawn(move || {
                            let mut echoes = Vec::new();
                            for _ in 0..1024 {
                                Message::new(cmd::ECHO, 0, 0, 0, 0).encode(&mut echoes);
                            }
                            while !stopped.load(Ordering::Relaxed)
                                && stream.write_all(&echoes).is_ok()
                            {}
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        EchoFlood { port, stop }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("EPICS_CA_ADDR_LIST", "127.0.0.1".into()),
            ("EPICS_CA_AUTO_ADDR_LIST", "NO".into()),
            ("EPICS_CA_SERVER_PORT", self.port.to_string()),
        ]
    }
}

impl Drop for EchoFlood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Waits for the updater to finish; one that is still running after a minute, with a one-second
/// `--ca-timeout`, is hung, and is killed so that the test can say so.
fn finish(mut child: Child) -> Option<Run> {
    let give_up = Instant::now() + Duration::from_secs(60);
    while Instant::now() < give_up {
        if child.try_wait().unwrap().is_some() {
            return Some(Run::from(child.wait_with_output().unwrap()));
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn run_against_flood(args: &[&str]) -> Run {
    let env = Env::with_standard_share();
    let flood = EchoFlood::start();
    let mut all = vec!["--ca-timeout", "1"];
    all.extend_from_slice(args);
    let child = env
        .command(&all)
        .envs(flood.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child).unwrap_or_else(|| panic!("`{}` hung past its --ca-timeout", args.join(" ")))
}

#[test]
fn a_server_that_floods_echoes_and_never_reads_cannot_hang_instruments() {
    let run = run_against_flood(&["instruments"]);
    run.assert_code(5);
    // The send blocks once the server's buffers are full, or (under load, or on Wine, whose
    // sockets take the echo replies without blocking) the time runs out between two sends.
    assert!(
        run.stderr
            .contains("stopped reading what the updater sends"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_server_that_floods_echoes_and_never_reads_cannot_hang_a_check() {
    let run = run_against_flood(&["check", "--instrument", "LARMOR"]);
    run.assert_code(5);
}
