//! An HTTP(S) mirror of the release share: `index.json` and its signature at the base URL, and the
//! archives at the paths the index gives. The index is required (there is no folder to list),
//! and every archive is downloaded with [`super::download`] into a cache in the install root's
//! state folder, so that the finished file is linked into staging rather than copied.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use reqwest::blocking::Client;

use super::ReleaseSource;
use super::download::{self, Clients, MinRate, Wanted};
use crate::catalog::Catalog;
use crate::client::version::{ReleaseName, Version};
use crate::clock;
use crate::error::UpdateError;
use crate::fsx;
use crate::index::load::MetadataRead;
use crate::index::trust::Trust;
use crate::index::{self, INDEX_FILE, IndexKit, ReleaseIndex};
use crate::progress::Progress;
use crate::release::{Kit, KitFile, KitStatus, Release};
use crate::retry::{Attempt, GaveUp, Retry};

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub trust: Trust,
    /// Where downloads go (and finished ones stay, for reuse).
    pub cache: PathBuf,
    /// A proxy for every request; without one, the standard variables (`HTTPS_PROXY`, `HTTP_PROXY`,
    /// `NO_PROXY`) and the system's settings apply.
    pub proxy: Option<String>,
    /// Plain `http://` is refused unless the policy allows it.
    pub allow_http: bool,
    /// PEM files of certificate authorities trusted besides the system's.
    pub extra_ca_certs: Vec<PathBuf>,
    /// The most the downloads cache keeps, in bytes, besides what the last install used.
    pub cache_limit: u64,
    /// For connecting, and for each read: a stalled server counts as a dropped connection.
    pub timeout: Duration,
    pub retry: Retry,
}

#[derive(Debug, Clone)]
pub struct HttpSource {
    base: String,
    clients: Clients,
    options: HttpOptions,
}

impl HttpSource {
    pub fn new(base: &str, options: HttpOptions) -> Result<HttpSource, UpdateError> {
        if base.starts_with("http://") && !options.allow_http {
            return Err(UpdateError::PlainHttpRefused {
                url: base.to_string(),
            });
        }
        let clients = clients(
            options.timeout,
            options.proxy.as_deref(),
            &options.extra_ca_certs,
        )?;
        let base = if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
        Ok(HttpSource {
            base,
            clients,
            options,
        })
    }

    /// A small file (signed metadata, release notes), retried like a download, within `wait`
    /// in all however slowly it comes, and read to at most `cap + 1` bytes however much the
    /// server sends. `None` when the server has no such file (404).
    fn get_small(
        &self,
        name: &str,
        cap: u64,
        wait: Duration,
    ) -> Result<Option<Vec<u8>>, UpdateError> {
        let url = format!("{}{name}", self.base);
        let deadline = clock::deadline(wait);
        let too_slow = || {
            Attempt::Fatal(UpdateError::MetadataTooSlow {
                url: url.clone(),
                seconds: wait.as_secs(),
            })
        };
        let fetched = self.options.retry.run(&format!("fetching {url}"), |_| {
            if Instant::now() > deadline {
                return Err(too_slow());
            }
            match self.clients.first.get(&url).send() {
                Ok(response) if response.status() == StatusCode::NOT_FOUND => Ok(None),
                Ok(response) if response.status().is_success() => {
                    match fsx::read_within(response, cap.saturating_add(1), deadline) {
                        Ok(bytes) => Ok(Some(bytes)),
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(too_slow()),
                        Err(e) => Err(Attempt::Transient(e.to_string())),
                    }
                }
                Ok(response) if !response.status().is_server_error() => {
                    Err(Attempt::Fatal(UpdateError::HttpStatus {
                        url: url.clone(),
                        status: response.status().to_string(),
                    }))
                }
                Ok(response) => Err(Attempt::Transient(format!(
                    "the server answered {}",
                    response.status()
                ))),
                Err(e) => Err(match download::certificate_problem(&e) {
                    Some(reason) => Attempt::Fatal(UpdateError::UntrustedCertificate {
                        url: url.clone(),
                        reason,
                    }),
                    None => Attempt::Transient(download::describe(&e)),
                }),
            }
        });
        fetched.map_err(|gave_up| match gave_up {
            GaveUp::Fatal(e) => e,
            GaveUp::Exhausted { attempts, last } => UpdateError::DownloadFailed {
                url: url.clone(),
                attempts,
                detail: last,
            },
        })
    }

    /// The mirror's index, which it must have: there is no folder to list.
    fn fetch_index(&self) -> Result<ReleaseIndex, UpdateError> {
        let location = self.location();
        index::load::load(self, &location, &self.options.trust, SystemTime::now())?.ok_or_else(
            || UpdateError::HttpStatus {
                url: format!("{}{INDEX_FILE}", self.base),
                status: StatusCode::NOT_FOUND.to_string(),
            },
        )
    }

    fn download(&self, kit: &Kit, progress: &dyn Progress) -> Result<PathBuf, UpdateError> {
        let (Some(size), Some(sha256)) = (kit.archive_size, kit.sha256.as_deref()) else {
            return Err(UpdateError::KitNotInstallable {
                component: kit.component,
                release: kit.release.to_string(),
                status: KitStatus::NotInIndex,
            });
        };
        self.cached(&kit.archive, size, sha256, progress)
    }

    /// Downloads `url` into the cache (or finds it there), verified.
    fn cached(
        &self,
        url: &str,
        size: u64,
        sha256: &str,
        progress: &dyn Progress,
    ) -> Result<PathBuf, UpdateError> {
        let wanted = Wanted { url, size, sha256 };
        download::download(
            &self.clients,
            &wanted,
            &self.options.cache,
            self.options.retry,
            MinRate::over(self.options.timeout),
            progress,
        )
    }
}

/// The two HTTP clients a source uses (the benchmark too), with the same settings.
pub fn clients(
    timeout: Duration,
    proxy: Option<&str>,
    extra_ca_certs: &[PathBuf],
) -> Result<Clients, UpdateError> {
    // The certificate files are read once, for both.
    let roots = extra_roots(extra_ca_certs)?;
    Ok(Clients {
        first: client(timeout, proxy, &roots)?,
        second: client(timeout, proxy, &roots)?,
    })
}

/// An HTTP client with the source's settings.
fn client(
    timeout: Duration,
    proxy: Option<&str>,
    roots: &[reqwest::Certificate],
) -> Result<Client, UpdateError> {
    install_crypto_provider();
    let mut builder = Client::builder()
        .connect_timeout(timeout)
        // In the blocking client this bounds each read of a body too: a stalled server times
        // out like a dropped connection, and the download resumes.
        .timeout(timeout)
        .user_agent(concat!("ibex-updater/", env!("CARGO_PKG_VERSION")));
    if !roots.is_empty() {
        builder = builder.tls_certs_merge(roots.iter().cloned());
    }
    if let Some(proxy) = proxy {
        let proxy = reqwest::Proxy::all(proxy).map_err(|e| UpdateError::BadProxy {
            proxy: proxy.to_string(),
            detail: e.to_string(),
        })?;
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| UpdateError::HttpSetup {
        detail: e.to_string(),
    })
}

/// The certificate authorities the policy's `extra_ca_certs` files hold, trusted beside the
/// system's.
fn extra_roots(extra_ca_certs: &[PathBuf]) -> Result<Vec<reqwest::Certificate>, UpdateError> {
    let mut roots = Vec::new();
    for path in extra_ca_certs {
        let pem = fsx::read_file_capped(path, fsx::cap::OWN_FILE)?.ok_or_else(|| {
            UpdateError::BadCaCert {
                path: path.clone(),
                detail: "the file does not exist".into(),
            }
        })?;
        let certificates =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| UpdateError::BadCaCert {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        if certificates.is_empty() {
            return Err(UpdateError::BadCaCert {
                path: path.clone(),
                detail: "it holds no PEM certificate".into(),
            });
        }
        roots.extend(certificates);
    }
    Ok(roots)
}

/// rustls needs one crypto provider for the process; ring is the one built in.
pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The kit files the index lists beside a kit's archive, fetched from there.
fn listed_kit_files(kit: &IndexKit) -> Vec<KitFile> {
    let Some(kit_dir) = kit.archive.path.strip_suffix(kit.component.archive_path()) else {
        return Vec::new();
    };
    kit.component
        .kit_files()
        .iter()
        .filter_map(|&name| {
            let entry = kit.kit_files.iter().find(|f| f.path == name)?;
            Some(KitFile {
                name,
                path: format!("{kit_dir}{name}"),
                size: entry.size,
                sha256: Some(entry.sha256.clone()),
            })
        })
        .collect()
}

impl MetadataRead for HttpSource {
    fn read_metadata(
        &self,
        path: &str,
        cap: u64,
        wait: Duration,
    ) -> Result<Option<Vec<u8>>, UpdateError> {
        let bytes = self.get_small(path, cap, wait)?;
        if let Some(bytes) = &bytes {
            tracing::debug!("{path}: read {} bytes of signed metadata", bytes.len());
        }
        Ok(bytes)
    }

    /// Twice the time a mirror may keep the updater waiting for the next bytes (`--http-timeout`),
    /// and the time the size takes at 64 KiB/s.
    fn metadata_wait(&self, size: u64) -> Duration {
        super::share::metadata_wait(self.options.timeout.saturating_mul(2), size)
    }
}

impl ReleaseSource for HttpSource {
    fn location(&self) -> String {
        self.base.clone()
    }

    fn read_catalog(&self) -> Result<Catalog, UpdateError> {
        let index = self.fetch_index()?;
        let mut releases = Vec::new();
        for listed in &index.releases {
            let Ok(name) = listed.name.parse::<ReleaseName>() else {
                tracing::warn!(
                    "{}: skipping release '{}', not a release folder name",
                    self.base,
                    listed.name
                );
                continue;
            };
            let kits = listed
                .kits
                .iter()
                .map(|k| Kit {
                    component: k.component,
                    release: name.clone(),
                    version: k.version.parse::<Version>().ok(),
                    archive: format!("{}{}", self.base, k.archive.path),
                    archive_size: Some(k.archive.size),
                    sha256: Some(k.archive.sha256.clone()),
                    status: KitStatus::Complete,
                    files: listed_kit_files(k),
                    linked_from: None,
                    manifest: Some(k.manifest.clone()),
                })
                .collect();
            releases.push(Release { name, kits });
        }
        releases.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Catalog::signed(self.location(), index, releases))
    }

    fn local_archive(&self, kit: &Kit, progress: &dyn Progress) -> Result<PathBuf, UpdateError> {
        self.download(kit, progress)
    }

    fn fetch_file(
        &self,
        path: &str,
        size: u64,
        sha256: &str,
        dest: &Path,
        progress: &dyn Progress,
    ) -> Result<(), UpdateError> {
        let url = format!("{}{path}", self.base);
        let cached = self.cached(&url, size, sha256, progress)?;
        std::fs::copy(&cached, dest).map_err(UpdateError::io("copy", &cached))?;
        Ok(())
    }

    fn prune_cache(&self, in_use: &[String]) {
        // Two components: the install before this one used at most two archives.
        for path in download::prune(&self.options.cache, in_use, 2, self.options.cache_limit) {
            tracing::info!("pruned {} from the downloads cache", path.display());
        }
    }

    fn release_notes(&self, release: &ReleaseName) -> Option<String> {
        let name = format!("{release}/{}", super::share::RELEASE_NOTES);
        let wait = self.metadata_wait(fsx::cap::NOTES);
        match self.get_small(&name, fsx::cap::NOTES, wait) {
            Ok(Some(notes)) if notes.len() as u64 <= fsx::cap::NOTES => {
                Some(String::from_utf8_lossy(&notes).into_owned())
            }
            Ok(_) => None,
            Err(e) => {
                tracing::debug!("no release notes: {e}");
                None
            }
        }
    }
}
