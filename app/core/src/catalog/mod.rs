//! A release source read and verified once: the releases it holds, what vouches for them, and
//! its signed index. Every question of one run (or one refresh of the window) is answered from
//! one [`Catalog`], so the source is fetched and its signature checked once.

mod select;

pub use select::{TargetRequest, select_target};

use crate::client::component::Component;
use crate::config::policy::Policy;
use crate::error::UpdateError;
use crate::index::ReleaseIndex;
use crate::release::{Kit, Release};

#[derive(Debug, Clone)]
pub struct Catalog {
    /// For messages: the share's path or the mirror's URL.
    pub location: String,
    pub verification: Verification,
    /// The source's signed index, verified, when it has one.
    pub index: Option<ReleaseIndex>,
    /// Every release folder the source holds, oldest first.
    pub releases: Vec<Release>,
}

impl Catalog {
    /// A catalog of `releases`, vouched for by `index`.
    pub fn signed(location: String, index: ReleaseIndex, releases: Vec<Release>) -> Catalog {
        Catalog {
            location,
            verification: Verification::Signed {
                serial: index.serial,
                expires: index.expires,
            },
            index: Some(index),
            releases,
        }
    }

    /// A catalog of `releases` that nothing vouches for; installing from it needs the machine
    /// policy's leave (`installs_allowed`).
    pub fn unverified(location: String, releases: Vec<Release>, installs_allowed: bool) -> Catalog {
        Catalog {
            location,
            verification: Verification::Unverified { installs_allowed },
            index: None,
            releases,
        }
    }

    /// A catalog of `releases` from a source that served a signed index before (serial
    /// `serial`) and has none now: nothing is installed from it, whatever the policy says.
    pub fn index_gone(location: String, releases: Vec<Release>, serial: u64) -> Catalog {
        Catalog {
            location,
            verification: Verification::IndexGone { serial },
            index: None,
            releases,
        }
    }

    /// Refuses installing from a source that nothing vouches for, unless the policy allows it,
    /// and from one whose signed index has gone. Everything else (listing, comparing, checking)
    /// works on any catalog.
    pub fn require_installable(&self) -> Result<(), UpdateError> {
        match self.verification {
            Verification::Unverified {
                installs_allowed: false,
            } => Err(UpdateError::UnsignedSource {
                location: self.location.clone(),
                policy: Policy::path(),
            }),
            Verification::IndexGone { serial } => Err(UpdateError::SignedIndexGone {
                location: self.location.clone(),
                serial,
                store: crate::config::paths::data_dir().join(crate::index::trust::STORE_FILE),
            }),
            _ => Ok(()),
        }
    }

    /// The kit of `component` that `request` asks for (see [`select_target`]).
    pub fn target(
        &self,
        component: Component,
        request: &TargetRequest,
    ) -> Result<Option<&Kit>, UpdateError> {
        select_target(&self.releases, component, request)
    }

    /// What a reader of the source found, in a line: "12 releases, newest 26.8.1", then whether
    /// anything vouches for them.
    pub fn summary(&self) -> String {
        let newest_plain = self.releases.iter().rev().find(|r| r.name.is_plain());
        let count = self.releases.len();
        let found = match (count, newest_plain) {
            (0, _) => "no releases".to_string(),
            (1, Some(newest)) => format!("1 release, {}", newest.name),
            (n, Some(newest)) => format!("{n} releases, newest {}", newest.name),
            (n, None) => format!("{n} releases, all with a suffix"),
        };
        format!("{found} ({})", self.verification)
    }

    /// The signed index, for the commands that need one; `purpose` says what for.
    pub fn signed_index(&self, purpose: &'static str) -> Result<&ReleaseIndex, UpdateError> {
        self.index
            .as_ref()
            .ok_or_else(|| UpdateError::NoSignedIndex {
                location: self.location.clone(),
                purpose,
            })
    }
}

/// What vouches for a source's kits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// A signed index, checked: its serial and expiry (unix seconds).
    Signed { serial: u64, expires: u64 },
    /// No index: nothing but the source's own files says what a kit should be. Its releases
    /// are read and compared; they are installed only where the machine policy allows it.
    Unverified { installs_allowed: bool },
    /// No index, where this source served a signed one before (the newest with this serial):
    /// it may have been removed to get unchecked kits installed, so none is, whatever the policy.
    IndexGone { serial: u64 },
}

/// "signed index, serial 7", or "unverified: no signed index.json; …" with whether installing is
/// allowed: the one wording of the command line and the window.
impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verification::Signed { serial, .. } => write!(f, "signed index, serial {serial}"),
            Verification::Unverified {
                installs_allowed: true,
            } => f.write_str(
                "unverified: no signed index.json; the machine policy allows installing",
            ),
            Verification::Unverified {
                installs_allowed: false,
            } => f.write_str("unverified: no signed index.json; installing is refused"),
            Verification::IndexGone { serial } => write!(
                f,
                "unverified: its signed index.json (serial {serial} seen before) is gone; installing is refused"
            ),
        }
    }
}

impl Verification {
    pub fn is_signed(&self) -> bool {
        matches!(self, Verification::Signed { .. })
    }

    pub fn installs_allowed(&self) -> bool {
        !matches!(
            self,
            Verification::Unverified {
                installs_allowed: false
            } | Verification::IndexGone { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(name: &str) -> Release {
        Release {
            name: name.parse().unwrap(),
            kits: Vec::new(),
        }
    }

    #[test]
    fn the_summary_counts_releases_and_names_the_newest_plain_one() {
        let releases = vec![
            release("25.8.0"),
            release("26.2.0"),
            release("26.8.1"),
            release("26.8.1-hotfix"),
        ];
        let catalog = Catalog::unverified("share".into(), releases, false);
        assert_eq!(
            catalog.summary(),
            "4 releases, newest 26.8.1 (unverified: no signed index.json; installing is refused)"
        );
        let empty = Catalog::unverified("share".into(), Vec::new(), true);
        assert!(empty.summary().starts_with("no releases ("));
    }
}
