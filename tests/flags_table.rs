//! The embedded Headlamp flag table must match the source table the project carries
//! (data/upstream/headlamp/server-flags-by-version.json; provenance in data/upstream/provenance.json).
//! Regenerate with `HEADLAMP_E2E_BLESS=1 cargo test --test flags_table`.

use std::path::PathBuf;

use headlamp_e2e::lint::flags;

fn source_table() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/upstream/headlamp/server-flags-by-version.json")
}

#[test]
fn embedded_flag_table_matches_the_source_table() {
    let path = source_table();
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let derived = flags::derive(&source).expect("source table derives");
    if std::env::var("HEADLAMP_E2E_BLESS").as_deref() == Ok("1") {
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/headlamp-server-flags.json");
        let text = serde_json::to_string_pretty(&derived).unwrap() + "\n";
        std::fs::write(&out, text).unwrap();
        eprintln!("wrote {}", out.display());
        return;
    }
    assert_eq!(
        &derived,
        flags::table(),
        "data/headlamp-server-flags.json is out of date: run HEADLAMP_E2E_BLESS=1 cargo test --test flags_table"
    );
}
