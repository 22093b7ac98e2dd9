//! A read-only Channel Access client: UDP name search, then one TCP virtual circuit per server
//! that answered, on which every channel is created and read in one round trip each.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::clock;
use crate::instrument::ca::message::{
    DONT_REPLY, ECA_NORMAL, MINOR_VERSION, Message, Value, cmd, dbr,
};
use crate::instrument::ca::{CaConfig, CaError};

/// Largest UDP search datagram: stays under a typical MTU.
const DATAGRAM: usize = 1024;
const FIRST_RESEND: Duration = Duration::from_millis(100);
/// How long a closing circuit waits for the server to close its side.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// Reads every PV in `names`, returning one result per name in the same order. PVs that no
/// server answers for within the timeout come back as [`CaError::NotFound`].
///
/// The search and the reads overlap: as soon as a server answers, a circuit to it reads its PVs
/// while the search goes on for the rest, so one instrument that never answers costs the timeout
/// but delays no other.
pub fn read_pvs(config: &CaConfig, names: &[String]) -> Vec<Result<Value, CaError>> {
    let deadline = clock::deadline(config.timeout);
    let mut results: Vec<Result<Value, CaError>> = names
        .iter()
        .map(|pv| {
            Err(CaError::NotFound {
                pv: pv.clone(),
                searched: config.describe_search(),
                timeout: config.timeout,
            })
        })
        .collect();
    std::thread::scope(|scope| {
        let mut circuits = Vec::new();
        let searched = search(config, names, deadline, |found| {
            let mut by_server: BTreeMap<SocketAddr, Vec<usize>> = BTreeMap::new();
            for (index, server) in found {
                by_server.entry(server).or_default().push(index);
            }
            for (server, indices) in by_server {
                let pvs: Vec<String> = indices.iter().map(|&i| names[i].clone()).collect();
                let handle = crate::worker::spawn_scoped(
                    scope,
                    &format!("ca-circuit-{server}"),
                    move || circuit(server, &pvs, deadline),
                );
                circuits.push((indices, server, handle));
            }
        });
        if let Err(e) = searched {
            results.iter_mut().for_each(|r| *r = Err(e.clone()));
        }
        for (indices, server, handle) in circuits {
            let failed = |detail: String| {
                Err(CaError::Io {
                    peer: server.to_string(),
                    detail,
                })
            };
            let values = match handle {
                Ok(handle) => handle.join().unwrap_or_else(|_| {
                    indices
                        .iter()
                        .map(|_| failed("the circuit thread panicked".into()))
                        .collect()
                }),
                Err(e) => indices.iter().map(|_| failed(e.to_string())).collect(),
            };
            for (i, value) in indices.into_iter().zip(values) {
                results[i] = value;
            }
        }
    });
    results
}

/// Sends name searches until every PV has an answer or the deadline passes, handing each batch
/// of answers (PV index, server) to `on_found` as it arrives.
fn search(
    config: &CaConfig,
    names: &[String],
    deadline: Instant,
    mut on_found: impl FnMut(Vec<(usize, SocketAddr)>),
) -> Result<(), CaError> {
    let io = |e: std::io::Error| CaError::Io {
        peer: "UDP search socket".into(),
        detail: e.to_string(),
    };
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(io)?;
    if config
        .search
        .iter()
        .any(|a| matches!(a, SocketAddr::V4(v4) if v4.ip().is_broadcast()))
    {
        socket.set_broadcast(true).map_err(io)?;
    }
    let mut answered = vec![false; names.len()];
    let mut remaining = names.len();
    let mut resend_at = Instant::now();
    let mut interval = FIRST_RESEND;
    let mut buf = vec![0u8; 65536];
    while remaining > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if now >= resend_at {
            let pending: Vec<usize> = (0..names.len()).filter(|&i| !answered[i]).collect();
            for datagram in search_datagrams(names, &pending) {
                for addr in &config.search {
                    // A search address that cannot be reached is not fatal: others may answer.
                    if let Err(e) = socket.send_to(&datagram, addr) {
                        tracing::debug!("search to {addr} failed: {e}");
                    }
                }
            }
            resend_at = now + interval;
            interval = (interval * 2).min(Duration::from_secs(1));
        }
        let wait = resend_at
            .min(deadline)
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        socket.set_read_timeout(Some(wait)).map_err(io)?;
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            // Windows reports an ICMP port-unreachable from an earlier send this way.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => continue,
            Err(e) => return Err(io(e)),
        };
        let Ok(messages) = Message::decode_datagram(&buf[..len]) else {
            tracing::debug!("ignoring a garbled search reply from {from}");
            continue;
        };
        let mut found = Vec::new();
        for m in messages.into_iter().filter(|m| m.command == cmd::SEARCH) {
            let index = m.param2 as usize;
            if index >= names.len() || answered[index] {
                continue;
            }
            let ip = if m.param1 == u32::MAX {
                match from {
                    SocketAddr::V4(v4) => *v4.ip(),
                    SocketAddr::V6(_) => continue,
                }
            } else {
                Ipv4Addr::from(m.param1)
            };
            answered[index] = true;
            remaining -= 1;
            found.push((index, SocketAddr::V4(SocketAddrV4::new(ip, m.data_type))));
        }
        if !found.is_empty() {
            on_found(found);
        }
    }
    Ok(())
}

/// Search requests for the PVs at `pending`, packed into datagrams that each start with a
/// VERSION message. The search ID is the PV's index.
fn search_datagrams(names: &[String], pending: &[usize]) -> Vec<Vec<u8>> {
    let mut datagrams = Vec::new();
    let mut current = Vec::new();
    for &i in pending {
        if current.is_empty() {
            Message::new(cmd::VERSION, 0, u32::from(MINOR_VERSION), 0, 0).encode(&mut current);
        }
        let before = current.len();
        Message::new(
            cmd::SEARCH,
            DONT_REPLY,
            u32::from(MINOR_VERSION),
            i as u32,
            i as u32,
        )
        .with_name(&names[i])
        .encode(&mut current);
        if current.len() > DATAGRAM && before > 16 {
            let overflow = current.split_off(before);
            datagrams.push(std::mem::take(&mut current));
            Message::new(cmd::VERSION, 0, u32::from(MINOR_VERSION), 0, 0).encode(&mut current);
            current.extend_from_slice(&overflow);
        }
    }
    if !current.is_empty() {
        datagrams.push(current);
    }
    datagrams
}

/// One virtual circuit: create every channel, read every one, clear them, close.
fn circuit(server: SocketAddr, pvs: &[String], deadline: Instant) -> Vec<Result<Value, CaError>> {
    match run_circuit(server, pvs, deadline) {
        Ok(values) => values,
        Err(e) => pvs.iter().map(|_| Err(e.clone())).collect(),
    }
}

struct Channel {
    sid: Option<u32>,
    native_type: u16,
    result: Option<Result<Value, CaError>>,
}

fn run_circuit(
    server: SocketAddr,
    pvs: &[String],
    deadline: Instant,
) -> Result<Vec<Result<Value, CaError>>, CaError> {
    let io = |e: std::io::Error| CaError::Io {
        peer: server.to_string(),
        detail: e.to_string(),
    };
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let stream = TcpStream::connect_timeout(&server, remaining).map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    let mut conn = Connection {
        stream,
        server,
        buf: Vec::new(),
        deadline,
    };

    let mut out = Vec::new();
    Message::new(cmd::VERSION, 0, u32::from(MINOR_VERSION), 0, 0).encode(&mut out);
    Message::new(cmd::CLIENT_NAME, 0, 0, 0, 0)
        .with_name(&user_name())
        .encode(&mut out);
    Message::new(cmd::HOST_NAME, 0, 0, 0, 0)
        .with_name(&gethostname::gethostname().to_string_lossy())
        .encode(&mut out);
    for (cid, pv) in pvs.iter().enumerate() {
        Message::new(cmd::CREATE_CHAN, 0, 0, cid as u32, u32::from(MINOR_VERSION))
            .with_name(pv)
            .encode(&mut out);
    }
    conn.send(&out)?;

    let mut channels: Vec<Channel> = pvs
        .iter()
        .map(|_| Channel {
            sid: None,
            native_type: dbr::STRING,
            result: None,
        })
        .collect();
    // Channels: created or refused.
    while channels
        .iter()
        .any(|c| c.sid.is_none() && c.result.is_none())
    {
        let Some(m) = conn.next()? else {
            break;
        };
        let Some(channel) = channels.get_mut(m.param1 as usize) else {
            continue;
        };
        match m.command {
            cmd::CREATE_CHAN => {
                channel.sid = Some(m.param2);
                channel.native_type = m.data_type;
            }
            cmd::CREATE_CH_FAIL => {
                channel.result = Some(Err(CaError::ChannelRefused {
                    pv: pvs[m.param1 as usize].clone(),
                    server: server.to_string(),
                }));
            }
            _ => {}
        }
    }

    // Reads: char arrays (CS:INSTLIST) as DBR_CHAR at their current length, everything else as
    // DBR_STRING, which every record type converts to.
    let mut out = Vec::new();
    for (ioid, channel) in channels.iter().enumerate() {
        if let (Some(sid), None) = (channel.sid, &channel.result) {
            let (data_type, count) = if channel.native_type == dbr::CHAR {
                (dbr::CHAR, 0)
            } else {
                (dbr::STRING, 1)
            };
            Message::new(cmd::READ_NOTIFY, data_type, count, sid, ioid as u32).encode(&mut out);
        }
    }
    conn.send(&out)?;
    while channels.iter().any(|c| c.result.is_none()) {
        let Some(m) = conn.next()? else {
            break;
        };
        if m.command != cmd::READ_NOTIFY {
            continue;
        }
        let Some(channel) = channels.get_mut(m.param2 as usize) else {
            continue;
        };
        let pv = &pvs[m.param2 as usize];
        channel.result = Some(if m.param1 != ECA_NORMAL {
            Err(CaError::ReadFailed {
                pv: pv.clone(),
                status: m.param1,
            })
        } else {
            Value::decode(m.data_type, m.data_count, &m.payload).map_err(|e| CaError::Protocol {
                peer: server.to_string(),
                detail: format!("{pv}: {e}"),
            })
        });
    }

    close(&mut conn.stream, &channels);

    let timeout = deadline.saturating_duration_since(Instant::now());
    Ok(channels
        .into_iter()
        .zip(pvs)
        .map(|(c, pv)| {
            c.result.unwrap_or_else(|| {
                Err(CaError::Timeout {
                    pv: pv.clone(),
                    server: server.to_string(),
                    timeout,
                })
            })
        })
        .collect())
}

/// A clean close: clear every channel, say we are done sending, then wait (briefly) for the
/// server to close its side. Closing at once would reset the connection while the server still
/// holds unprocessed clears, and its replies to them would hit a closed socket.
fn close(stream: &mut TcpStream, channels: &[Channel]) {
    let mut out = Vec::new();
    for (cid, channel) in channels.iter().enumerate() {
        if let Some(sid) = channel.sid {
            Message::new(cmd::CLEAR_CHANNEL, 0, 0, sid, cid as u32).encode(&mut out);
        }
    }
    // A server that stopped reading gets the grace period for the clears too, no more.
    if stream.set_write_timeout(Some(CLOSE_GRACE)).is_err()
        || stream.write_all(&out).is_err()
        || stream.shutdown(std::net::Shutdown::Write).is_err()
    {
        return;
    }
    let give_up = Instant::now() + CLOSE_GRACE;
    let mut sink = [0u8; 4096];
    while let Some(left) = give_up.checked_duration_since(Instant::now()) {
        if stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .is_err()
        {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

struct Connection {
    stream: TcpStream,
    server: SocketAddr,
    buf: Vec<u8>,
    deadline: Instant,
}

impl Connection {
    /// Sends `bytes`, giving up at the deadline: a server that never reads what it is sent
    /// cannot hold the updater past it.
    fn send(&mut self, bytes: &[u8]) -> Result<(), CaError> {
        let failed = |detail: String| CaError::Io {
            peer: self.server.to_string(),
            detail,
        };
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            // Earlier sends or answers took all the time: one of the two is the server's doing.
            return Err(failed(
                "the deadline passed before the request was sent: the server stopped reading what the updater sends, or answers too slowly".into(),
            ));
        }
        self.stream
            .set_write_timeout(Some(remaining))
            .map_err(|e| failed(e.to_string()))?;
        self.stream.write_all(bytes).map_err(|e| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                failed("the server stopped reading what the updater sends".into())
            }
            _ => failed(e.to_string()),
        })
    }

    /// The next message, answering echo requests; `None` once the deadline has passed, however
    /// many messages the server keeps sending.
    fn next(&mut self) -> Result<Option<Message>, CaError> {
        let server = self.server;
        let protocol = |detail: String| CaError::Protocol {
            peer: server.to_string(),
            detail,
        };
        loop {
            if Instant::now() >= self.deadline {
                return Ok(None);
            }
            match Message::decode(&self.buf).map_err(|e| protocol(e.to_string()))? {
                Some((m, used)) => {
                    self.buf.drain(..used);
                    match m.command {
                        cmd::ECHO => {
                            let mut out = Vec::new();
                            Message::new(cmd::ECHO, 0, 0, 0, 0).encode(&mut out);
                            self.send(&out)?;
                        }
                        cmd::SERVER_DISCONN => {
                            return Err(protocol("the server closed the circuit".into()));
                        }
                        cmd::ERROR => {
                            tracing::debug!("CA error from {}: {}", self.server, m.payload_text());
                        }
                        _ => return Ok(Some(m)),
                    }
                }
                None => {
                    let remaining = self.deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        return Ok(None);
                    }
                    self.stream
                        .set_read_timeout(Some(remaining))
                        .map_err(|e| protocol(e.to_string()))?;
                    let mut chunk = [0u8; 16384];
                    match self.stream.read(&mut chunk) {
                        Ok(0) => return Err(protocol("the server closed the connection".into())),
                        Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            return Ok(None);
                        }
                        Err(e) => return Err(protocol(e.to_string())),
                    }
                }
            }
        }
    }
}

fn user_name() -> String {
    ["USERNAME", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .unwrap_or_else(|| "ibex-updater".to_string())
}
