//! The GitHub workflows, checked structurally (Actions cannot run here): a fork's CI runs exactly the README test
//! command with nothing skipped, installs every tool that command needs at a pinned version, and no workflow needs a
//! file outside the repository.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn workflow(name: &str) -> Value {
    let rel = format!(".github/workflows/{name}");
    serde_norway::from_str(&read(&rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The README's test command: the `cargo test` line of "The two commands", without its comment.
fn readme_test_command() -> String {
    let readme = read("README.md");
    let section = readme
        .split("## The two commands")
        .nth(1)
        .expect("README has a section \"The two commands\"");
    let block = section
        .split("```")
        .nth(1)
        .expect("the section has a code block");
    block
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| l.starts_with("cargo test"))
        .expect("the code block has the test command")
        .to_string()
}

fn steps(job: &Value) -> &Vec<Value> {
    job["steps"].as_array().expect("a job has steps")
}

/// `uses` of a step without its version (`azure/setup-helm@v4` → `azure/setup-helm`).
fn action(step: &Value) -> Option<&str> {
    step["uses"]
        .as_str()
        .map(|u| u.split('@').next().unwrap_or(u))
}

/// The tools the README test command needs with `HEADLAMP_E2E_REQUIRE_*` set, and the action that installs each
/// (docker and git ship with GitHub's Ubuntu runner images).
const TOOLS: [(&str, &str, &str); 2] = [
    ("helm", "azure/setup-helm", "HELM_VERSION"),
    ("kubectl", "azure/setup-kubectl", "KUBECTL_VERSION"),
];

#[test]
fn ci_runs_exactly_the_readme_test_command_with_nothing_skipped() {
    let command = readme_test_command();
    assert_eq!(command, "cargo test --workspace");
    let ci = workflow("ci.yml");
    for var in ["HEADLAMP_E2E_REQUIRE_TOOLS", "HEADLAMP_E2E_REQUIRE_DOCKER"] {
        assert_eq!(ci["env"][var], "1", "ci.yml sets {var}=1");
    }
    assert!(
        ci["env"].get("HEADLAMP_E2E_CHARTS").is_none(),
        "the charts are the project's own"
    );
    let job = &ci["jobs"]["test"];
    assert!(
        job["runs-on"]
            .as_str()
            .is_some_and(|r| r.starts_with("ubuntu-")),
        "an Ubuntu runner (it has Docker and git)"
    );
    let runs: Vec<&str> = steps(job)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .map(str::trim)
        .collect();
    assert!(
        runs.contains(&command.as_str()),
        "ci.yml runs `{command}`: {runs:?}"
    );
    assert!(
        runs.contains(&"cargo xtask lint"),
        "ci.yml lints the fixtures"
    );
    // .ci/run, this repository's own CI, runs the same command
    let ci_run = read(".ci/run");
    assert!(
        ci_run.lines().any(|l| l.trim() == command),
        ".ci/run runs `{command}`"
    );
}

#[test]
fn ci_installs_every_tool_the_test_command_needs_at_a_pinned_version() {
    let ci = workflow("ci.yml");
    let job = &ci["jobs"]["test"];
    let steps = steps(job);
    let test_at = steps
        .iter()
        .position(|s| s["run"].as_str().map(str::trim) == Some("cargo test --workspace"))
        .expect("the test step");
    for (tool, installer, version_var) in TOOLS {
        let at = steps
            .iter()
            .position(|s| action(s) == Some(installer))
            .unwrap_or_else(|| panic!("ci.yml installs {tool} with {installer}"));
        assert!(at < test_at, "{tool} is installed before the tests run");
        assert_eq!(
            steps[at]["with"]["version"],
            format!("${{{{ env.{version_var} }}}}"),
            "{installer} installs the pinned version"
        );
        let pinned = ci["env"][version_var]
            .as_str()
            .unwrap_or_else(|| panic!("ci.yml pins {version_var}"));
        assert!(
            pinned.starts_with('v') && pinned[1..].split('.').count() == 3,
            "{version_var}={pinned} is an exact version"
        );
        // README says which versions the tests were run with
        assert!(
            read("README.md").contains(&format!("{tool} {pinned}")),
            "README names {tool} {pinned}"
        );
    }
}

#[test]
fn no_workflow_needs_a_file_outside_the_repository() {
    let dir = root().join(".github/workflows");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).expect(".github/workflows") {
        let p = e.expect("entry").path();
        let text = std::fs::read_to_string(&p).expect("a workflow");
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        for bad in ["../", "shared/", "HEADLAMP_E2E_CHARTS", "fetch-helm"] {
            assert!(!text.contains(bad), "{name} mentions {bad:?}");
        }
        seen += 1;
    }
    assert!(seen >= 3, "ci.yml, e2e.yml and chart-bump.yml");
}

#[test]
fn the_chart_bump_lint_installs_the_tools_it_runs() {
    let wf = workflow("chart-bump.yml");
    for job in ["lint", "chart-diff"] {
        let steps = steps(&wf["jobs"][job]);
        for (tool, installer, _) in TOOLS {
            assert!(
                steps.iter().any(|s| action(s) == Some(installer)),
                "chart-bump.yml job {job} installs {tool}"
            );
        }
    }
}

#[test]
fn nothing_in_the_code_reads_beside_the_checkout() {
    // the project stands alone: no source, test or CLI file names a path into the directory beside the checkout
    fn walk(dir: &Path, hits: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, hits);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for (i, l) in text.lines().enumerate() {
                    if l.contains(concat!("../", "shared")) {
                        hits.push(format!("{}:{}", p.display(), i + 1));
                    }
                }
            }
        }
    }
    let mut hits = Vec::new();
    for d in ["src", "tests", "xtask", "yaml", "typed"] {
        walk(&root().join(d), &mut hits);
    }
    assert!(hits.is_empty(), "paths beside the checkout: {hits:?}");
}

/// Minutes of a `--budget` argument (`190m`, `3h10m`).
fn budget_minutes(arg: &str) -> u64 {
    let mut total = 0;
    let mut n = String::new();
    for c in arg.chars() {
        match c {
            '0'..='9' => n.push(c),
            'h' => total += std::mem::take(&mut n).parse::<u64>().unwrap() * 60,
            'm' => total += std::mem::take(&mut n).parse::<u64>().unwrap(),
            other => panic!("--budget {arg}: unexpected {other:?}"),
        }
    }
    assert!(n.is_empty(), "--budget {arg}: a number without a unit");
    total
}

#[test]
fn the_e2e_budget_ends_the_run_before_its_step_is_killed_and_a_killed_run_still_has_a_summary() {
    let wf = workflow("e2e.yml");
    let job = &wf["jobs"]["e2e"];
    let all = steps(job);
    let pos = |name: &str| {
        all.iter()
            .position(|s| s["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("e2e.yml has no step {name:?}"))
    };
    let e2e = &all[pos("e2e")];
    let step_timeout = e2e["timeout-minutes"]
        .as_u64()
        .expect("the e2e step has a timeout");
    let job_timeout = job["timeout-minutes"]
        .as_u64()
        .expect("the job has a timeout");
    assert!(
        step_timeout < job_timeout,
        "the uploads run after a step timeout"
    );
    let run = e2e["run"].as_str().unwrap();
    let budgets: Vec<u64> = run
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "--budget")
        .map(|w| budget_minutes(w[1].trim_end_matches([')', ';'])))
        .collect();
    // both the sharded and the single-scenario command lines
    assert_eq!(budgets.len(), 2, "{run}");
    for b in budgets {
        assert!(
            b + 5 <= step_timeout,
            "--budget {b}m leaves less than 5 min of the {step_timeout}-min step for teardown and reports"
        );
    }
    // the build is not in the budget
    assert!(pos("Build") < pos("e2e"));
    // a run killed without its SIGTERM handler leaves summary.md: appended when summary.appended is absent
    let fallback = &all[pos("Step summary of a killed run")];
    assert_eq!(fallback["if"].as_str(), Some("always()"));
    let script = fallback["run"].as_str().unwrap();
    assert!(
        script.contains("summary.md") && script.contains("summary.appended"),
        "{script}"
    );
    assert!(pos("e2e") < pos("Step summary of a killed run"));
    let upload = &all[pos("Upload artifacts")];
    assert!(upload["if"].as_str().unwrap().contains("cancelled()"));
}

/// Every workflow step that runs `cargo xtask e2e`.
fn e2e_runs() -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join(".github/workflows")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let wf = workflow(&name);
        for (job, v) in wf["jobs"].as_object().unwrap() {
            for (i, s) in steps(v).iter().enumerate() {
                if s["run"]
                    .as_str()
                    .is_some_and(|r| r.contains("cargo xtask e2e "))
                {
                    out.push((name.clone(), job.clone(), i));
                }
            }
        }
    }
    out
}

#[test]
fn every_workflow_that_runs_e2e_restores_and_saves_the_image_cache_and_passes_a_budget() {
    let runs = e2e_runs();
    assert!(runs.len() >= 2, "e2e.yml and chart-bump.yml: {runs:?}");
    for (file, job, i) in runs {
        let wf = workflow(&file);
        let all = steps(&wf["jobs"][&job]);
        let run = all[i]["run"].as_str().unwrap();
        let at = format!("{file} job {job}");
        assert!(run.contains("--image-cache"), "{at}: {run}");
        assert!(run.contains("--budget "), "{at}: {run}");
        assert!(run.contains("--k3s-image \"$K3S_IMAGE\""), "{at}: {run}");
        let restore: Vec<&Value> = all[..i]
            .iter()
            .filter(|s| action(s) == Some("actions/cache/restore"))
            .collect();
        assert_eq!(restore.len(), 1, "{at}: one restore before the run");
        let key = restore[0]["with"]["key"].as_str().unwrap();
        for part in [
            "${{ env.K3S_IMAGE }}",
            "hashFiles('fixtures/gitops/**/*.yaml')",
            "runner.arch",
        ] {
            assert!(key.contains(part), "{at}: the cache key {key} lacks {part}");
        }
        let id = restore[0]["id"]
            .as_str()
            .expect("the restore step has an id");
        let path = restore[0]["with"]["path"].as_str().unwrap();
        assert_eq!(path, "${{ env.IMAGE_CACHE }}", "{at}");
        let save: Vec<&Value> = all[i + 1..]
            .iter()
            .filter(|s| action(s) == Some("actions/cache/save"))
            .collect();
        assert_eq!(save.len(), 1, "{at}: one save after the run");
        assert_eq!(save[0]["with"]["path"].as_str(), Some(path), "{at}");
        assert_eq!(
            save[0]["with"]["key"].as_str(),
            Some(format!("${{{{ steps.{id}.outputs.cache-primary-key }}}}").as_str()),
            "{at}"
        );
        let cond = save[0]["if"].as_str().unwrap_or_default();
        assert!(
            cond.contains("always()"),
            "{at}: saved after a red run too: {cond}"
        );
        assert!(
            cond.contains(&format!("steps.{id}.outputs.cache-hit != 'true'")),
            "{at}: an existing key cannot be saved again: {cond}"
        );
        // the budget leaves the step time for teardown and reports
        let timeout = all[i]["timeout-minutes"]
            .as_u64()
            .expect("the e2e step has a timeout");
        let budget = run
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .find(|w| w[0] == "--budget")
            .map(|w| budget_minutes(w[1].trim_end_matches([')', ';'])))
            .unwrap();
        assert!(
            budget + 5 <= timeout,
            "{at}: --budget {budget}m, step {timeout} min"
        );
    }
}
