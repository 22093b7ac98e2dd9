//! IBEX version numbers: `major.minor.patch[.build]`, release folder names such as
//! `26.2.1-hotfix`, and the `devel-<sha7>` marker that development client builds write.
//!
//! The build number is carried as semver build metadata (`26.2.1.678` is `26.2.1+678`), so it
//! is kept for display but never decides compatibility.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use semver::BuildMetadata;

/// Why a version string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{input}' is not an IBEX version: {reason} (expected major.minor.patch[.build], e.g. 26.2.1.678)"
)]
pub struct ParseVersionError {
    pub input: String,
    pub reason: &'static str,
}

/// A numeric IBEX version. Ordering compares major, minor and patch first; the build number only
/// breaks ties, so use [`Version::same_release`] where the build must be ignored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(semver::Version);

impl Version {
    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version(semver::Version::new(major, minor, patch))
    }

    /// The same version with `build` as its build number.
    pub fn with_build(&self, build: &str) -> Result<Self, ParseVersionError> {
        let mut v = self.0.clone();
        v.build = parse_build(build, build)?;
        Ok(Version(v))
    }

    pub fn major(&self) -> u64 {
        self.0.major
    }
    pub fn minor(&self) -> u64 {
        self.0.minor
    }
    pub fn patch(&self) -> u64 {
        self.0.patch
    }
    pub fn build(&self) -> Option<&str> {
        (!self.0.build.is_empty()).then(|| self.0.build.as_str())
    }

    /// The underlying semver value (`26.2.1+678`).
    pub fn as_semver(&self) -> &semver::Version {
        &self.0
    }

    /// `0.0.0.*` is what development servers report: no verdict can be made against it.
    pub fn is_development(&self) -> bool {
        (self.major(), self.minor(), self.patch()) == (0, 0, 0)
    }

    /// The version without its build number.
    pub fn release(&self) -> Version {
        Version::new(self.major(), self.minor(), self.patch())
    }

    /// Compares major.minor.patch only.
    pub fn cmp_release(&self, other: &Version) -> Ordering {
        (self.major(), self.minor(), self.patch()).cmp(&(
            other.major(),
            other.minor(),
            other.patch(),
        ))
    }

    pub fn same_release(&self, other: &Version) -> bool {
        self.cmp_release(other) == Ordering::Equal
    }

    pub fn same_line(&self, other: &Version) -> bool {
        (self.major(), self.minor()) == (other.major(), other.minor())
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Displays in IBEX form, `26.2.1.678`, which parses back to the same value.
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major(), self.minor(), self.patch())?;
        if let Some(build) = self.build() {
            write!(f, ".{build}")?;
        }
        Ok(())
    }
}

impl FromStr for Version {
    type Err = ParseVersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = clean(input);
        let err = |reason| ParseVersionError {
            input: input.to_string(),
            reason,
        };
        let mut parts = text.split('.');
        let mut number = || -> Result<u64, ParseVersionError> {
            let part = parts
                .next()
                .ok_or_else(|| err("it has fewer than three parts"))?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("major, minor and patch must be whole numbers"));
            }
            part.parse().map_err(|_| err("a part is too large"))
        };
        let (major, minor, patch) = (number()?, number()?, number()?);
        let build = parts.next();
        if parts.next().is_some() {
            return Err(err("it has more than four parts"));
        }
        let mut version = semver::Version::new(major, minor, patch);
        if let Some(build) = build {
            version.build = parse_build(input, build)?;
        }
        Ok(Version(version))
    }
}

fn parse_build(input: &str, build: &str) -> Result<BuildMetadata, ParseVersionError> {
    let build = clean(build);
    // A build number is one identifier: digits on real builds, `*` or letters on some dev servers.
    let valid = !build.is_empty()
        && build
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*');
    let build = build.replace('*', "x");
    match BuildMetadata::new(&build) {
        Ok(meta) if valid => Ok(meta),
        _ => Err(ParseVersionError {
            input: input.to_string(),
            reason: "the build number must be letters, digits or '-'",
        }),
    }
}

/// VERSION.txt files come from Windows batch `echo`: strip CRLF, padding and a byte-order mark.
fn clean(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// What a client's VERSION.txt says: a release, or a development build: `devel-<sha>`, or
/// anything else that is not a version (a nightly's build script writes `ECHO is on.`), which
/// is kept as it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientVersion {
    Release(Version),
    Development(String),
}

impl ClientVersion {
    pub fn as_release(&self) -> Option<&Version> {
        match self {
            ClientVersion::Release(v) => Some(v),
            ClientVersion::Development(_) => None,
        }
    }
}

impl fmt::Display for ClientVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientVersion::Release(v) => v.fmt(f),
            ClientVersion::Development(text) => f.write_str(text),
        }
    }
}

impl FromStr for ClientVersion {
    type Err = ParseVersionError;

    /// The first word is the version (release files carry trailing spaces and CRLF); text that
    /// is not a version is a development build. Only an empty file is an error.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = clean(input);
        let Some(first) = text.split_whitespace().next() else {
            return Err(ParseVersionError {
                input: input.to_string(),
                reason: "it is empty",
            });
        };
        Ok(match first.parse() {
            Ok(version) => ClientVersion::Release(version),
            Err(_) => ClientVersion::Development(text.to_string()),
        })
    }
}

/// The name of a release folder on the share: `X.Y.Z`, optionally with a suffix (`-hotfix`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReleaseName {
    pub version: Version,
    pub suffix: Option<String>,
}

impl ReleaseName {
    /// Plain `X.Y.Z` folders are the ones chosen automatically; suffixed ones only by name.
    pub fn is_plain(&self) -> bool {
        self.suffix.is_none()
    }
}

impl Ord for ReleaseName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.version
            .cmp(&other.version)
            .then_with(|| self.suffix.cmp(&other.suffix))
    }
}

impl PartialOrd for ReleaseName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ReleaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.version.fmt(f)?;
        if let Some(suffix) = &self.suffix {
            write!(f, "-{suffix}")?;
        }
        Ok(())
    }
}

impl FromStr for ReleaseName {
    type Err = ParseVersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = clean(input);
        let (number, suffix) = match text.split_once('-') {
            Some((number, suffix)) => (number, Some(suffix)),
            None => (text, None),
        };
        let version: Version =
            number
                .parse()
                .map_err(|e: ParseVersionError| ParseVersionError {
                    input: input.to_string(),
                    reason: e.reason,
                })?;
        if version.build().is_some() {
            return Err(ParseVersionError {
                input: input.to_string(),
                reason: "a release folder is named X.Y.Z, without a build number",
            });
        }
        let suffix = match suffix {
            None => None,
            Some(s)
                if !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Some(s.to_string())
            }
            Some(_) => {
                return Err(ParseVersionError {
                    input: input.to_string(),
                    reason: "a release folder's suffix is letters, digits, '-' or '_'",
                });
            }
        };
        Ok(ReleaseName { version, suffix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn parses_calendar_and_old_versions_with_and_without_build() {
        assert_eq!(v("26.2.1"), Version::new(26, 2, 1));
        let old = v("12.0.1.678");
        assert_eq!(
            (old.major(), old.minor(), old.patch(), old.build()),
            (12, 0, 1, Some("678"))
        );
        assert_eq!(old.as_semver().to_string(), "12.0.1+678");
        assert_eq!(old.to_string(), "12.0.1.678");
    }

    #[test]
    fn tolerates_batch_echo_whitespace_and_crlf() {
        assert_eq!(v(" 26.2.1 \r\n"), Version::new(26, 2, 1));
        assert_eq!(v("\u{feff}26.2.1.5\r\n"), v("26.2.1.5"));
    }

    #[test]
    fn development_server_versions_are_recognised() {
        assert!(v("0.0.0.1234").is_development());
        assert!(v("0.0.0.*").is_development());
        assert!(!v("26.2.0.1234").is_development());
    }

    #[test]
    fn rejects_malformed_versions_with_reason() {
        for bad in [
            "",
            "26",
            "26.2",
            "26.2.x",
            "26.2.1.2.3",
            "-1.2.3",
            "26..1",
            "26.2.1.b@d",
        ] {
            let err = bad.parse::<Version>().unwrap_err();
            assert_eq!(err.input, bad);
            assert!(
                err.to_string().contains("expected major.minor.patch"),
                "{err}"
            );
        }
    }

    #[test]
    fn build_number_only_breaks_ties() {
        assert!(v("26.2.1.1") > v("26.2.0.999"));
        assert!(v("26.2.1.10") > v("26.2.1.9"));
        assert!(v("26.2.1.1").same_release(&v("26.2.1.999")));
        assert_eq!(v("26.2.1.1").cmp_release(&v("26.2.1")), Ordering::Equal);
    }

    #[test]
    fn client_versions_include_development_builds() {
        assert_eq!(
            "devel-abc1234\r\n".parse::<ClientVersion>().unwrap(),
            ClientVersion::Development("devel-abc1234".into())
        );
        assert_eq!(
            "26.2.1 \r\n".parse::<ClientVersion>().unwrap(),
            ClientVersion::Release(v("26.2.1"))
        );
        // A nightly's batch file writes this when the variable it echoes is unset.
        let echo = "ECHO is on.\r\n".parse::<ClientVersion>().unwrap();
        assert_eq!(echo, ClientVersion::Development("ECHO is on.".into()));
        assert_eq!(echo.to_string(), "ECHO is on.");
        assert!(" \r\n".parse::<ClientVersion>().is_err());
    }

    #[test]
    fn zero_padded_versions_are_the_same_numbers() {
        assert_eq!(v("25.02.0"), v("25.2.0"));
        let padded: ReleaseName = "25.02.0".parse().unwrap();
        assert_eq!(padded, "25.2.0".parse().unwrap());
        assert_eq!(padded.to_string(), "25.2.0");
    }

    #[test]
    fn release_names_with_suffix() {
        let hotfix: ReleaseName = "26.2.1-hotfix".parse().unwrap();
        assert_eq!(hotfix.version, v("26.2.1"));
        assert_eq!(hotfix.suffix.as_deref(), Some("hotfix"));
        assert!(!hotfix.is_plain());
        assert_eq!(hotfix.to_string(), "26.2.1-hotfix");
        assert!("26.2.1".parse::<ReleaseName>().unwrap().is_plain());
        assert!("26.2.1.5".parse::<ReleaseName>().is_err());
        assert!("26.2.1-".parse::<ReleaseName>().is_err());
        assert!("Releases".parse::<ReleaseName>().is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_version() -> impl Strategy<Value = (u64, u64, u64, Option<u64>)> {
        (
            0..100u64,
            0..20u64,
            0..20u64,
            proptest::option::of(0..100_000u64),
        )
    }

    fn build(parts: (u64, u64, u64, Option<u64>)) -> Version {
        let (major, minor, patch, b) = parts;
        let v = Version::new(major, minor, patch);
        match b {
            Some(b) => v.with_build(&b.to_string()).unwrap(),
            None => v,
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(parts in any_version()) {
            let v = build(parts);
            prop_assert_eq!(v.to_string().parse::<Version>().unwrap(), v.clone());
            let client = ClientVersion::Release(v.clone());
            prop_assert_eq!(client.to_string().parse::<ClientVersion>().unwrap(), client);
        }

        #[test]
        fn release_names_round_trip(parts in any_version(), suffix in proptest::option::of("[a-z][a-z0-9_]{0,8}")) {
            let name = ReleaseName { version: build(parts).release(), suffix };
            prop_assert_eq!(name.to_string().parse::<ReleaseName>().unwrap(), name);
        }

        #[test]
        fn ordering_is_numeric_with_build_as_tie_breaker(a in any_version(), b in any_version()) {
            let (va, vb) = (build(a), build(b));
            let key = |p: (u64, u64, u64, Option<u64>)| (p.0, p.1, p.2);
            prop_assert_eq!(va.cmp_release(&vb), key(a).cmp(&key(b)));
            if key(a) != key(b) {
                prop_assert_eq!(va.cmp(&vb), key(a).cmp(&key(b)));
            } else if let (Some(x), Some(y)) = (a.3, b.3) {
                prop_assert_eq!(va.cmp(&vb), x.cmp(&y));
            }
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,24}") {
            let _ = text.parse::<Version>();
            let _ = text.parse::<ClientVersion>();
            let _ = text.parse::<ReleaseName>();
        }
    }
}
