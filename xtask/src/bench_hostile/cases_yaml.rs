//! bench-hostile cases: yaml (the YAML reader, object identity, Flux substitution, Helm's `--set` parser).

use std::fmt::Write as _;
use std::path::Path;

use super::{Case, Prepared, write};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "yaml-dup-keys-200k",
            "one mapping with 200k keys (duplicate-key check)",
            dup_keys,
        ),
        Case::new(
            "dedup-20k-files",
            "20k files of one object each (identity dedup)",
            many_files,
        ),
        Case::new(
            "yaml-alias-1mb-x900",
            "a 1 MB scalar aliased 900 times",
            alias_big,
        ),
        Case::new("yaml-block-list-50mb", "a 50 MB block sequence", block_list),
        Case::new(
            "huge-scalar",
            "one scalar just under the 128 MiB file limit",
            huge_scalar,
        ),
        Case::new(
            "yaml-nodes-990k",
            "a block sequence just under the node bound",
            nodes_under_bound,
        ),
        Case::new(
            "yaml-flow-deep-100k",
            "flow sequences nested 100k deep",
            flow_deep,
        ),
        Case::new(
            "subst-glob-backtrack",
            "${X##*a*a…b} on a long value (glob backtracking)",
            glob_backtrack,
        ),
        Case::new(
            "subst-trim-200k-stars",
            "${X# followed by 200k `*` (recursion per star)",
            glob_stars,
        ),
        Case::new(
            "subst-replace-blowup",
            "${X//a/${Y}} with X and Y long",
            replace_blowup,
        ),
        Case::new(
            "subst-nested-5000",
            "${a:= nested 5000 deep",
            nested_default,
        ),
        Case::new(
            "strvals-index-65536-x100",
            "100 valuesFrom targetPaths a<i>[65536]",
            strvals_wide,
        ),
        Case::new(
            "strvals-deep-index",
            "a targetPath a[0][0]… 100k deep",
            strvals_deep,
        ),
    ]
}

fn dup_keys(dir: &Path) -> anyhow::Result<Prepared> {
    let mut s = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keys}\ndata:\n");
    for i in 0..200_000 {
        writeln!(s, "  k{i}: v")?;
    }
    write(dir, "apps/keys.yaml", s)?;
    Ok(Prepared::default())
}

fn many_files(dir: &Path) -> anyhow::Result<Prepared> {
    for i in 0..20_000 {
        write(
            dir,
            &format!("apps/d{}/cm{i}.yaml", i / 1000),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm{i}, namespace: a}}\ndata: {{k: v}}\n"
            ),
        )?;
    }
    Ok(Prepared::default())
}

fn alias_big(dir: &Path) -> anyhow::Result<Prepared> {
    let mut s = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bomb}}\ndata:\n  big: &a \"{}\"\nlist:\n",
        "x".repeat(1 << 20)
    );
    for _ in 0..900 {
        s.push_str("- *a\n");
    }
    write(dir, "apps/bomb.yaml", s)?;
    Ok(Prepared::default())
}

fn block_list(dir: &Path) -> anyhow::Result<Prepared> {
    let mut s = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: list}\nitems:\n");
    let mut i = 0u64;
    while s.len() < 50 << 20 {
        writeln!(s, "- item-{i:08}")?;
        i += 1;
    }
    write(dir, "apps/list.yaml", s)?;
    Ok(Prepared::default())
}

fn huge_scalar(dir: &Path) -> anyhow::Result<Prepared> {
    let head =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge, namespace: a}\ndata:\n  x: ";
    let limit = usize::try_from(headlamp_e2e::files::MAX_FILE_BYTES)?;
    let mut s = String::with_capacity(limit);
    s.push_str(head);
    s.extend(std::iter::repeat_n('a', limit - head.len() - 1));
    s.push('\n');
    write(dir, "apps/huge.yaml", s)?;
    Ok(Prepared::default())
}

fn nodes_under_bound(dir: &Path) -> anyhow::Result<Prepared> {
    let mut s = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: list}\nitems:\n");
    for i in 0..990_000 {
        writeln!(s, "- item-{i:08}")?;
    }
    write(dir, "apps/list.yaml", s)?;
    Ok(Prepared::default())
}

fn flow_deep(dir: &Path) -> anyhow::Result<Prepared> {
    let n = 100_000;
    let s = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\nx: {}{}\n",
        "[".repeat(n),
        "]".repeat(n)
    );
    write(dir, "apps/deep.yaml", s)?;
    Ok(Prepared::default())
}

/// A Flux Kustomization of `./apps` with `vars` in postBuild.substitute, and a ConfigMap with `text` in its data.
fn substitution(dir: &Path, vars: &[(&str, String)], text: &str) -> anyhow::Result<Prepared> {
    let mut ks = String::from(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n  postBuild:\n    substitute:\n",
    );
    for (k, v) in vars {
        writeln!(ks, "      {k}: \"{v}\"")?;
    }
    write(dir, "clusters/home/apps.yaml", ks)?;
    write(
        dir,
        "apps/cm.yaml",
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: s, namespace: a}}\ndata:\n  v: '{text}'\n"
        ),
    )?;
    Ok(Prepared::default())
}

fn glob_backtrack(dir: &Path) -> anyhow::Result<Prepared> {
    // every `*` may end anywhere in the run of `a`: a backtracking matcher tries them all
    let pattern = format!("{}b", "*a".repeat(30));
    substitution(
        dir,
        &[("X", "a".repeat(3000))],
        &format!("${{X##{pattern}}}"),
    )
}

fn glob_stars(dir: &Path) -> anyhow::Result<Prepared> {
    substitution(
        dir,
        &[("X", "abc".to_string())],
        &format!("${{X#{}}}", "*".repeat(200_000)),
    )
}

fn replace_blowup(dir: &Path) -> anyhow::Result<Prepared> {
    substitution(
        dir,
        &[("X", "a".repeat(50_000)), ("Y", "b".repeat(50_000))],
        "${X//a/${Y}}",
    )
}

fn nested_default(dir: &Path) -> anyhow::Result<Prepared> {
    let n = 5000;
    substitution(
        dir,
        &[("a", "1".to_string())],
        &format!("{}x{}", "${a:=".repeat(n), "}".repeat(n)),
    )
}

/// A HelmRelease whose valuesFrom entries put the key `v` of a ConfigMap at each of `paths`.
fn helm_release(dir: &Path, paths: &[String]) -> anyhow::Result<Prepared> {
    let mut hr = String::from(
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: hl, namespace: tools}\nspec:\n  interval: 1h\n  chart:\n    spec:\n      chart: headlamp\n      version: 0.30.1\n      sourceRef: {kind: HelmRepository, name: hl, namespace: flux-system}\n  valuesFrom:\n",
    );
    for p in paths {
        writeln!(
            hr,
            "    - {{kind: ConfigMap, name: vals, valuesKey: v, targetPath: '{p}'}}"
        )?;
    }
    write(dir, "apps/hr.yaml", hr)?;
    // the chart comes from $HEADLAMP_E2E_CHARTS (headlamp-0.30.1.tgz), rendered with $HELM_BIN when both are set
    write(
        dir,
        "apps/repo.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: hl, namespace: flux-system}\nspec: {interval: 1h, url: 'https://kubernetes-sigs.github.io/headlamp/'}\n",
    )?;
    write(
        dir,
        "apps/vals.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: vals, namespace: tools}\ndata: {v: x}\n",
    )?;
    Ok(Prepared::default())
}

fn strvals_wide(dir: &Path) -> anyhow::Result<Prepared> {
    let paths: Vec<String> = (0..100).map(|i| format!("a{i}[65536]")).collect();
    helm_release(dir, &paths)
}

fn strvals_deep(dir: &Path) -> anyhow::Result<Prepared> {
    helm_release(dir, &[format!("a{}", "[0]".repeat(100_000))])
}
