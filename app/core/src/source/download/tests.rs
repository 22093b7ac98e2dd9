//! Downloads from a real HTTP/1.1 server on 127.0.0.1 that answers ranges (`bytes=A-` and
//! `bytes=A-B`) and can misbehave: ignore ranges, or cut a connection short.
#![allow(clippy::disallowed_methods)] // the test's own peers and readers run on plain threads

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use super::*;
use crate::progress::NoProgress;

/// What the server does, and what it was asked.
#[derive(Debug, Default)]
struct Behaviour {
    /// Answer 200 with the whole body to every request.
    no_range: bool,
    /// (first byte asked for, bytes to send): the first request asking from that byte gets only
    /// that many, then the connection closes.
    cut: Vec<(u64, usize)>,
    /// (first byte asked for): the first request asking from that byte gets the rest of the
    /// file, past the last byte it asked for, under the range it asked for.
    overlong: Vec<u64>,
    /// (first, last) byte asked for, per request; `None` for a request without a range.
    asked: Vec<Option<(u64, Option<u64>)>>,
}

struct Server {
    url: String,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl Server {
    fn serving(body: Vec<u8>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/kit.7z", listener.local_addr().unwrap());
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let (body, shared) = (Arc::new(body), behaviour.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (body, shared) = (body.clone(), shared.clone());
                thread::spawn(move || answer(stream, &body, &shared));
            }
        });
        Server { url, behaviour }
    }

    fn asked(&self) -> Vec<Option<(u64, Option<u64>)>> {
        self.behaviour.lock().unwrap().asked.clone()
    }
}

fn answer(mut stream: TcpStream, body: &[u8], behaviour: &Mutex<Behaviour>) {
    let mut reader = BufReader::new(&stream);
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            let (first, last) = value.trim().split_once('-').unwrap();
            range = Some((first.parse::<u64>().unwrap(), last.parse::<u64>().ok()));
        }
    }
    let mut b = behaviour.lock().unwrap();
    b.asked.push(range);
    let (status, first, last) = match range {
        Some((first, last)) if !b.no_range => (206, first, last.unwrap_or(body.len() as u64 - 1)),
        _ => (200, 0, body.len() as u64 - 1),
    };
    let mut part = &body[first as usize..=last as usize];
    if let Some(i) = b.overlong.iter().position(|from| *from == first) {
        b.overlong.remove(i);
        part = &body[first as usize..];
    }
    let send = match b.cut.iter().position(|(from, _)| *from == first) {
        Some(i) => b.cut.remove(i).1.min(part.len()),
        None => part.len(),
    };
    drop(b);
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        part.len()
    );
    if status == 206 {
        head += &format!("Content-Range: bytes {first}-{last}/{}\r\n", body.len());
    }
    head += "\r\n";
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&part[..send]);
}

/// Bytes that differ everywhere, so that a piece written at the wrong place is caught.
fn body(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

const LEN: usize = 3 << 20;
const SPLIT_FROM: u64 = 1 << 20;

fn get(server: &Server, expected: &[u8], cache: &Path) -> Result<PathBuf, UpdateError> {
    crate::source::http::install_crypto_provider();
    let client = || {
        Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    };
    let clients = Clients {
        first: client(),
        second: client(),
    };
    let sha256 = digest::of_reader(&mut &expected[..]).unwrap().1;
    let wanted = Wanted {
        url: &server.url,
        size: expected.len() as u64,
        sha256: &sha256,
    };
    let retry = Retry {
        attempts: 5,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
    };
    download_splitting_from(
        &clients,
        &wanted,
        cache,
        retry,
        MinRate::over(Duration::from_secs(5)),
        &NoProgress,
        SPLIT_FROM,
    )
}

/// Where a download of `expected` into `cache` keeps what it has so far.
fn partial_of(cache: &Path, expected: &[u8]) -> PathBuf {
    let sha256 = digest::of_reader(&mut &expected[..]).unwrap().1;
    cache.join(format!("{sha256}.partial"))
}

/// Only the finished download is left in the cache: no partial file, no split marker.
fn only_the_download(cache: &Path, done: &Path) {
    let left: Vec<_> = fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left, vec![done.to_path_buf()]);
}

#[test]
fn a_large_download_comes_over_two_connections_one_part_each() {
    let expected = body(LEN);
    let server = Server::serving(expected.clone());
    let cache = tempfile::tempdir().unwrap();
    let done = get(&server, &expected, cache.path()).unwrap();
    assert!(fs::read(&done).unwrap() == expected, "the bytes differ");
    let mid = split::boundary(0, LEN as u64);
    let mut asked = server.asked();
    asked.sort();
    assert_eq!(
        asked,
        vec![Some((0, Some(mid - 1))), Some((mid, Some(LEN as u64 - 1)))]
    );
    only_the_download(cache.path(), &done);
}

#[test]
fn a_small_download_comes_over_one_connection() {
    let expected = body(SPLIT_FROM as usize - 1);
    let server = Server::serving(expected.clone());
    let cache = tempfile::tempdir().unwrap();
    let done = get(&server, &expected, cache.path()).unwrap();
    assert!(fs::read(&done).unwrap() == expected, "the bytes differ");
    assert_eq!(server.asked(), vec![None]);
}

#[test]
fn a_server_without_ranges_is_downloaded_from_over_one_connection() {
    let expected = body(LEN);
    let server = Server::serving(expected.clone());
    server.behaviour.lock().unwrap().no_range = true;
    let cache = tempfile::tempdir().unwrap();
    let done = get(&server, &expected, cache.path()).unwrap();
    assert!(fs::read(&done).unwrap() == expected, "the bytes differ");
    // Asked for the second part, got the whole file, and downloaded it once over one connection.
    assert_eq!(
        server.asked(),
        vec![
            Some((split::boundary(0, LEN as u64), Some(LEN as u64 - 1))),
            None
        ]
    );
    only_the_download(cache.path(), &done);
}

#[test]
fn a_second_part_cut_short_resumes_after_what_arrived() {
    let expected = body(LEN);
    let server = Server::serving(expected.clone());
    let mid = split::boundary(0, LEN as u64);
    server.behaviour.lock().unwrap().cut = vec![(mid, 100_000)];
    let cache = tempfile::tempdir().unwrap();
    let done = get(&server, &expected, cache.path()).unwrap();
    assert!(fs::read(&done).unwrap() == expected, "the bytes differ");
    let asked = server.asked();
    assert!(
        asked
            .iter()
            .any(|a| a.is_some_and(|(first, _)| first == mid + 100_000)),
        "resumed after the 100,000 bytes of the second part that arrived: {asked:?}"
    );
    only_the_download(cache.path(), &done);
}

#[test]
fn a_first_part_cut_short_resumes_after_what_arrived_of_it() {
    let expected = body(LEN);
    let server = Server::serving(expected.clone());
    server.behaviour.lock().unwrap().cut = vec![(0, 100_000)];
    let cache = tempfile::tempdir().unwrap();
    let done = get(&server, &expected, cache.path()).unwrap();
    assert!(fs::read(&done).unwrap() == expected, "the bytes differ");
    let asked = server.asked();
    assert!(
        asked
            .iter()
            .any(|a| a.is_some_and(|(first, _)| first == 100_000)),
        "resumed after the first part's 100,000 bytes, dropping what came of the second: {asked:?}"
    );
    only_the_download(cache.path(), &done);
}

/// A first part that goes on past the bytes it was asked for is cut off at its end: nothing
/// past it is written, and the rest of the file is asked for again from there.
#[test]
fn a_part_longer_than_asked_is_cut_off_at_its_end() {
    let expected = body(LEN);
    let server = Server::serving(expected.clone());
    server.behaviour.lock().unwrap().overlong = vec![0];
    let cache = tempfile::tempdir().unwrap();
    let done = get(&server, &expected, cache.path()).unwrap();
    assert!(fs::read(&done).unwrap() == expected, "the bytes differ");
    let mid = split::boundary(0, LEN as u64);
    assert!(
        server
            .asked()
            .contains(&Some((mid, Some(split::boundary(mid, LEN as u64) - 1)))),
        "asked again from the end of the first part, as a first part of its own: {:?}",
        server.asked()
    );
    only_the_download(cache.path(), &done);
}

/// A run killed in the middle of a split download left a gap in the partial file: the next run
/// starts the file again instead of hashing the gap and refusing the download as corrupt.
#[test]
fn a_split_download_left_by_a_killed_run_starts_again() {
    let expected = body(LEN);
    let server = Server::serving(expected.clone());
    let cache = tempfile::tempdir().unwrap();
    let partial = partial_of(cache.path(), &expected);
    let mut left = expected[..1000].to_vec();
    left.resize(LEN / 2, 0);
    left.extend_from_slice(&expected[LEN / 2..LEN / 2 + 1000]);
    fs::write(&partial, &left).unwrap();
    fs::write(split::marker(&partial), b"").unwrap();
    let done = get(&server, &expected, cache.path()).unwrap();
    assert!(fs::read(&done).unwrap() == expected, "the bytes differ");
    assert!(
        server
            .asked()
            .contains(&Some((0, Some(split::boundary(0, LEN as u64) - 1)))),
        "started from byte 0: {:?}",
        server.asked()
    );
    only_the_download(cache.path(), &done);
}

/// Without the marker, a partial file is a prefix to resume after, as before.
#[test]
fn a_partial_download_resumes_after_its_prefix() {
    let expected = body(LEN);
    let server = Server::serving(expected.clone());
    let cache = tempfile::tempdir().unwrap();
    fs::write(partial_of(cache.path(), &expected), &expected[..1000]).unwrap();
    let done = get(&server, &expected, cache.path()).unwrap();
    assert!(fs::read(&done).unwrap() == expected, "the bytes differ");
    let mid = split::boundary(1000, LEN as u64);
    let mut asked = server.asked();
    asked.sort();
    assert_eq!(
        asked,
        vec![
            Some((1000, Some(mid - 1))),
            Some((mid, Some(LEN as u64 - 1)))
        ]
    );
}
