//! A large download over two connections at once, each bringing a part of the file. One
//! connection is bound by the CPU that receives and writes its bytes (curl on loopback keeps one
//! core busy in the kernel and no more), so a second lets a machine with cores to spare take in
//! more.
//!
//! The first part is written after the partial file's hashed prefix and hashed as it arrives, as
//! a single connection's body is. The second part is written at its place in the same file by a
//! thread of its own. Once the first part is in, the second is read back (from the page cache)
//! and hashed in order, chasing the thread that writes it. Whatever stops either connection, the
//! file is cut back to the prefix that was hashed, so that a retry resumes after it; a run that
//! is killed in the middle leaves a marker beside the file, and the next one starts the file
//! again instead of hashing a gap.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::RANGE;

use super::{
    BUFFER, Clients, MinRate, Partial, Prefix, Received, Sink, Wanted, ended_short, receive,
    resumes_at, send,
};
use crate::client::component::Component;
use crate::digest::HashThread;
use crate::error::UpdateError;
use crate::progress::{Progress, Stage};
use crate::retry::Attempt;
use crate::worker;

/// Downloads with at least this much still to come are split: below it, the second connection's
/// setup costs more than it brings.
pub(super) const SPLIT_FROM: u64 = 16 << 20;

/// The share of the rest that the first connection brings. The second part is hashed only once
/// the first is in, reading it back, so it is the smaller: bench-download on two cores took
/// 0.65 s with a third, 0.73 s with a half, against 0.76 s for curl.
const FIRST_PART: (u64, u64) = (2, 3);

/// Where the second part starts, when the file is wanted from byte `from` on.
pub(super) fn boundary(from: u64, size: u64) -> u64 {
    from + (size - from) / FIRST_PART.1 * FIRST_PART.0
}

/// The file that says a split download is under way for the partial file at `partial`.
pub(super) fn marker(partial: &Path) -> PathBuf {
    partial.with_extension("split")
}

/// Fetches the rest of the file over two connections. `None` when the server does not answer a
/// request for the second part with exactly that range: the caller then downloads over one.
pub(super) fn fetch(
    clients: &Clients,
    wanted: &Wanted<'_>,
    state: &mut Partial,
    min_rate: MinRate,
    progress: &dyn Progress,
) -> Option<Result<(), Attempt<UpdateError>>> {
    if let Err(e) = state.keep_prefix() {
        return Some(Err(Attempt::Fatal(e)));
    }
    let mid = boundary(state.len, wanted.size);
    let request = clients
        .second
        .get(wanted.url)
        .header(RANGE, format!("bytes={mid}-{}", wanted.size - 1));
    let tail = match request.send() {
        Ok(r) if r.status() == StatusCode::PARTIAL_CONTENT && resumes_at(&r) == Some(mid) => r,
        Ok(r) => {
            tracing::info!(
                "{} answered a request for bytes {mid}- with {}: downloading over one connection",
                wanted.url,
                r.status()
            );
            return None;
        }
        // The single connection's request will meet the same failure, and say what it is.
        Err(e) => {
            tracing::info!("a second connection to {} failed: {e}", wanted.url);
            return None;
        }
    };
    let marker = marker(&state.path);
    if let Err(e) = File::create(&marker) {
        return Some(Err(Attempt::Fatal(UpdateError::io("create", &marker)(e))));
    }
    let fetched = both_parts(&clients.first, wanted, state, mid, tail, min_rate, progress);
    // Whatever happened, the file is again a hashed prefix and nothing after it.
    let tidied = state
        .keep_prefix()
        .and_then(|()| crate::fsx::remove_file(&marker));
    Some(fetched.and(tidied.map_err(Attempt::Fatal)))
}

/// What the two threads share.
struct Tail {
    /// Bytes of the second part written so far, from its start.
    written: AtomicU64,
    /// Set when the first part failed: the second stops too.
    stop: AtomicBool,
}

fn both_parts(
    client: &Client,
    wanted: &Wanted<'_>,
    state: &mut Partial,
    mid: u64,
    mut body: Response,
    min_rate: MinRate,
    progress: &dyn Progress,
) -> Result<(), Attempt<UpdateError>> {
    let path = state.path.clone();
    let io = |verb: &'static str| {
        let path = path.clone();
        move |e| Attempt::Fatal(UpdateError::io(verb, &path)(e))
    };
    let mut file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(io("open"))?;
    file.seek(SeekFrom::Start(mid)).map_err(io("seek"))?;
    let mut reader = crate::fsx::open_file(&path).map_err(io("open"))?;
    let hasher = HashThread::start(state.hasher.clone(), None).map_err(io("hash"))?;
    let tail = Tail {
        written: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    };
    let fetched = thread::scope(|scope| {
        let waiting = thread::current();
        let second = worker::spawn_scoped(scope, "download-part-2", || {
            let mut sink = AtPlace {
                file,
                path: &path,
                written: &tail.written,
                waiting,
                spare: Vec::new(),
            };
            let progress = SecondPart {
                inner: progress,
                stop: &tail.stop,
            };
            receive(&mut body, mid..wanted.size, min_rate, &progress, &mut sink)
        })
        .map_err(io("start a thread for"))?;
        let progress = FirstPart {
            inner: progress,
            tail: &tail.written,
        };
        let mut chase = Chase {
            tail: &tail,
            mid,
            reader: &mut reader,
            hasher: &hasher,
            progress: &progress,
        };
        let first =
            first_part(client, wanted, state, mid, min_rate, &progress, &hasher).and_then(|()| {
                // Hashes the second part as it is written, until its thread stops.
                while !second.is_finished() {
                    chase.hash_written(state).map_err(io("read back"))?;
                    thread::park_timeout(Duration::from_millis(50));
                }
                Ok(())
            });
        if first.is_err() {
            tail.stop.store(true, Ordering::Relaxed);
        }
        let second = second.join();
        // The first part's failure is the one to report: the second only stopped because of it.
        first?;
        // Everything the thread wrote is seen now that it is joined.
        chase.hash_written(state).map_err(io("read back"))?;
        match second {
            Ok(Ok(())) => ended_short(state.len, wanted.size),
            Ok(Err(Received::Failed(e))) => Err(e),
            Ok(Err(Received::TooLong)) => Err(Attempt::Transient(format!(
                "the server sent more than the bytes {mid}-{} it was asked for",
                wanted.size - 1
            ))),
            Err(_) => Err(Attempt::Transient(
                "the second connection's thread stopped".into(),
            )),
        }
    });
    // The hash covers exactly the prefix, for a retry to go on from.
    state.hasher = hasher.finish().hasher;
    fetched
}

/// Asks for the bytes from the prefix up to `mid` and writes them after it, hashing them.
fn first_part(
    client: &Client,
    wanted: &Wanted<'_>,
    state: &mut Partial,
    mid: u64,
    min_rate: MinRate,
    progress: &dyn Progress,
    hasher: &HashThread,
) -> Result<(), Attempt<UpdateError>> {
    let request = client
        .get(wanted.url)
        .header(RANGE, format!("bytes={}-{}", state.len, mid - 1));
    let mut body = send(request, wanted.url)?;
    if body.status() != StatusCode::PARTIAL_CONTENT || resumes_at(&body) != Some(state.len) {
        return Err(Attempt::Transient(format!(
            "the server answered a request for bytes {}-{} with {}",
            state.len,
            mid - 1,
            body.status()
        )));
    }
    let from = state.len;
    let mut sink = Prefix { state, hasher };
    match receive(&mut body, from..mid, min_rate, progress, &mut sink) {
        Err(Received::TooLong) => Err(Attempt::Transient(format!(
            "the server sent more than the bytes up to {mid} it was asked for"
        ))),
        Err(Received::Failed(e)) => Err(e),
        Ok(()) => ended_short(state.len, mid),
    }
}

/// Reads the second part back from the file, in order, for the hash.
struct Chase<'a> {
    tail: &'a Tail,
    mid: u64,
    reader: &'a mut File,
    hasher: &'a HashThread,
    progress: &'a dyn Progress,
}

impl Chase<'_> {
    /// Hashes what the second part's thread has written since the last call, once the prefix
    /// has reached the second part.
    fn hash_written(&mut self, state: &mut Partial) -> std::io::Result<()> {
        let written = self.mid + self.tail.written.load(Ordering::Acquire);
        if state.len < self.mid || state.len >= written {
            return Ok(());
        }
        self.reader.seek(SeekFrom::Start(state.len))?;
        while state.len < written {
            let len = BUFFER.min(usize::try_from(written - state.len).unwrap_or(BUFFER));
            let mut buf = self.hasher.buffer(len);
            self.reader.read_exact(&mut buf)?;
            state.len += len as u64;
            self.hasher.update(buf);
            self.progress.advance(self.mid);
        }
        Ok(())
    }
}

/// The second part, written at its place in the file.
struct AtPlace<'a> {
    file: File,
    path: &'a Path,
    written: &'a AtomicU64,
    /// Woken after each write, to hash what was written.
    waiting: thread::Thread,
    spare: Vec<u8>,
}

impl Sink for AtPlace<'_> {
    fn buffer(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.spare);
        buf.resize(BUFFER, 0);
        buf
    }

    fn keep(&mut self, buf: Vec<u8>) -> Result<(), Received> {
        self.file.write_all(&buf).map_err(|e| {
            Received::Failed(Attempt::Fatal(UpdateError::io("write", self.path)(e)))
        })?;
        self.written.fetch_add(buf.len() as u64, Ordering::Release);
        self.waiting.unpark();
        self.spare = buf;
        Ok(())
    }
}

/// The first part's progress, with what the second part has brought added.
struct FirstPart<'a> {
    inner: &'a dyn Progress,
    tail: &'a AtomicU64,
}

impl Progress for FirstPart<'_> {
    fn stage(&self, component: Component, stage: Stage, total: Option<u64>) {
        self.inner.stage(component, stage, total);
    }

    fn advance(&self, done: u64) {
        self.inner.advance(done + self.tail.load(Ordering::Relaxed));
    }

    fn cancelled(&self) -> bool {
        self.inner.cancelled()
    }
}

/// The second part reports no progress of its own (the first part adds it in), and stops when
/// the first part failed.
struct SecondPart<'a> {
    inner: &'a dyn Progress,
    stop: &'a AtomicBool,
}

impl Progress for SecondPart<'_> {
    fn stage(&self, _: Component, _: Stage, _: Option<u64>) {}

    fn advance(&self, _: u64) {}

    fn cancelled(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.inner.cancelled()
    }
}
