//! bench-hostile cases: kustomize (issue 23 items 5 and 7).

use std::path::Path;

use super::{Case, Prepared, write};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "ks-self-substituting-path",
            "a Flux Kustomization whose postBuild substitutes N: \"${N}1\" into itself, on its own path",
            self_substituting,
        ),
        Case::new(
            "ks-big-file-50-links",
            "a 20 MB YAML file and 50 symlinks to it on a Flux path built with kustomize (images)",
            big_file_links,
        ),
    ]
}

fn repo(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join(".git"))?;
    Ok(())
}

fn self_substituting(dir: &Path) -> anyhow::Result<Prepared> {
    repo(dir)?;
    write(
        dir,
        "clusters/home/ks.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: loop, namespace: flux-system}\nspec:\n  interval: 10m\n  path: ./clusters/home\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n  postBuild:\n    substitute:\n      N: \"${N}1\"\n",
    )?;
    Ok(Prepared::default())
}

fn big_file_links(dir: &Path) -> anyhow::Result<Prepared> {
    repo(dir)?;
    // one ConfigMap of 20 MB (within the 128 MiB a file may have)
    let mut big = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: n}\ndata:\n",
    );
    let line = format!("  k{{}}: \"{}\"\n", "x".repeat(1000));
    for i in 0..20_000 {
        big.push_str(&line.replace("{}", &i.to_string()));
    }
    write(dir, "data/big.yaml", big)?;
    std::fs::create_dir_all(dir.join("apps/app/links"))?;
    write(
        dir,
        "apps/app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: small, namespace: n}\n",
    )?;
    for i in 0..50 {
        std::os::unix::fs::symlink(
            "../../../data/big.yaml",
            dir.join(format!("apps/app/links/big{i:02}.yaml")),
        )?;
    }
    write(
        dir,
        "clusters/home/app.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app, namespace: flux-system}\nspec:\n  interval: 10m\n  path: ./apps/app\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n  images:\n  - {name: nginx, newTag: \"1.27\"}\n",
    )?;
    Ok(Prepared::default())
}
