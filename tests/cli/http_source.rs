//! The HTTP mirror source against a real HTTP/1.1 server on 127.0.0.1 (in this file) that can
//! misbehave: drop the connection, ignore Range, stall, answer 500/503/404, send a wrong
//! Content-Length or corrupt a byte. Each case either recovers or refuses with its exit code, and
//! the installed client is unchanged when it refuses.
#![allow(clippy::unwrap_used)] // fixtures: a failure to build one should panic the test
#![allow(clippy::disallowed_methods)] // the test's own peers and readers run on plain threads

use std::collections::VecDeque;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::common::{Env, GUI, Run};

/// Misbehaviour for archive (`.7z`) requests; index and signature are always served plainly.
#[derive(Debug, Default)]
struct Faults {
    /// Answer 200 with the whole file to a Range request.
    no_range: bool,
    /// Statuses to answer, one per request, before serving normally.
    statuses: VecDeque<u16>,
    /// For this many requests, close the connection after this many body bytes.
    drop_after: Option<(u64, u32)>,
    /// For this many requests, stop sending after this many bytes and hold the connection.
    stall_after: Option<(u64, u32)>,
    /// For this many requests, claim a Content-Length this much smaller than the body.
    understate_length: Option<(u64, u32)>,
    /// Flip one byte of every archive at this offset.
    corrupt_at: Option<u64>,
    /// For this many requests, after this many bytes send the rest a byte at a time, slowly.
    trickle_after: Option<(u64, u32)>,
    /// Answer this path with a body that never ends.
    endless: Option<String>,
    /// Answer this path with a body that never ends, a byte every 200 ms.
    trickle_path: Option<String>,
}

struct Server {
    scheme: &'static str,
    addr: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    /// "GET /path range=bytes=N-" per archive request.
    log: Arc<Mutex<Vec<String>>>,
    /// The path of every request, in order.
    paths: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(root: &Path) -> Server {
        Server::start_with(root, None)
    }

    /// With `tls`, the server speaks HTTPS with that configuration.
    fn start_with(root: &Path, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Mutex::new(Faults::default()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let (root, f, l, p) = (
            root.to_path_buf(),
            faults.clone(),
            log.clone(),
            paths.clone(),
        );
        let scheme = if tls.is_some() { "https" } else { "http" };
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, f, l, p) = (root.clone(), f.clone(), l.clone(), p.clone());
                let tls = tls.clone();
                thread::spawn(move || match tls {
                    None => serve(stream, &root, &f, &l, &p),
                    Some(config) => {
                        let connection = rustls::ServerConnection::new(config).unwrap();
                        let mut tls = rustls::StreamOwned::new(connection, stream);
                        serve(&mut tls, &root, &f, &l, &p);
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                    }
                });
            }
        });
        Server {
            scheme,
            addr,
            faults,
            log,
            paths,
        }
    }

    /// How many requests asked for `path`.
    fn requests_for(&self, path: &str) -> usize {
        self.paths
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }

    fn url(&self) -> String {
        format!("{}://{}/", self.scheme, self.addr)
    }

    fn archive_requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(
    stream: impl Read + Write,
    root: &Path,
    faults: &Mutex<Faults>,
    log: &Mutex<Vec<String>>,
    paths: &Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut range_start = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            range_start = value.trim().trim_end_matches('-').parse::<u64>().ok();
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    // As a proxy, the request names the whole URL: serve its path (and log that it came that way).
    let (path, via_proxy) = match target.strip_prefix("http://") {
        Some(rest) => (rest.find('/').map_or("/", |i| &rest[i..]).to_string(), true),
        None => (target.to_string(), false),
    };
    if via_proxy {
        log.lock().unwrap().push(format!("PROXY {target}"));
    }
    paths.lock().unwrap().push(path.clone());
    let stream = reader.get_mut();
    if faults.lock().unwrap().trickle_path.as_deref() == Some(path.as_str()) {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        while stream.write_all(b"{").and_then(|()| stream.flush()).is_ok() {
            thread::sleep(Duration::from_millis(200));
        }
        return;
    }
    if faults.lock().unwrap().endless.as_deref() == Some(path.as_str()) {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        let chunk = vec![b' '; 1 << 16];
        while stream.write_all(&chunk).is_ok() {}
        return;
    }
    let file = root.join(path.trim_start_matches('/'));
    let Ok(mut body) = fs::read(&file) else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    if !path.ends_with(".7z") {
        respond(stream, 200, &body);
        return;
    }
    log.lock()
        .unwrap()
        .push(format!("GET {path} range={range_start:?}"));
    let mut f = faults.lock().unwrap();
    if let Some(status) = f.statuses.pop_front() {
        drop(f);
        respond(stream, status, b"");
        return;
    }
    if let Some(at) = f.corrupt_at {
        body[at as usize] ^= 0xFF;
    }
    let cut = take(&mut f.drop_after);
    let stall = take(&mut f.stall_after);
    let understate = take(&mut f.understate_length);
    let trickle = take(&mut f.trickle_after);
    let start = if f.no_range { None } else { range_start };
    drop(f);
    let (status, from) = match start {
        Some(s) if s < body.len() as u64 => (206, s),
        _ => (200, 0),
    };
    let total = body.len() as u64;
    let slice = &body[from as usize..];
    let content_range = (status == 206).then(|| format!("bytes {from}-{}/{total}", total - 1));
    let claimed = (slice.len() as u64).saturating_sub(understate.unwrap_or(0));
    let send = match (cut, stall, trickle) {
        (Some(n), _, _) | (_, Some(n), _) | (_, _, Some(n)) => slice.len().min(n as usize),
        _ => slice.len(),
    };
    let header = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {claimed}\r\nAccept-Ranges: bytes\r\n{}Connection: close\r\n\r\n",
        reason(status),
        content_range
            .map(|r| format!("Content-Range: {r}\r\n"))
            .unwrap_or_default()
    );
    if stream.write_all(header.as_bytes()).is_err() || stream.write_all(&slice[..send]).is_err() {
        return;
    }
    let _ = stream.flush();
    if stall.is_some() {
        thread::sleep(Duration::from_secs(20));
    }
    if trickle.is_some() {
        // A few bytes a second: every read gets something, so no read ever times out.
        for byte in &slice[send..] {
            thread::sleep(Duration::from_millis(200));
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
        }
    }
}

/// Takes one use of a fault that applies to a number of requests.
fn take(fault: &mut Option<(u64, u32)>) -> Option<u64> {
    let (value, times) = (*fault)?;
    *fault = (times > 1).then(|| (value, times - 1));
    Some(value)
}

fn respond(stream: &mut impl Write, status: u16, body: &[u8]) {
    let header = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    let _ = stream.write_all(header.as_bytes());
    let _ = stream.write_all(body);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A standard share with a signed index, served over HTTP, and a policy that trusts its key and
/// allows plain http on loopback.
struct Mirror {
    env: Env,
    server: Server,
}

impl Mirror {
    fn new() -> Mirror {
        let env = Env::with_standard_share();
        let (key, _) = env.trusted_key("ibex-updater", "allow_http = true\n");
        env.publish(&key, &[]).assert_code(0);
        let server = Server::start(&env.share);
        Mirror { env, server }
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.server.faults.lock().unwrap()
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_from(&self.server.url(), args)
    }

    fn run_from(&self, source: &str, args: &[&str]) -> Run {
        let mut all = vec!["--http-timeout", "1"];
        all.extend_from_slice(args);
        let mut command = self.env.command_from(source, &all);
        for proxy in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"] {
            command.env_remove(proxy).env_remove(proxy.to_lowercase());
        }
        Run::from(command.output().unwrap())
    }

    fn install(&self) -> Run {
        self.run(&["install", "--server-version", "26.2.0.1234"])
    }

    /// The install succeeded and the GUI is the 26.2.1 kit that goes with the 26.2.0 server.
    fn installs(&self) {
        self.install().assert_code(0);
        assert_eq!(self.installed_gui().as_deref(), Some("26.2.1"));
    }

    /// Some archive request asked to resume from byte `from`.
    fn resumed_from(&self, from: u64) -> bool {
        let wanted = format!("range=Some({from})");
        self.server
            .archive_requests()
            .iter()
            .any(|r| r.ends_with(&wanted))
    }

    /// The install is refused with `code` and a message containing `wanted`, and the installed
    /// client is as it was.
    fn refused(&self, code: i32, wanted: &str) {
        let before = self.client_files();
        let run = self.install();
        run.assert_code(code);
        assert!(
            run.stderr.contains(wanted),
            "wanted '{wanted}' in: {}",
            run.stderr
        );
        assert_eq!(self.client_files(), before, "nothing was changed");
    }

    fn installed_gui(&self) -> Option<String> {
        self.env.installed_version(GUI)
    }

    fn client_files(&self) -> Vec<(String, String)> {
        crate::common::snapshot(&self.env.root)
            .into_iter()
            .filter(|(p, _)| !p.starts_with(".ibex-updater/"))
            .collect()
    }

    fn downloads(&self) -> PathBuf {
        self.env.root.join(".ibex-updater").join("downloads")
    }
}

#[test]
fn installs_from_a_mirror_and_says_the_index_is_signed() {
    let mirror = Mirror::new();
    let run = mirror.run(&["releases"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("(signed index, serial 1)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("26.2.1-hotfix"), "{}", run.stdout);
    mirror.installs();
}

/// The source is read once per run: a text `status` fetches the index and its signature once
/// each (so checks the signature once), and still says the index is signed.
#[test]
fn a_text_status_reads_the_index_and_its_signature_once() {
    let mirror = Mirror::new();
    let run = mirror.run(&["status", "--server-version", "26.2.0.1234"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("(signed index, serial 1)"),
        "{}",
        run.stdout
    );
    assert_eq!(mirror.server.requests_for("/index.json"), 1);
    assert_eq!(mirror.server.requests_for("/index.json.minisig"), 1);
}

/// An index (or signature) that never ends is refused at its cap, not read into memory.
#[test]
fn an_endless_index_or_signature_is_refused_at_its_cap() {
    let mirror = Mirror::new();
    for path in ["/index.json", "/index.json.minisig"] {
        mirror.faults().endless = Some(path.to_string());
        let run = mirror.run(&["releases"]);
        run.assert_code(3);
        assert!(
            run.stderr.contains("is larger than"),
            "{path}: {}",
            run.stderr
        );
    }
}

/// The manifest file the mirror's index lists for `component` of `release`, as a request path.
fn manifest_path(mirror: &Mirror, release: &str, component: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(mirror.env.share.join("index.json")).unwrap()).unwrap();
    let release = index["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == release)
        .unwrap();
    let kit = release["kits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["component"] == component)
        .unwrap();
    format!("/{}", kit["manifest"]["path"].as_str().unwrap())
}

/// Read-only commands read the small signed index alone; an install fetches the manifests of the
/// kits it installs, and no other.
#[test]
fn status_reads_no_manifest_and_an_install_only_those_of_its_kits() {
    let mirror = Mirror::new();
    let manifests = || {
        mirror
            .server
            .paths
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.starts_with("/manifests/"))
            .cloned()
            .collect::<Vec<_>>()
    };
    for command in [
        &["status", "--server-version", "26.2.0.1234"][..],
        &["check", "--server-version", "26.2.0.1234"],
        &["releases"],
    ] {
        mirror.run(command);
    }
    assert_eq!(manifests(), Vec::<String>::new());
    mirror
        .run(&[
            "install",
            "--server-version",
            "26.2.0.1234",
            "--component",
            GUI,
        ])
        .assert_code(0);
    assert_eq!(manifests(), [manifest_path(&mirror, "26.2.1", GUI)]);
}

/// Signed metadata that comes at a trickle, each read getting a byte so that no read ever times
/// out, is refused once its total deadline (twice `--http-timeout`, here 2 s) has passed.
#[test]
fn signed_metadata_at_a_trickle_is_refused_within_its_deadline() {
    let mirror = Mirror::new();
    for path in ["/index.json", "/index.json.minisig"] {
        mirror.faults().trickle_path = Some(path.to_string());
        let run = mirror.run(&["releases"]);
        run.assert_code(4);
        assert!(
            run.stderr.contains("was not read within 2 s"),
            "{path}: {}",
            run.stderr
        );
    }
    mirror.faults().trickle_path = Some(manifest_path(&mirror, "26.2.1", GUI));
    mirror.refused(4, "was not read within 2 s");
    mirror.faults().trickle_path = None;
    mirror.installs();
}

/// An index that never ends is refused at its 4 MiB cap, however much memory the updater could
/// take: the run as a whole holds under 16 MB more than a normal one.
#[cfg(target_os = "linux")] // reads the peak memory of the run with Python's getrusage
#[test]
fn an_endless_index_is_refused_holding_little_memory() {
    let mirror = Mirror::new();
    let peak = |endless: Option<&str>| {
        mirror.faults().endless = endless.map(String::from);
        crate::common::peak_memory(
            &mut mirror
                .env
                .command_from(&mirror.server.url(), &["--http-timeout", "5", "releases"]),
        )
    };
    let (code, normal_kb) = peak(None);
    assert_eq!(code, 0);
    let (code, endless_kb) = peak(Some("/index.json"));
    assert_eq!(code, 3);
    eprintln!("peak memory: {normal_kb} kB for a normal run, {endless_kb} kB for an endless index");
    assert!(
        endless_kb < normal_kb + 16_000,
        "{endless_kb} kB at most against {normal_kb} kB for a normal run"
    );
}

/// A kit's SHA-256 names its download in the cache: a signed index whose value is a path is
/// refused before any file is named after it.
#[test]
fn a_kit_sha256_that_is_a_path_names_no_file() {
    let mirror = Mirror::new();
    let key = mirror.env.dir.path().join("keys").join("ibex-updater.key");
    let victim = mirror.env.dir.path().join("victim");
    fs::write(&victim, "keep me").unwrap();
    let index_path = mirror.env.share.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    index["serial"] = serde_json::json!(2);
    for release in index["releases"].as_array_mut().unwrap() {
        for kit in release["kits"].as_array_mut().unwrap() {
            kit["archive"]["sha256"] = serde_json::json!("../../../victim");
        }
    }
    let text = serde_json::to_string_pretty(&index).unwrap();
    let signature =
        ibex_updater_core::index::signature::sign(text.as_bytes(), &key, "crafted").unwrap();
    fs::write(&index_path, text).unwrap();
    fs::write(mirror.env.share.join("index.json.minisig"), signature).unwrap();
    mirror.refused(3, "is not a SHA-256");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
}

/// Drops the connection after 100 bytes of the first archive: the install still succeeds, and
/// the download resumed from byte 100.
fn resumes_a_dropped_connection(mirror: &Mirror) {
    mirror.faults().drop_after = Some((100, 1));
    mirror.installs();
    assert!(
        mirror.resumed_from(100),
        "{:?}",
        mirror.server.archive_requests()
    );
}

#[test]
fn a_dropped_connection_resumes_with_range() {
    resumes_a_dropped_connection(&Mirror::new());
}

#[test]
fn without_range_support_the_download_starts_again() {
    let mirror = Mirror::new();
    {
        let mut faults = mirror.faults();
        faults.no_range = true;
        faults.drop_after = Some((100, 1));
    }
    mirror.installs();
    // The client asked to resume, the server sent it all again, and the client started over.
    assert!(
        mirror.resumed_from(100),
        "{:?}",
        mirror.server.archive_requests()
    );
}

#[test]
fn server_errors_are_retried() {
    let mirror = Mirror::new();
    mirror.faults().statuses = VecDeque::from([503, 500, 503]);
    mirror.installs();
    // Three refusals, then the GUI and genie_python archives.
    assert_eq!(mirror.server.archive_requests().len(), 5);
}

#[test]
fn a_stalled_server_times_out_and_the_download_resumes() {
    let mirror = Mirror::new();
    mirror.faults().stall_after = Some((100, 1));
    mirror.install().assert_code(0);
    assert!(
        mirror.resumed_from(100),
        "{:?}",
        mirror.server.archive_requests()
    );
}

/// A mirror that trickles bytes slower than 1 KiB/s over the `--http-timeout` window is given up
/// on and retried from where it stopped.
#[test]
fn a_trickling_server_is_retried_and_the_download_resumes() {
    let mirror = Mirror::new();
    mirror.faults().trickle_after = Some((100, 1));
    mirror.installs();
    assert!(
        mirror
            .server
            .archive_requests()
            .iter()
            .skip(1)
            .any(|r| r.contains("range=Some(")),
        "{:?}",
        mirror.server.archive_requests()
    );
}

/// One that always trickles is refused, with the client as it was and the lock released.
#[test]
fn a_server_that_always_trickles_is_refused() {
    let mirror = Mirror::new();
    mirror.faults().trickle_after = Some((0, u32::MAX));
    mirror.refused(4, "under the 1024 bytes/s that counts as progress");
    mirror.faults().trickle_after = None;
    mirror.installs();
}

#[test]
fn a_wrong_content_length_is_retried() {
    let mirror = Mirror::new();
    mirror.faults().understate_length = Some((100, 1));
    mirror.installs();
    let requests = mirror.server.archive_requests();
    assert_eq!(
        requests.len(),
        3,
        "the short body was fetched again: {requests:?}"
    );
}

#[test]
fn a_missing_archive_is_refused_with_exit_4() {
    let mirror = Mirror::new();
    fs::remove_file(mirror.env.share.join("26.2.1/Client/zips/Client.7z")).unwrap();
    mirror.refused(4, "404");
}

#[test]
fn endless_server_errors_give_up_with_exit_4() {
    let mirror = Mirror::new();
    mirror.faults().statuses = VecDeque::from(vec![503; 20]);
    mirror.refused(4, "after 5 attempts");
}

#[test]
fn a_corrupt_byte_is_refused_and_never_retried() {
    let mirror = Mirror::new();
    let before = mirror.client_files();
    mirror.faults().corrupt_at = Some(10);
    let run = mirror.install();
    run.assert_code(3);
    assert!(run.stderr.contains("checksum mismatch"), "{}", run.stderr);
    assert_eq!(mirror.server.archive_requests().len(), 1, "not retried");
    assert_eq!(mirror.client_files(), before);
    let leftovers: Vec<_> = fs::read_dir(mirror.downloads()).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "the bad download is not kept: {leftovers:?}"
    );
}

#[test]
fn a_tampered_index_on_the_mirror_is_refused() {
    let mirror = Mirror::new();
    let index = mirror.env.share.join("index.json");
    let text = fs::read_to_string(&index).unwrap();
    fs::write(&index, text.replacen("\"serial\": 1", "\"serial\": 2", 1)).unwrap();
    let run = mirror.install();
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("changed or damaged since it was signed"),
        "{}",
        run.stderr
    );
}

#[test]
fn plain_http_needs_the_policy_to_allow_it() {
    let mirror = Mirror::new();
    let policy = mirror.env.dir.path().join("no-policy.toml");
    let text = fs::read_to_string(&policy)
        .unwrap()
        .replace("allow_http = true\n", "");
    fs::write(&policy, text).unwrap();
    let run = mirror.run(&["releases"]);
    run.assert_code(2);
    assert!(run.stderr.contains("allow_http"), "{}", run.stderr);
}

#[test]
fn a_retried_install_reuses_the_verified_download() {
    let mirror = Mirror::new();
    mirror.install().assert_code(0);
    let fetched = mirror.server.archive_requests().len();
    // A damaged file, so that the forced install must unpack again.
    fs::write(mirror.env.gui_dir().join("ibex-client.exe"), "damaged").unwrap();
    let again = mirror.run(&[
        "install",
        "--json",
        "--server-version",
        "26.2.0.1234",
        "--force",
    ]);
    again.assert_code(0);
    let installed = again.json()["installed"].clone();
    let gui = installed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "ibex-gui")
        .unwrap()
        .clone();
    assert!(
        gui["files"]["unpacked"].as_u64().unwrap() >= 1,
        "the damaged file is unpacked again: {installed}"
    );
    assert_eq!(
        mirror.server.archive_requests().len(),
        fetched,
        "no archive fetched again"
    );
    assert_eq!(mirror.installed_gui().as_deref(), Some("26.2.1"));
}

/// Replaces the mirror's index with one published by `publish` from the same share.
fn republish(mirror: &Mirror, key: &Path, extra: &[&str]) {
    fs::remove_file(mirror.env.share.join("index.json")).unwrap();
    mirror.env.publish(key, extra).assert_code(0);
}

#[test]
fn an_older_expired_or_foreign_index_on_the_mirror_is_refused() {
    let mirror = Mirror::new();
    let key = mirror.env.dir.path().join("keys").join("ibex-updater.key");
    let before = mirror.client_files();
    // Serial 2 seen, then serial 1 served again, validly signed.
    republish(&mirror, &key, &["--serial", "2"]);
    mirror.run(&["releases"]).assert_code(0);
    republish(&mirror, &key, &["--serial", "1"]);
    let run = mirror.install();
    run.assert_code(3);
    assert!(
        run.stderr.contains("older than serial 2 seen before"),
        "{}",
        run.stderr
    );
    // An expired one.
    republish(&mirror, &key, &["--serial", "3", "--valid-days", "0"]);
    let run = mirror.install();
    run.assert_code(3);
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
    // One signed by a key the policy does not list.
    let other = mirror.env.dir.path().join("other");
    fs::create_dir_all(&other).unwrap();
    mirror
        .env
        .run(&["keygen", "--out-dir", other.to_str().unwrap()])
        .assert_code(0);
    republish(&mirror, &other.join("ibex-updater.key"), &["--serial", "4"]);
    let run = mirror.install();
    run.assert_code(3);
    assert!(run.stderr.contains("does not trust"), "{}", run.stderr);
    assert_eq!(mirror.client_files(), before);
}

#[test]
fn the_policy_proxy_and_the_standard_variables_are_used() {
    let mirror = Mirror::new();
    // A host that cannot be resolved: only a proxy can answer for it.
    let unreachable = "http://mirror.invalid/";
    let policy = mirror.env.dir.path().join("no-policy.toml");
    let text = fs::read_to_string(&policy).unwrap();
    fs::write(
        &policy,
        format!("{text}proxy = '{}'\n", mirror.server.url()),
    )
    .unwrap();
    mirror
        .run_from(unreachable, &["install", "--server-version", "26.2.0.1234"])
        .assert_code(0);
    let requests = mirror.server.archive_requests();
    assert!(
        requests.contains(&"PROXY http://mirror.invalid/index.json".to_string()),
        "{requests:?}"
    );

    fs::write(&policy, text).unwrap();
    let mut command = mirror
        .env
        .command_from(unreachable, &["--http-timeout", "1", "releases"]);
    command
        .env("HTTP_PROXY", mirror.server.url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    Run::from(command.output().unwrap()).assert_code(0);
}

/// A failure before any answer says where to look: the server, or the proxy.
#[test]
fn connection_failures_say_whether_the_server_or_the_proxy_refused() {
    let env = Env::with_standard_share();
    let policy = env.dir.path().join("no-policy.toml");
    fs::write(&policy, "allow_http = true\nallow_unsigned = true\n").unwrap();
    // Nothing listens on a port just freed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = env.run_from(
        &format!("http://127.0.0.1:{port}/"),
        &["--http-timeout", "1", "releases"],
    );
    run.assert_code(4);
    assert!(
        run.stderr.contains(
            "the server refused the connection: is the mirror up, and is the port right?"
        ),
        "{}",
        run.stderr
    );

    // A proxy that refuses every tunnel: the mirror's name is the proxy's to resolve.
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    thread::spawn(move || {
        for mut client in proxy.incoming().map_while(Result::ok) {
            let mut request = [0u8; 1024];
            let _ = client.read(&mut request);
            let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        }
    });
    fs::write(
        &policy,
        format!("allow_unsigned = true\nproxy = '{proxy_url}'\n"),
    )
    .unwrap();
    let run = env.run_from(
        "https://mirror.invalid/",
        &["--http-timeout", "1", "releases"],
    );
    run.assert_code(4);
    assert!(
        run.stderr
            .contains("the proxy refused or failed the connection: check the proxy setting"),
        "{}",
        run.stderr
    );
}

/// A test certificate authority, and server certificates it signs.
struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

/// Which certificate the HTTPS mirror presents.
enum ServerCert {
    /// For 127.0.0.1, valid now.
    Good,
    /// For 127.0.0.1, expired last year.
    Expired,
    /// Valid, but for another host.
    OtherHost,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "IBEX Updater test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        TestCa {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn server_config(&self, which: &ServerCert) -> Arc<rustls::ServerConfig> {
        let names = match which {
            ServerCert::OtherHost => vec!["updates.example.org".to_string()],
            ServerCert::Good | ServerCert::Expired => vec!["127.0.0.1".to_string()],
        };
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        if let ServerCert::Expired = which {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .unwrap();
        Arc::new(config)
    }
}

impl Mirror {
    /// A signed share served over HTTPS with `cert` from `ca`; the machine policy trusts `ca`
    /// (through `extra_ca_certs`) when `trusted`.
    fn https(ca: &TestCa, cert: &ServerCert, trusted: bool) -> Mirror {
        let env = Env::with_standard_share();
        let ca_file = env.dir.path().join("test-ca.pem");
        fs::write(&ca_file, ca.pem()).unwrap();
        let extra = if trusted {
            format!("extra_ca_certs = ['{}']\n", ca_file.display())
        } else {
            String::new()
        };
        let (key, _) = env.trusted_key("ibex-updater", &extra);
        env.publish(&key, &[]).assert_code(0);
        let server = Server::start_with(&env.share, Some(ca.server_config(cert)));
        Mirror { env, server }
    }
}

#[test]
#[cfg_attr(
    windows,
    ignore = "Wine's crypt32 cannot build a chain engine with extra roots; on Windows: README, checks only a real Windows machine can make"
)]
fn https_with_a_ca_the_policy_trusts_installs_and_resumes() {
    let ca = TestCa::new();
    let mirror = Mirror::https(&ca, &ServerCert::Good, true);
    assert!(mirror.server.url().starts_with("https://"));
    resumes_a_dropped_connection(&mirror);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "Wine's crypt32 reports a revocation failure for every test certificate; on Windows: README, checks only a real Windows machine can make"
)]
fn https_refuses_untrusted_expired_and_wrong_host_certificates_saying_which() {
    let ca = TestCa::new();
    for (cert, trusted, reason) in [
        (
            ServerCert::Good,
            false,
            "not signed by a certificate authority this machine trusts",
        ),
        (ServerCert::Expired, true, "it has expired"),
        (ServerCert::OtherHost, true, "issued for another host name"),
    ] {
        let mirror = Mirror::https(&ca, &cert, trusted);
        let run = mirror.run(&["releases"]);
        run.assert_code(4);
        assert!(run.stderr.contains(reason), "{reason}: {}", run.stderr);
        // Refused at once: a certificate problem is not retried.
        assert_eq!(mirror.server.requests_for("/index.json"), 0);
    }
}

/// A CONNECT proxy on loopback that logs each tunnel it opens.
struct ConnectProxy {
    addr: SocketAddr,
    tunnels: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let log = tunnels.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let log = log.clone();
                thread::spawn(move || tunnel(&client, &log));
            }
        });
        ConnectProxy { addr, tunnels }
    }
}

fn tunnel(client: &TcpStream, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let Some(target) = request
        .strip_prefix("CONNECT ")
        .and_then(|r| r.split(' ').next())
    else {
        return;
    };
    log.lock().unwrap().push(target.to_string());
    let Ok(server) = TcpStream::connect(target) else {
        return;
    };
    let mut to_client = client.try_clone().unwrap();
    let _ = to_client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let mut from_server = server.try_clone().unwrap();
    let mut to_server = server;
    thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
    });
    let _ = std::io::copy(&mut reader, &mut to_server);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "Wine's crypt32 cannot build a chain engine with extra roots (the test's CA); on Windows: README, checks only a real Windows machine can make"
)]
fn https_through_a_connect_proxy_from_https_proxy() {
    let ca = TestCa::new();
    let mirror = Mirror::https(&ca, &ServerCert::Good, true);
    let proxy = ConnectProxy::start();
    let mut command = mirror.env.command_from(
        &mirror.server.url(),
        &[
            "--http-timeout",
            "5",
            "install",
            "--server-version",
            "26.2.0.1234",
        ],
    );
    for variable in ["HTTP_PROXY", "ALL_PROXY", "NO_PROXY"] {
        command
            .env_remove(variable)
            .env_remove(variable.to_lowercase());
    }
    command.env("HTTPS_PROXY", format!("http://{}", proxy.addr));
    Run::from(command.output().unwrap()).assert_code(0);
    assert_eq!(mirror.installed_gui().as_deref(), Some("26.2.1"));
    let tunnels = proxy.tunnels.lock().unwrap().clone();
    assert!(
        tunnels.contains(&mirror.server.addr.to_string()),
        "{tunnels:?}"
    );
}

/// The downloads cache keeps the archives of the last install and of the one before (for a
/// rollback), and lets older ones go.
#[test]
fn the_downloads_cache_keeps_the_last_two_installs() {
    let mirror = Mirror::new();
    let cached = || {
        let mut names: Vec<String> = fs::read_dir(mirror.downloads())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    mirror
        .run(&["install", "--version", "25.8.0"])
        .assert_code(0);
    let first = cached();
    assert_eq!(first.len(), 2, "{first:?}");
    mirror
        .run(&["install", "--version", "26.2.0"])
        .assert_code(0);
    assert_eq!(cached().len(), 4, "{:?}", cached());
    mirror
        .run(&["install", "--version", "26.2.1-hotfix"])
        .assert_code(0);
    let last = cached();
    assert_eq!(last.len(), 4, "{last:?}");
    assert!(
        first.iter().all(|name| !last.contains(name)),
        "{first:?} should have been pruned from {last:?}"
    );
}

/// The policy's `download_cache_mb` bounds what is kept besides the last install's archives.
#[test]
fn the_policy_limits_the_downloads_cache() {
    let env = Env::with_standard_share();
    let (key, _) = env.trusted_key("ibex-updater", "allow_http = true\ndownload_cache_mb = 0\n");
    env.publish(&key, &[]).assert_code(0);
    let server = Server::start(&env.share);
    let mirror = Mirror { env, server };
    mirror
        .run(&["install", "--version", "25.8.0"])
        .assert_code(0);
    mirror
        .run(&["install", "--version", "26.2.0"])
        .assert_code(0);
    assert_eq!(fs::read_dir(mirror.downloads()).unwrap().count(), 2);
}

/// A CA file in the policy that does not hold a certificate, or is not there, is named (exit 2).
#[test]
fn a_policy_ca_file_that_is_not_a_certificate_is_named() {
    for (what, content) in [("garbage", Some("not a certificate")), ("missing", None)] {
        let env = Env::with_standard_share();
        let ca_file = env.dir.path().join("proxy-ca.pem");
        if let Some(content) = content {
            fs::write(&ca_file, content).unwrap();
        }
        let extra = format!("extra_ca_certs = ['{}']\n", ca_file.display());
        let (key, _) = env.trusted_key("ibex-updater", &extra);
        env.publish(&key, &[]).assert_code(0);
        let run = Run::from(
            env.command_from("https://127.0.0.1:9/", &["releases"])
                .output()
                .unwrap(),
        );
        run.assert_code(2);
        assert!(
            run.stderr.contains("proxy-ca.pem") && run.stderr.contains("extra_ca_certs"),
            "{what}: {}",
            run.stderr
        );
    }
}
