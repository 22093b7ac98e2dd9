//! One plain sentence per verdict, as the window and the pop-up show it.

use ibex_updater_core::client::verdict::Verdict;
use ibex_updater_core::client::version::{ClientVersion, Version};
use ibex_updater_core::usecase::status::{ComponentStatus, target_version};

/// Says what a component's verdict means for someone who has never heard of semantic versions.
/// `instrument` names the server ("LARMOR"); without one, "the instrument".
pub fn sentence(
    component: &ComponentStatus,
    server: Option<&Version>,
    instrument: Option<&str>,
) -> String {
    let name = component.component.display_name();
    let who = instrument.unwrap_or("the instrument");
    let line = |v: &Version| format!("{}.{}", v.major(), v.minor());
    let target = component.target.as_ref().map(target_version);
    let installed = component.installed.as_ref();
    match (
        component.verdict,
        installed.and_then(ClientVersion::as_release),
        server,
    ) {
        (Verdict::NotInstalled, _, _) => match target {
            Some(t) => format!(
                "{name} is not installed. Install release {} to work with {who}.",
                t.release()
            ),
            None => format!("{name} is not installed, and the release source has no kit for it."),
        },
        (Verdict::UpToDate, Some(i), Some(s)) => format!(
            "Your {name} {} matches {who}, which runs {}.",
            i.release(),
            s.release()
        ),
        (Verdict::UpdateAvailable, Some(i), _) => format!(
            "Your {name} {} works with {who}; release {} of the same line has bug fixes.",
            i.release(),
            target.map_or_else(|| "a newer patch".to_string(), |t| t.release().to_string())
        ),
        (Verdict::UpdateRecommended, Some(i), Some(s)) => format!(
            "Your {name} is from release {}; {who} runs {}. They will probably work together, but updating is recommended.",
            line(i),
            line(s)
        ),
        (Verdict::UpdateRequired, Some(i), Some(s)) => format!(
            "Your {name} is from release {}; {who} runs {}. They are a major version apart and will not work together.",
            line(i),
            line(s)
        ),
        (Verdict::Development, _, Some(s)) if s.is_development() => {
            format!("{who} runs a development build ({s}), which no release matches.")
        }
        (Verdict::Development, _, _) => format!(
            "Your {name} is a development build ({}), so it cannot be compared with a release.",
            installed.map_or_else(String::new, ToString::to_string)
        ),
        (_, Some(i), None) => format!(
            "Your {name} is {}. Pick an instrument that answers to see whether it matches.",
            i.release()
        ),
        _ => format!("The {name} version could not be compared."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ibex_updater_core::client::component::Component;

    fn status(installed: Option<&str>, verdict: Verdict) -> ComponentStatus {
        ComponentStatus {
            component: Component::IbexGui,
            installed: installed.map(|v| v.parse().unwrap()),
            target: None,
            verdict,
            library: None,
        }
    }

    fn say(installed: Option<&str>, verdict: Verdict, server: Option<&str>) -> String {
        let server: Option<Version> = server.map(|s| s.parse().unwrap());
        sentence(&status(installed, verdict), server.as_ref(), Some("LARMOR"))
    }

    #[test]
    fn a_major_mismatch_says_they_will_not_work_together() {
        assert_eq!(
            say(
                Some("25.8.0.1021"),
                Verdict::UpdateRequired,
                Some("26.2.0.1234")
            ),
            "Your IBEX GUI is from release 25.8; LARMOR runs 26.2. They are a major version apart and will not work together."
        );
    }

    #[test]
    fn every_verdict_has_a_sentence_naming_the_component() {
        let cases = [
            (Some("26.2.0"), Verdict::UpToDate, Some("26.2.0.1")),
            (Some("26.2.0"), Verdict::UpdateAvailable, Some("26.2.0.1")),
            (Some("26.8.0"), Verdict::UpdateRecommended, Some("26.2.0.1")),
            (None, Verdict::NotInstalled, Some("26.2.0.1")),
            (Some("devel-abc123"), Verdict::Development, Some("26.2.0.1")),
            (Some("26.2.0"), Verdict::Unknown, None),
        ];
        for (installed, verdict, server) in cases {
            let text = say(installed, verdict, server);
            assert!(text.contains("IBEX GUI"), "{verdict}: {text}");
            assert!(text.ends_with('.'), "{verdict}: {text}");
        }
        assert!(
            say(Some("26.2.0"), Verdict::Development, Some("0.0.0.42"))
                .contains("development build (0.0.0.42)")
        );
    }
}
