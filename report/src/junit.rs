//! JUnit XML: one `<testsuite>` per scenario, one `<testcase>` per assertion, `<failure>` with the (redacted)
//! message, `<skipped>` with the reason. Phase timings become `<property name="phase:…" value="12.3s"/>`: a scenario's
//! on its suite, the run-level ones on the first suite (or on a suite named `run` when no scenario ran).

use std::path::Path;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::redact::redact;
use crate::outcome::{Outcome, PhaseTiming, RunReport};
use crate::table::format_duration;
use crate::{Error, Result};

fn phase_property(p: &PhaseTiming) -> Property {
    let status = if p.ok { "" } else { " (failed)" };
    Property::new(
        format!("phase:{}", p.name),
        format!("{}{status}", format_duration(p.duration)),
    )
}

/// The JUnit model of a run.
pub fn to_junit(report: &RunReport) -> Report {
    let mut junit = Report::new(report.name.as_str());
    junit.set_time(report.duration());
    let mut run_phases: Vec<Property> = report.phases.iter().map(phase_property).collect();
    if report.scenarios.is_empty() && !run_phases.is_empty() {
        let mut suite = TestSuite::new("run");
        suite.add_properties(run_phases.drain(..));
        junit.add_test_suite(suite);
    }
    for scenario in &report.scenarios {
        let mut suite = TestSuite::new(scenario.name.as_str());
        suite.set_time(scenario.duration());
        suite.add_properties(run_phases.drain(..));
        suite.add_properties(scenario.phases.iter().map(phase_property));
        for a in &scenario.assertions {
            let status = match &a.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Failed { message } => {
                    let message = redact(message);
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    // The attribute holds the first line; the element's text the whole message.
                    s.set_message(message.lines().next().unwrap_or_default())
                        .set_type("assertion")
                        .set_description(message.as_str());
                    s
                }
                Outcome::Skipped { reason } => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(redact(reason));
                    s
                }
            };
            let mut case = TestCase::new(a.name.as_str(), status);
            case.set_classname(scenario.name.as_str())
                .set_time(a.duration);
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit
}

/// The JUnit XML text of a run.
pub fn junit_xml(report: &RunReport) -> Result<String> {
    to_junit(report)
        .to_string()
        .map_err(|e| Error::Other(format!("serializing the JUnit report: {e}")))
}

/// Write the JUnit XML of a run to `path` (e.g. `target/e2e/<run>/junit.xml`), creating its parent directories.
pub fn write_junit(report: &RunReport, path: &Path) -> Result<()> {
    let xml = junit_xml(report)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    // 0600, like every file of a run directory
    headlamp_e2e_tools::private_file::write_private_file(path, xml.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::tests::sample;

    #[test]
    fn one_suite_per_scenario_one_case_per_assertion() {
        let xml = junit_xml(&sample()).unwrap();
        let parsed = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(parsed.name.as_deref(), Some("e2e"));
        assert_eq!((parsed.tests, parsed.failures, parsed.skipped), (3, 1, 1));
        let suites: Vec<_> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(suites, ["baseline", "token-rotation"]);

        let baseline = &parsed.test_suites[0];
        assert_eq!(
            (baseline.tests, baseline.failures, baseline.skipped),
            (2, 1, 0)
        );
        let cases: Vec<_> = baseline
            .test_cases
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(cases, ["headlamp-ready", "rbac-headlamp-list-secrets"]);
        assert_eq!(
            baseline.test_cases[0].classname.as_deref(),
            Some("baseline")
        );
        assert!(matches!(
            baseline.test_cases[0].status,
            TestCaseStatus::Success { .. }
        ));
        match &baseline.test_cases[1].status {
            TestCaseStatus::NonSuccess {
                kind,
                message,
                description,
                ..
            } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert_eq!(
                    message.as_deref(),
                    Some("list-secrets via headlamp: expected 403 Forbidden, got 200 OK")
                );
                let d = description.as_deref().unwrap_or_default();
                assert!(d.contains("Authorization: Bearer <redacted>"), "{d}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        let rotation = &parsed.test_suites[1];
        match &rotation.test_cases[0].status {
            TestCaseStatus::Skipped { message, .. } => {
                assert_eq!(message.as_deref(), Some("no second token"))
            }
            other => panic!("expected skipped, got {other:?}"),
        }
        // run-level phases are recorded on the first suite
        assert_eq!(baseline.properties[0].name.as_str(), "phase:k3s start");
        assert_eq!(baseline.properties[0].value.as_str(), "20.3s");
        assert!(rotation.properties.is_empty());
    }

    #[test]
    fn junit_never_contains_secrets() {
        let xml = junit_xml(&sample()).unwrap();
        assert!(!xml.contains("s3cr3t-token"));
        assert!(
            xml.contains(r#"<testsuite name="baseline" tests="2""#),
            "{xml}"
        );
        assert!(xml.contains("<failure"));
        assert!(xml.contains("<skipped"));
    }

    #[test]
    fn phases_without_scenarios_still_show_up() {
        let mut r = RunReport::new("e2e");
        r.record_phase(
            None,
            PhaseTiming {
                name: "k3s start".into(),
                duration: std::time::Duration::from_secs(3),
                ok: false,
            },
        );
        let parsed = Report::deserialize_from_str(&junit_xml(&r).unwrap()).unwrap();
        assert_eq!(parsed.test_suites.len(), 1);
        assert_eq!(parsed.test_suites[0].name.as_str(), "run");
        assert_eq!(
            parsed.test_suites[0].properties[0].value.as_str(),
            "3.0s (failed)"
        );
    }

    #[test]
    fn written_to_a_nested_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target/e2e/run-1/junit.xml");
        write_junit(&sample(), &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("<?xml"));
        assert_eq!(Report::deserialize_from_str(&text).unwrap().tests, 3);
    }
}
