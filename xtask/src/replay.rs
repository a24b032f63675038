//! `cargo xtask replay TRACE`: the scenario's waits over a recorded `trace.jsonl`, offline (no cluster, no Docker).
//! Exit 0 when every wait is met within its deadline (what the scenario expects), 1 when not, 2 when the trace or
//! the scenario files cannot be read.

use std::path::PathBuf;

use headlamp_e2e::e2e::trace::replay;
use headlamp_e2e::scenario;

use crate::Format;

#[derive(clap::Args)]
pub struct Args {
    /// A trace: `trace.jsonl` of a run directory (CI artifact), or `fixtures/traces/<scenario>.jsonl`
    #[arg(value_name = "TRACE")]
    trace: PathBuf,
    /// Scenario files [default: scenarios/]
    #[arg(long, value_name = "DIR")]
    scenarios_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub async fn run(args: Args) -> u8 {
    let trace = match replay::read(&args.trace) {
        Ok(t) => t,
        Err(e) => {
            return crate::cannot_run("replay", &format!("{}: {e}", args.trace.display()));
        }
    };
    let dir = args
        .scenarios_dir
        .unwrap_or_else(|| crate::project_root().join("scenarios"));
    let scenarios = match scenario::load_dir(&dir) {
        Ok(s) => s,
        Err(e) => return crate::cannot_run("replay", &e),
    };
    let r = match replay::replay(&trace, &scenarios) {
        Ok(r) => r,
        Err(e) => return crate::cannot_run("replay", &e),
    };
    let out = match args.format {
        Format::Text => replay::render_text(&args.trace.display().to_string(), &r),
        Format::Json => match serde_json::to_string_pretty(&serde_json::json!({
            "trace": args.trace.display().to_string(),
            "agrees": r.agrees(),
            "replay": r,
        })) {
            Ok(s) => s + "\n",
            Err(e) => return crate::cannot_run("replay", &e),
        },
    };
    // a closed pipe (`| head`) is not an error of the replay
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(out.as_bytes());
    if r.agrees() { 0 } else { 1 }
}
