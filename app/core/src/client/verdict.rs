//! The compatibility rules from the IBEX deployment strategy, applied to one component.
//!
//! | part differs | verdict |
//! |---|---|
//! | major | update required: client and server will not work together |
//! | minor | update recommended: likely compatible, not guaranteed |
//! | patch | update available: bug fixes |
//! | build | ignored |

use std::fmt;

use serde::Serialize;

use crate::client::version::{ClientVersion, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    UpToDate,
    UpdateAvailable,
    UpdateRecommended,
    UpdateRequired,
    NotInstalled,
    Development,
    Unknown,
}

impl Verdict {
    /// The stable identifier used in JSON.
    pub fn id(self) -> &'static str {
        match self {
            Verdict::UpToDate => "up-to-date",
            Verdict::UpdateAvailable => "update-available",
            Verdict::UpdateRecommended => "update-recommended",
            Verdict::UpdateRequired => "update-required",
            Verdict::NotInstalled => "not-installed",
            Verdict::Development => "development",
            Verdict::Unknown => "unknown",
        }
    }

    /// How urgent the verdict is: `check` reports the most urgent one. Verdicts that cannot be
    /// acted on (development, unknown) never block.
    pub fn severity(self) -> u8 {
        match self {
            Verdict::UpToDate | Verdict::Development | Verdict::Unknown => 0,
            Verdict::UpdateAvailable => 1,
            Verdict::UpdateRecommended => 2,
            Verdict::UpdateRequired | Verdict::NotInstalled => 3,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id().replace('-', " "))
    }
}

/// Judges an installed component against the server version and the target kit's version.
///
/// The reference line is the server's major.minor. When the target kit comes from an older line
/// of the same major (a partial release, so that line's kit is the one that goes with the
/// server), the target's line is the reference instead: installing it is all that can be done.
pub fn judge(
    installed: Option<&ClientVersion>,
    server: Option<&Version>,
    target: Option<&Version>,
) -> Verdict {
    let Some(installed) = installed else {
        return Verdict::NotInstalled;
    };
    let Some(server) = server else {
        return Verdict::Unknown;
    };
    let installed = match installed {
        ClientVersion::Release(v) if !server.is_development() => v,
        _ => return Verdict::Development,
    };
    let reference = match target {
        Some(t) if t.major() == server.major() && !t.same_line(server) && t < server => t,
        _ => server,
    };
    if installed.major() != reference.major() {
        Verdict::UpdateRequired
    } else if installed.minor() != reference.minor() {
        Verdict::UpdateRecommended
    } else if target.is_some_and(|t| t.same_line(reference) && installed.cmp_release(t).is_lt()) {
        Verdict::UpdateAvailable
    } else {
        Verdict::UpToDate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }
    fn c(s: &str) -> ClientVersion {
        s.parse().unwrap()
    }
    fn judge_str(installed: Option<&str>, server: Option<&str>, target: Option<&str>) -> Verdict {
        judge(
            installed.map(c).as_ref(),
            server.map(v).as_ref(),
            target.map(v).as_ref(),
        )
    }

    #[test]
    fn up_to_date_when_same_line_and_at_least_the_target_ignoring_build() {
        assert_eq!(
            judge_str(Some("26.2.1.5"), Some("26.2.0.1234"), Some("26.2.1.900")),
            Verdict::UpToDate
        );
        assert_eq!(
            judge_str(Some("26.2.2"), Some("26.2.0"), Some("26.2.1")),
            Verdict::UpToDate
        );
        assert_eq!(
            judge_str(Some("26.2.0"), Some("26.2.0"), None),
            Verdict::UpToDate
        );
    }

    #[test]
    fn update_available_when_an_older_patch_of_the_same_line() {
        assert_eq!(
            judge_str(Some("26.2.0"), Some("26.2.0.1234"), Some("26.2.1")),
            Verdict::UpdateAvailable
        );
    }

    #[test]
    fn update_recommended_when_minor_differs() {
        assert_eq!(
            judge_str(Some("26.8.0"), Some("26.2.0"), Some("26.2.1")),
            Verdict::UpdateRecommended
        );
        assert_eq!(
            judge_str(Some("26.2.1"), Some("26.8.0"), Some("26.8.0")),
            Verdict::UpdateRecommended
        );
    }

    #[test]
    fn update_required_when_major_differs() {
        assert_eq!(
            judge_str(Some("25.8.0"), Some("26.2.0"), Some("26.2.1")),
            Verdict::UpdateRequired
        );
        assert_eq!(
            judge_str(Some("12.0.1.678"), Some("26.2.0"), None),
            Verdict::UpdateRequired
        );
    }

    #[test]
    fn not_installed_wins_over_everything() {
        assert_eq!(
            judge_str(None, Some("26.2.0"), Some("26.2.1")),
            Verdict::NotInstalled
        );
        assert_eq!(judge_str(None, None, None), Verdict::NotInstalled);
    }

    #[test]
    fn development_when_server_or_client_is_a_dev_build() {
        assert_eq!(
            judge_str(Some("26.2.0"), Some("0.0.0.1"), None),
            Verdict::Development
        );
        assert_eq!(
            judge_str(Some("devel-abc1234"), Some("26.2.0"), Some("26.2.1")),
            Verdict::Development
        );
    }

    #[test]
    fn unknown_without_a_server_version() {
        assert_eq!(
            judge_str(Some("26.2.0"), None, Some("26.2.1")),
            Verdict::Unknown
        );
    }

    #[test]
    fn a_partial_release_judges_against_the_kit_that_goes_with_it() {
        // Server 26.8.1 but the newest genie_python kit is 26.2.3 (no 26.8 kit exists).
        assert_eq!(
            judge_str(Some("26.2.3"), Some("26.8.1"), Some("26.2.3")),
            Verdict::UpToDate
        );
        assert_eq!(
            judge_str(Some("26.2.1"), Some("26.8.1"), Some("26.2.3")),
            Verdict::UpdateAvailable
        );
        assert_eq!(
            judge_str(Some("25.8.0"), Some("26.8.1"), Some("26.2.3")),
            Verdict::UpdateRequired
        );
    }

    #[test]
    fn severity_orders_the_exit_codes() {
        let worst = [
            Verdict::UpToDate,
            Verdict::UpdateAvailable,
            Verdict::UpdateRecommended,
            Verdict::UpdateRequired,
        ];
        assert!(worst.windows(2).all(|w| w[0].severity() < w[1].severity()));
        assert_eq!(
            Verdict::NotInstalled.severity(),
            Verdict::UpdateRequired.severity()
        );
        assert_eq!(Verdict::Development.severity(), 0);
        assert_eq!(Verdict::Unknown.severity(), 0);
    }
}
