//! A small Channel Access server, for the demo's simulated instrument fleet and the tests: it
//! answers name searches and serves fixed PV values, read-only. Real clients (caproto-get, the
//! IBEX GUI) can read from it.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;

use crate::instrument::ca::message::{ECA_NORMAL, MINOR_VERSION, Message, Value, cmd, dbr};
use crate::worker;

/// ECA_BADTYPE: the requested DBR type cannot be served.
const ECA_BADTYPE: u32 = 114;
/// DBR_TIME_STRING and DBR_TIME_CHAR: the value behind status, severity and time stamp (12 bytes;
/// DBR_TIME_CHAR adds 3 bytes of padding).
const DBR_TIME_STRING: u16 = 14;
const DBR_TIME_CHAR: u16 = 18;

#[derive(Debug)]
pub struct CaServer {
    /// The UDP port searches go to (what clients put in EPICS_CA_SERVER_PORT).
    pub search_port: u16,
    pub tcp_port: u16,
}

impl CaServer {
    pub fn search_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.search_port))
    }
}

/// Serves `pvs` on loopback until the process ends. `port` 0 picks a free one.
pub fn serve(port: u16, pvs: HashMap<String, Value>) -> std::io::Result<CaServer> {
    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, port))?;
    let search_port = udp.local_addr()?.port();
    // Like a real IOC, take the same TCP port when it is free.
    let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, search_port))
        .or_else(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))?;
    let tcp_port = tcp.local_addr()?.port();
    let pvs = Arc::new(pvs);

    let search_pvs = Arc::clone(&pvs);
    // The demo's server lives as long as the program: its threads are never joined.
    worker::spawn("ca-server-search", move || {
        answer_searches(&udp, tcp_port, &search_pvs)
    })?;
    worker::spawn("ca-server-accept", move || {
        for stream in tcp.incoming().flatten() {
            let pvs = Arc::clone(&pvs);
            let _ = worker::spawn("ca-server-circuit", move || serve_circuit(stream, &pvs));
        }
    })?;
    Ok(CaServer {
        search_port,
        tcp_port,
    })
}

fn answer_searches(udp: &UdpSocket, tcp_port: u16, pvs: &HashMap<String, Value>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((len, from)) = udp.recv_from(&mut buf) else {
            continue;
        };
        let reply = search_reply(&buf[..len], tcp_port, |pv| pvs.contains_key(pv));
        if !reply.is_empty() {
            let _ = udp.send_to(&reply, from);
        }
    }
}

/// The answer to a search datagram: for each PV that `serves` accepts, "ask me on `tcp_port`"
/// (the server's own address, as `u32::MAX` tells clients). Empty when nothing is served or the
/// datagram is garbled. Tests use it for servers that misbehave once found.
pub fn search_reply(datagram: &[u8], tcp_port: u16, serves: impl Fn(&str) -> bool) -> Vec<u8> {
    let Ok(messages) = Message::decode_datagram(datagram) else {
        return Vec::new();
    };
    let mut reply = Vec::new();
    for m in messages.iter().filter(|m| m.command == cmd::SEARCH) {
        if serves(&m.payload_text()) {
            if reply.is_empty() {
                Message::new(cmd::VERSION, 0, u32::from(MINOR_VERSION), 0, 0).encode(&mut reply);
            }
            let mut payload = MINOR_VERSION.to_be_bytes().to_vec();
            payload.resize(8, 0);
            Message::new(cmd::SEARCH, tcp_port, 0, u32::MAX, m.param1)
                .with_payload(payload)
                .encode(&mut reply);
        }
    }
    reply
}

fn serve_circuit(mut stream: TcpStream, pvs: &HashMap<String, Value>) {
    let _ = stream.set_nodelay(true);
    let mut channels: Vec<&Value> = Vec::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut out = Vec::new();
        loop {
            match Message::decode(&buf) {
                Ok(Some((m, used))) => {
                    buf.drain(..used);
                    respond(&m, pvs, &mut channels, &mut out);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
    }
}

fn respond<'a>(
    m: &Message,
    pvs: &'a HashMap<String, Value>,
    channels: &mut Vec<&'a Value>,
    out: &mut Vec<u8>,
) {
    match m.command {
        cmd::VERSION => Message::new(cmd::VERSION, 0, u32::from(MINOR_VERSION), 0, 0).encode(out),
        cmd::ECHO => Message::new(cmd::ECHO, 0, 0, 0, 0).encode(out),
        cmd::CREATE_CHAN => match pvs.get(&m.payload_text()) {
            Some(value) => {
                let sid = channels.len() as u32;
                channels.push(value);
                let (native, count, _) = value.encode();
                Message::new(cmd::ACCESS_RIGHTS, 0, 0, m.param1, 1).encode(out);
                Message::new(cmd::CREATE_CHAN, native, count, m.param1, sid).encode(out);
            }
            None => Message::new(cmd::CREATE_CH_FAIL, 0, 0, m.param1, 0).encode(out),
        },
        cmd::READ_NOTIFY => {
            let Some(value) = channels.get(m.param1 as usize) else {
                return;
            };
            let (native, count, payload) = value.encode();
            let (plain, prefix) = match m.data_type {
                DBR_TIME_STRING => (dbr::STRING, 12),
                DBR_TIME_CHAR => (dbr::CHAR, 15),
                other => (other, 0),
            };
            if plain != native {
                Message::new(cmd::READ_NOTIFY, m.data_type, 0, ECA_BADTYPE, m.param2).encode(out);
                return;
            }
            // A requested count of 0 means "as many as there are now".
            let wanted = if m.data_count == 0 {
                count
            } else {
                m.data_count.min(count)
            };
            let element = if native == dbr::STRING {
                dbr::STRING_SIZE
            } else {
                1
            };
            let mut data = vec![0u8; prefix];
            data.extend_from_slice(&payload[..wanted as usize * element]);
            Message::new(cmd::READ_NOTIFY, m.data_type, wanted, ECA_NORMAL, m.param2)
                .with_payload(data)
                .encode(out);
        }
        cmd::CLEAR_CHANNEL => {
            Message::new(cmd::CLEAR_CHANNEL, 0, 0, m.param1, m.param2).encode(out)
        }
        _ => {}
    }
}
