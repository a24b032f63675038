//! Which command-line flags each Headlamp server release defines.
//!
//! The data (`data/headlamp-server-flags.json`) is derived from the table of flags per release tag that
//! backend/pkg/config/config.go registers (v0.25.1..v0.45.0): for each flag, the first release that has it and, if
//! it was later removed, the last one. [`derive`] regenerates it; a test checks it against the source table.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The derived table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagTable {
    pub source: String,
    /// Release tags the table was derived from, oldest first.
    pub versions: Vec<String>,
    pub flags: BTreeMap<String, FlagSpan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagSpan {
    /// First release tag that defines the flag.
    pub since: String,
    /// Last release tag that defines it, when a later release removed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

static TABLE: OnceLock<FlagTable> = OnceLock::new();

/// The embedded table.
pub fn table() -> &'static FlagTable {
    TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("../../../data/headlamp-server-flags.json"))
            .unwrap_or_else(|e| {
                panic!("data/headlamp-server-flags.json is corrupt (a build bug): {e}")
            })
    })
}

pub fn parse_version(v: &str) -> Option<Version> {
    Version::parse(v.trim().trim_start_matches('v')).ok()
}

/// What the table knows about a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// The flags the version defines.
    Flags(Vec<String>),
    /// Outside the table's range (older than its first or newer than its last release).
    OutOfRange,
}

impl FlagTable {
    fn bounds(&self) -> Option<(Version, Version)> {
        let first = parse_version(self.versions.first()?)?;
        let last = parse_version(self.versions.last()?)?;
        Some((first, last))
    }

    /// The flags a Headlamp server version defines.
    pub fn flags_of(&self, version: &Version) -> Known {
        let Some((first, last)) = self.bounds() else {
            return Known::OutOfRange;
        };
        let plain = Version::new(version.major, version.minor, version.patch);
        if plain < first || plain > last {
            return Known::OutOfRange;
        }
        let flags = self
            .flags
            .iter()
            .filter(|(_, span)| {
                let since = parse_version(&span.since);
                let until = span.until.as_deref().and_then(parse_version);
                since.is_some_and(|s| s <= plain) && until.is_none_or(|u| plain <= u)
            })
            .map(|(name, _)| name.clone())
            .collect();
        Known::Flags(flags)
    }

    /// The first release that defines `flag`.
    pub fn since(&self, flag: &str) -> Option<&str> {
        self.flags.get(flag).map(|s| s.since.as_str())
    }
}

/// Derive the table from the per-release source table (`{"source": …, "flags": {"v0.25.1": ["base-url", …]}}`).
pub fn derive(source_json: &str) -> Result<FlagTable> {
    #[derive(Deserialize)]
    struct Source {
        source: String,
        flags: BTreeMap<String, Vec<String>>,
    }
    let src: Source =
        serde_json::from_str(source_json).map_err(|e| Error::Other(format!("flag table: {e}")))?;
    let mut versions: Vec<(Version, String)> = src
        .flags
        .keys()
        .map(|v| {
            parse_version(v)
                .map(|p| (p, v.clone()))
                .ok_or_else(|| Error::Other(format!("flag table: `{v}` is not a version")))
        })
        .collect::<Result<_>>()?;
    versions.sort();
    let mut flags: BTreeMap<String, FlagSpan> = BTreeMap::new();
    let all: std::collections::BTreeSet<&String> = src.flags.values().flatten().collect();
    for flag in all {
        let present: Vec<bool> = versions
            .iter()
            .map(|(_, tag)| src.flags[tag].contains(flag))
            .collect();
        let first = present.iter().position(|p| *p).unwrap_or(0);
        let last = present.iter().rposition(|p| *p).unwrap_or(0);
        if present[first..=last].iter().any(|p| !p) {
            return Err(Error::Other(format!(
                "flag table: -{flag} disappears and comes back; a since/until span cannot describe it"
            )));
        }
        flags.insert(
            flag.clone(),
            FlagSpan {
                since: versions[first].1.clone(),
                until: (last + 1 < versions.len()).then(|| versions[last].1.clone()),
            },
        );
    }
    Ok(FlagTable {
        source: src.source,
        versions: versions.into_iter().map(|(_, t)| t).collect(),
        flags,
    })
}

/// The flags a container's argument list passes (`-name`, `--name`, `-name=value`), in order, without duplicates.
/// Go's flag package stops at the first non-flag argument or at `--`.
pub fn flags_in_args(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        if arg == "--" || !arg.starts_with('-') || arg == "-" {
            break;
        }
        let name = arg.trim_start_matches('-');
        let (name, has_value) = match name.split_once('=') {
            Some((n, _)) => (n, true),
            None => (name, false),
        };
        if !out.iter().any(|f| f == name) {
            out.push(name.to_string());
        }
        // `-flag value`: skip the value (it does not start with '-')
        if !has_value && iter.peek().is_some_and(|next| !next.starts_with('-')) {
            let _ = iter.next();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_knows_the_user_mistake() {
        let t = table();
        assert_eq!(t.since("in-cluster-context-name"), Some("v0.40.0"));
        assert_eq!(t.since("session-ttl"), Some("v0.41.0"));
        let Known::Flags(f38) = t.flags_of(&Version::new(0, 38, 0)) else {
            panic!("0.38.0 should be in range")
        };
        assert!(f38.contains(&"in-cluster".to_string()));
        assert!(!f38.contains(&"in-cluster-context-name".to_string()));
        assert_eq!(t.flags_of(&Version::new(9, 0, 0)), Known::OutOfRange);
        // a patch release between tags uses the spans
        let Known::Flags(f) = t.flags_of(&Version::new(0, 40, 5)) else {
            panic!()
        };
        assert!(
            f.contains(&"in-cluster-context-name".to_string())
                && !f.contains(&"session-ttl".to_string())
        );
    }

    #[test]
    fn derive_records_removal() {
        let src =
            r#"{"source":"s","flags":{"v0.1.0":["a","b"],"v0.2.0":["a","b"],"v0.3.0":["a","c"]}}"#;
        let t = derive(src).unwrap();
        assert_eq!(t.flags["b"].until.as_deref(), Some("v0.2.0"));
        assert_eq!(t.flags["a"].until, None);
        assert_eq!(t.flags["c"].since, "v0.3.0");
        let gap = r#"{"source":"s","flags":{"v0.1.0":["a"],"v0.2.0":[],"v0.3.0":["a"]}}"#;
        assert!(derive(gap).is_err());
    }

    #[test]
    fn args_parsing() {
        let args: Vec<String> = [
            "-in-cluster",
            "-in-cluster-context-name=main",
            "--plugins-dir",
            "/headlamp/plugins",
            "-oidc-client-id=$(OIDC_CLIENT_ID)",
            "positional",
            "-after-positional",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            flags_in_args(&args),
            [
                "in-cluster",
                "in-cluster-context-name",
                "plugins-dir",
                "oidc-client-id"
            ]
        );
    }
}
