//! A release source read and verified once: the releases it holds, what vouches for them, and
//! its signed index. Every question of one run (or one refresh of the window) is answered from
//! one [`Catalog`], so the source is fetched and its signature checked once.

mod select;

pub use select::{TargetRequest, select_target};

use crate::client::component::Component;
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
    /// A catalog of `releases`, vouched for by `index` when there is one.
    pub fn new(location: String, index: Option<ReleaseIndex>, releases: Vec<Release>) -> Catalog {
        Catalog {
            location,
            verification: Verification::of(index.as_ref()),
            index,
            releases,
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
    /// No index: nothing but the source's own files says what a kit should be.
    Unverified,
}

impl Verification {
    pub fn of(index: Option<&ReleaseIndex>) -> Verification {
        index.map_or(Verification::Unverified, |i| Verification::Signed {
            serial: i.serial,
            expires: i.expires,
        })
    }
}
