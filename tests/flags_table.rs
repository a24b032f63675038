//! The embedded Headlamp flag table must match the source table in ../shared (when it is there).
//! Regenerate with `HEADLAMP_E2E_BLESS=1 cargo test --test flags_table`.

use std::path::PathBuf;

use headlamp_e2e::lint::flags;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/headlamp/server-flags-by-version.json")
}

#[test]
fn embedded_flag_table_matches_the_source_table() {
    let path = shared();
    let Ok(source) = std::fs::read_to_string(&path) else {
        if std::env::var("HEADLAMP_E2E_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!(
                "{} is missing and HEADLAMP_E2E_REQUIRE_TOOLS=1",
                path.display()
            );
        }
        eprintln!(
            "SKIP: {} not found; cannot compare the embedded flag table",
            path.display()
        );
        return;
    };
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
