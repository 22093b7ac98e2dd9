//! Resumable, verified downloads into a cache, the way rustup and uv do them: the file streams to
//! `<sha256>.partial` while it is hashed, a dropped connection resumes with `Range` from where it
//! stopped, transient failures (connection errors, timeouts, 5xx, a short body) are retried with
//! backoff, and a hash mismatch is never retried. A finished download is renamed to
//! `<sha256>.7z`, and reused by the next install that needs it. A large download comes over two
//! connections at once (see [`split`]).

mod split;
#[cfg(test)]
mod tests;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{CONTENT_RANGE, RANGE};
use sha2::{Digest, Sha256};

use crate::digest::{self, HashThread, HashingReader};
use crate::error::UpdateError;
use crate::progress::Progress;
use crate::retry::{Attempt, GaveUp, Retry};

/// The slowest transfer that still counts as progress: a mirror that trickles a few bytes a
/// second keeps every read alive, so the rate itself is checked, over a window, as curl's
/// `--speed-limit` and `--speed-time` do.
#[derive(Debug, Clone, Copy)]
pub struct MinRate {
    pub bytes_per_second: u64,
    pub window: Duration,
}

impl MinRate {
    /// 1 KiB/s over `window`.
    pub fn over(window: Duration) -> MinRate {
        MinRate {
            bytes_per_second: 1024,
            window,
        }
    }
}

/// The HTTP clients a download uses: two with the same settings. reqwest's blocking client
/// receives the bytes of all its connections on one runtime thread of its own, so the second
/// connection of a split download has a client of its own, to be received on another core.
#[derive(Debug, Clone)]
pub struct Clients {
    /// For everything but the second connection of a split download.
    pub first: Client,
    pub second: Client,
}

/// One file to download.
#[derive(Debug)]
pub struct Wanted<'a> {
    pub url: &'a str,
    pub size: u64,
    pub sha256: &'a str,
}

/// Downloads `wanted` into `cache` (or finds it there already) and returns the finished file.
pub fn download(
    clients: &Clients,
    wanted: &Wanted<'_>,
    cache: &Path,
    retry: Retry,
    min_rate: MinRate,
    progress: &dyn Progress,
) -> Result<PathBuf, UpdateError> {
    download_splitting_from(
        clients,
        wanted,
        cache,
        retry,
        min_rate,
        progress,
        split::SPLIT_FROM,
    )
}

/// [`download`], over two connections when at least `split_from` bytes are still to come.
fn download_splitting_from(
    clients: &Clients,
    wanted: &Wanted<'_>,
    cache: &Path,
    retry: Retry,
    min_rate: MinRate,
    progress: &dyn Progress,
    split_from: u64,
) -> Result<PathBuf, UpdateError> {
    fs::create_dir_all(cache).map_err(UpdateError::io("create", cache))?;
    let done = cache.join(format!("{}.7z", wanted.sha256));
    if done.is_file() {
        if digest::of_file(&done)? == (wanted.size, wanted.sha256.to_string()) {
            tracing::info!("reusing the verified download {}", done.display());
            mark_used(&done);
            progress.advance(wanted.size);
            return Ok(done);
        }
        crate::fsx::remove_file(&done)?;
    }
    let partial = cache.join(format!("{}.partial", wanted.sha256));
    let mut state = Partial::open(&partial, wanted.size)?;
    progress.advance(state.len);

    // Cleared for good when a second connection fails or its range is not answered as asked.
    let mut may_split = true;
    let fetched = retry.run(&format!("the download of {}", wanted.url), |_| {
        if may_split && wanted.size - state.len >= split_from {
            match split::fetch(clients, wanted, &mut state, min_rate, progress) {
                Some(fetched) => return fetched,
                None => may_split = false,
            }
        }
        if state.len < wanted.size {
            fetch_rest(&clients.first, wanted, &mut state, min_rate, progress)?;
        }
        Ok(())
    });
    match fetched {
        Ok(()) => {}
        Err(GaveUp::Fatal(e)) => return Err(e),
        Err(GaveUp::Exhausted { attempts, last }) => {
            return Err(UpdateError::DownloadFailed {
                url: wanted.url.to_string(),
                attempts,
                detail: last,
            });
        }
    }
    let actual = digest::hex(state.hasher.clone());
    drop(state);
    if actual != wanted.sha256 {
        // Never retried: the mirror serves something else than the index vouches for.
        let _ = crate::fsx::remove_file(&partial);
        return Err(UpdateError::ChecksumMismatch {
            path: wanted.url.to_string(),
            expected: wanted.sha256.to_string(),
            actual,
        });
    }
    crate::fsx::rename(&partial, &done)?;
    Ok(done)
}

/// Records that the archive at `path` was used now, so that pruning keeps the newest.
fn mark_used(path: &Path) {
    if let Err(e) = File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
    {
        tracing::debug!("could not mark {} as used: {e}", path.display());
    }
}

/// What the downloads cache keeps after an install: the archives it used (`in_use`, by SHA-256),
/// the newest `previous` others (what a rollback to the install before would want), and no more
/// than `limit` bytes in all, dropping the oldest first but never what is in use. Downloads
/// left unfinished for over a day go too. Returns what was removed.
pub fn prune(cache: &Path, in_use: &[String], previous: usize, limit: u64) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(cache) else {
        return Vec::new();
    };
    let mut archives = Vec::new();
    let mut removed = Vec::new();
    let day_ago = std::time::SystemTime::now() - Duration::from_secs(86_400);
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        let modified = meta.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH);
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(sha) = name.strip_suffix(".7z") {
            let used = in_use.iter().any(|u| u == sha);
            archives.push((used, modified, meta.len(), path));
        } else if (name.ends_with(".partial") || name.ends_with(".split")) && modified < day_ago {
            removed.push(path);
        }
    }
    // In use first, then newest first.
    archives.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let in_use_count = archives.iter().filter(|a| a.0).count();
    let mut total = 0u64;
    for (index, (used, _, len, path)) in archives.into_iter().enumerate() {
        let wanted = used || index < in_use_count + previous;
        if wanted && (used || total + len <= limit) {
            total += len;
        } else {
            removed.push(path);
        }
    }
    removed.retain(|path| match crate::fsx::remove_file(path) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("could not prune {}: {e}", path.display());
            false
        }
    });
    removed
}

/// The partial file, its length and the hash of what it holds.
struct Partial {
    file: File,
    path: PathBuf,
    len: u64,
    hasher: Sha256,
}

impl Partial {
    /// Opens (or starts) the partial file, hashing what an earlier run left in it. A run that
    /// stopped in the middle of a split download may have left a gap in it, so that file starts
    /// again.
    fn open(path: &Path, size: u64) -> Result<Partial, UpdateError> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(UpdateError::io("open", path))?;
        let marker = split::marker(path);
        if marker.exists() {
            tracing::info!(
                "{} was left in the middle of a split download: starting it again",
                path.display()
            );
            file.set_len(0).map_err(UpdateError::io("truncate", path))?;
            crate::fsx::remove_file(&marker)?;
        }
        let mut earlier = HashingReader::new((&mut file).take(size));
        io::copy(&mut earlier, &mut io::sink()).map_err(UpdateError::io("read", path))?;
        let (hasher, len) = earlier.state();
        let mut partial = Partial {
            file,
            path: path.to_path_buf(),
            len,
            hasher,
        };
        if file_len(path)? > size {
            partial.restart()?;
        }
        Ok(partial)
    }

    fn restart(&mut self) -> Result<(), UpdateError> {
        self.len = 0;
        self.hasher = Sha256::new();
        self.keep_prefix()
    }

    /// Cuts the file back to the prefix that is hashed, and writes next after it.
    fn keep_prefix(&mut self) -> Result<(), UpdateError> {
        self.file
            .set_len(self.len)
            .and_then(|()| self.file.seek(SeekFrom::Start(self.len)))
            .map(drop)
            .map_err(UpdateError::io("truncate", &self.path))
    }
}

fn file_len(path: &Path) -> Result<u64, UpdateError> {
    Ok(fs::metadata(path)
        .map_err(UpdateError::io("inspect", path))?
        .len())
}

/// One request for the rest of the file, appended to the partial file.
fn fetch_rest(
    client: &Client,
    wanted: &Wanted<'_>,
    state: &mut Partial,
    min_rate: MinRate,
    progress: &dyn Progress,
) -> Result<(), Attempt<UpdateError>> {
    state.keep_prefix().map_err(Attempt::Fatal)?;
    let mut request = client.get(wanted.url);
    if state.len > 0 {
        request = request.header(RANGE, format!("bytes={}-", state.len));
    }
    let mut response = send(request, wanted.url)?;
    let status = response.status();
    match status {
        StatusCode::PARTIAL_CONTENT if resumes_at(&response) == Some(state.len) => {}
        StatusCode::OK | StatusCode::PARTIAL_CONTENT => {
            // The server ignored the range (or answered another): start again from the top.
            state.restart().map_err(Attempt::Fatal)?;
            progress.advance(0);
            if status != StatusCode::OK {
                return Err(Attempt::Transient(format!(
                    "unexpected Content-Range for byte {}",
                    state.len
                )));
            }
        }
        s if s.is_server_error()
            || s == StatusCode::TOO_MANY_REQUESTS
            || s == StatusCode::REQUEST_TIMEOUT =>
        {
            return Err(Attempt::Transient(format!("the server answered {s}")));
        }
        s => {
            return Err(Attempt::Fatal(UpdateError::HttpStatus {
                url: wanted.url.to_string(),
                status: s.to_string(),
            }));
        }
    }
    copy_body(&mut response, wanted, state, min_rate, progress)
}

/// Sends `request`: a refused certificate is not worth another try, anything else is.
fn send(request: RequestBuilder, url: &str) -> Result<Response, Attempt<UpdateError>> {
    request.send().map_err(|e| match certificate_problem(&e) {
        Some(reason) => Attempt::Fatal(UpdateError::UntrustedCertificate {
            url: url.to_string(),
            reason,
        }),
        None => Attempt::Transient(describe(&e)),
    })
}

/// The first byte a 206 answer holds, from `Content-Range: bytes START-END/TOTAL`.
fn resumes_at(response: &Response) -> Option<u64> {
    let range = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    range
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Bytes received before they are written and handed to the hashing thread: few large writes.
const BUFFER: usize = 1 << 20;

fn copy_body(
    body: &mut Response,
    wanted: &Wanted<'_>,
    state: &mut Partial,
    min_rate: MinRate,
    progress: &dyn Progress,
) -> Result<(), Attempt<UpdateError>> {
    // The file is written here and hashed on another thread: measured on two cores, a writing
    // thread as well only competed with the receiving ones (bench-download, 1.09x curl against
    // 1.03x).
    let hasher = HashThread::start(state.hasher.clone(), None)
        .map_err(|e| Attempt::Fatal(UpdateError::io("hash", &state.path)(e)))?;
    let received = receive(
        body,
        state.len..wanted.size,
        min_rate,
        progress,
        &mut Prefix {
            state: &mut *state,
            hasher: &hasher,
        },
    );
    // Whatever happened, the hash covers exactly what was written, for a resume to go on from.
    state.hasher = hasher.finish().hasher;
    match received {
        Err(Received::TooLong) => {
            state.restart().map_err(Attempt::Fatal)?;
            Err(Attempt::Transient(format!(
                "the server sent more than the {} bytes the index lists",
                wanted.size
            )))
        }
        Err(Received::Failed(e)) => Err(e),
        Ok(()) => ended_short(state.len, wanted.size),
    }
}

/// A body that ended before `expected` is worth another try, from where it stopped.
fn ended_short(at: u64, expected: u64) -> Result<(), Attempt<UpdateError>> {
    if at < expected {
        Err(Attempt::Transient(format!(
            "the body ended after {at} of {expected} bytes"
        )))
    } else {
        Ok(())
    }
}

enum Received {
    /// The body went on past the end of the range it was asked for.
    TooLong,
    Failed(Attempt<UpdateError>),
}

/// Where received bytes go.
trait Sink {
    /// A buffer of [`BUFFER`] bytes to fill.
    fn buffer(&mut self) -> Vec<u8>;
    /// Keeps the received `buf` after everything kept before it.
    fn keep(&mut self, buf: Vec<u8>) -> Result<(), Received>;
}

/// The partial file's hashed prefix: bytes are written after it and hashed on `hasher`.
struct Prefix<'a> {
    state: &'a mut Partial,
    hasher: &'a HashThread,
}

impl Sink for Prefix<'_> {
    fn buffer(&mut self) -> Vec<u8> {
        self.hasher.buffer(BUFFER)
    }

    fn keep(&mut self, buf: Vec<u8>) -> Result<(), Received> {
        self.state.file.write_all(&buf).map_err(|e| {
            Received::Failed(Attempt::Fatal(UpdateError::io("write", &self.state.path)(
                e,
            )))
        })?;
        self.state.len += buf.len() as u64;
        self.hasher.update(buf);
        Ok(())
    }
}

/// Reads the body, which holds the bytes `range` of the file, into `sink`, checking on the way
/// that it is not longer than the range, that the transfer keeps up `min_rate`, and that nobody
/// cancelled. `progress` hears how far into the file the body has come.
fn receive(
    body: &mut Response,
    range: std::ops::Range<u64>,
    min_rate: MinRate,
    progress: &dyn Progress,
    sink: &mut dyn Sink,
) -> Result<(), Received> {
    let mut received = range.start;
    let mut window = (Instant::now(), received);
    let mut ended = false;
    while !ended {
        let mut buf = sink.buffer();
        let mut filled = 0;
        let mut stopped = None;
        while filled < buf.len() {
            let (since, at) = window;
            let elapsed = since.elapsed();
            let now = received + filled as u64;
            if elapsed >= min_rate.window {
                let rate = (now - at) as f64 / elapsed.as_secs_f64();
                if rate < min_rate.bytes_per_second as f64 {
                    stopped = Some(Attempt::Transient(format!(
                        "the transfer slowed to {rate:.0} bytes/s over {:.0} s, under the {} bytes/s that counts as progress",
                        elapsed.as_secs_f64(),
                        min_rate.bytes_per_second
                    )));
                    break;
                }
                window = (Instant::now(), now);
            }
            if progress.cancelled() {
                stopped = Some(Attempt::Fatal(UpdateError::Cancelled));
                break;
            }
            match body.read(&mut buf[filled..]) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    stopped = Some(Attempt::Transient(format!("the connection broke: {e}")));
                    break;
                }
            }
            if received + filled as u64 > range.end {
                return Err(Received::TooLong);
            }
            progress.advance(received + filled as u64);
        }
        // What arrived is kept even when the transfer stops: the next attempt resumes after it.
        buf.truncate(filled);
        received += filled as u64;
        sink.keep(buf)?;
        if let Some(stopped) = stopped {
            return Err(Received::Failed(stopped));
        }
    }
    Ok(())
}

/// Why the server's TLS certificate was refused, when that is why `e` failed: not worth another
/// try, and the user (or IT) needs to know which of the reasons it was.
pub fn certificate_problem(e: &reqwest::Error) -> Option<String> {
    use rustls::CertificateError as C;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(rustls::Error::InvalidCertificate(problem)) = as_rustls(c) {
            return Some(match problem {
                C::UnknownIssuer => "it is not signed by a certificate authority this machine trusts (behind a proxy that inspects TLS, IT adds the proxy's CA to extra_ca_certs in the machine policy)".to_string(),
                C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
                C::NotValidYet | C::NotValidYetContext { .. } => {
                    "it is not valid yet (is this machine's clock right?)".to_string()
                }
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "it was issued for another host name".to_string()
                }
                other => format!("it is not valid ({other})"),
            });
        }
        cause = c.source();
    }
    None
}

/// The TLS error behind `e`, which I/O errors may wrap in each other.
fn as_rustls<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        e = e.downcast_ref::<io::Error>()?.get_ref()?;
    }
}

/// reqwest's error for the log and the final message: what went wrong in plain words, when it is
/// one of the usual causes, then the error with its causes.
pub fn describe(e: &reqwest::Error) -> String {
    let mut chain = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        chain.push_str(&format!(": {c}"));
        cause = c.source();
    }
    match usual_cause(e, &chain) {
        Some(plain) => format!("{plain} ({chain})"),
        None => chain,
    }
}

/// The usual reasons a request fails before any answer, said so that the user knows where to
/// look: the name, the server, the proxy, or the network.
fn usual_cause(e: &reqwest::Error, chain: &str) -> Option<&'static str> {
    let lower = chain.to_ascii_lowercase();
    let io_kind = {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
        let mut kind = None;
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<io::Error>() {
                kind = Some(io.kind());
                break;
            }
            cause = c.source();
        }
        kind
    };
    if lower.contains("dns error") || lower.contains("failed to lookup address") {
        Some("the host name could not be looked up (DNS): check the mirror's address")
    } else if lower.contains("tunnel") || lower.contains("proxy") {
        Some("the proxy refused or failed the connection: check the proxy setting")
    } else if io_kind == Some(io::ErrorKind::ConnectionRefused)
        || lower.contains("connection refused")
    {
        Some("the server refused the connection: is the mirror up, and is the port right?")
    } else if e.is_timeout() {
        Some("the server did not answer in time")
    } else if matches!(
        io_kind,
        Some(io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted)
    ) {
        Some("the connection was cut")
    } else {
        None
    }
}
