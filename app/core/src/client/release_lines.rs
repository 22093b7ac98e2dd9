//! The IBEX GUI runs the genie_python installed beside it, and breaks with one from another
//! release line: whatever leaves the two on different lines is said, so that nobody finds out
//! from a broken GUI.

use std::fmt;

use crate::client::version::{ClientVersion, Version};

/// The IBEX GUI and genie_python on different release lines (`major.minor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedLines {
    pub gui: Version,
    pub genie: Version,
}

impl fmt::Display for MixedLines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the IBEX GUI is on release line {}.{} and genie_python on {}.{}: the GUI uses the installed genie_python and may not work with another line; install both from one release",
            self.gui.major(),
            self.gui.minor(),
            self.genie.major(),
            self.genie.minor()
        )
    }
}

/// The two installed versions, when both are releases of different lines. A development build
/// or a missing component is no mix.
pub fn mixed(gui: Option<&ClientVersion>, genie: Option<&ClientVersion>) -> Option<MixedLines> {
    let gui = gui?.as_release()?;
    let genie = genie?.as_release()?;
    let mixed = !gui.same_line(genie) && !gui.is_development() && !genie.is_development();
    mixed.then(|| MixedLines {
        gui: gui.clone(),
        genie: genie.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(v: &str) -> ClientVersion {
        ClientVersion::Release(v.parse().unwrap())
    }

    #[test]
    fn only_two_releases_of_different_lines_are_a_mix() {
        let (a, b) = (release("26.2.1.1302"), release("26.2.0.1234"));
        assert_eq!(mixed(Some(&a), Some(&b)), None, "same line");
        let older = release("25.8.0.1021");
        let mix = mixed(Some(&older), Some(&b)).unwrap();
        assert!(
            mix.to_string()
                .contains("line 25.8 and genie_python on 26.2"),
            "{mix}"
        );
        assert_eq!(mixed(None, Some(&b)), None);
        assert_eq!(mixed(Some(&release("0.0.0.42")), Some(&b)), None);
    }
}
