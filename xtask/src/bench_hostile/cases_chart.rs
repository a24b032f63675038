//! bench-hostile cases: chart (issue 23 items 5, 6): a huge `index.yaml`, a chart whose `values.yaml` is 40 MiB, a
//! helm that never stops printing, three repositories that never finish answering. Each served from 127.0.0.1 or a
//! local directory; chart archives are made with the system `tar` (this is the bench, not lint).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use super::{Case, Prepared};

pub fn cases() -> Vec<Case> {
    let mut drip = Case::new(
        "chart-dripping-repos",
        "3 repositories whose index.yaml drips a byte a second: one download deadline, not one each",
        dripping_repos,
    );
    // the downloads' one deadline is 60 s: the case is bounded a little above it
    drip.max_time = Duration::from_secs(90);
    vec![
        Case::new(
            "chart-big-index",
            "an index.yaml that never ends (2 GiB and more, no Content-Length)",
            big_index,
        ),
        Case::new(
            "chart-big-values",
            "a small chart archive whose values.yaml is 40 MiB",
            big_values,
        ),
        Case::new(
            "chart-huge-render",
            "a helm (HELM_BIN) whose template output never ends",
            huge_render,
        ),
        drip,
    ]
}

const REPO_AND_RELEASE: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: REPO, namespace: apps}\nspec: {url: 'URL'}\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: REPO, namespace: apps}\nspec:\n  chart: {spec: {chart: demo, version: 1.2.3, sourceRef: {kind: HelmRepository, name: REPO}}}\n";

fn release(repo: &str, url: &str) -> String {
    REPO_AND_RELEASE.replace("REPO", repo).replace("URL", url)
}

/// A local HTTP server: each connection gets `answer` (run on its own thread, with the socket).
fn serve(answer: fn(std::net::TcpStream)) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/", listener.local_addr()?);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                answer(conn);
            });
        }
    });
    Ok(url)
}

fn big_index(tree: &Path) -> anyhow::Result<Prepared> {
    let url = serve(|mut conn| {
        // no Content-Length: the body ends when the server closes, which it never does while lint reads
        let _ = conn
            .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\napiVersion: v1\nentries:\n");
        let line = "  c: [{version: 0.0.1, urls: [x.tgz], digest: 0000000000000000000000000000000000000000000000000000000000000000}]\n".repeat(1000);
        let mut sent = 0u64;
        while sent < 4 * 1024 * 1024 * 1024 {
            if conn.write_all(line.as_bytes()).is_err() {
                return;
            }
            sent += line.len() as u64;
        }
    })?;
    std::fs::write(tree.join("release.yaml"), release("big", &url))?;
    Ok(Prepared::default())
}

/// `dir/demo-1.2.3.tgz`: a `demo` chart with `values` as its values.yaml and one ConfigMap template.
fn chart_archive(dir: &Path, values: &[u8]) -> anyhow::Result<()> {
    let src = dir.join("src");
    let chart = src.join("demo");
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 1.2.3\n",
    )?;
    std::fs::write(chart.join("values.yaml"), values)?;
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
    )?;
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(dir.join("demo-1.2.3.tgz"))
        .arg("-C")
        .arg(&src)
        .arg("demo")
        .status()?;
    anyhow::ensure!(status.success(), "tar failed: {status}");
    std::fs::remove_dir_all(&src)?;
    Ok(())
}

/// The charts directory next to the tree (not in it: lint reads the tree).
fn charts_dir(tree: &Path) -> anyhow::Result<std::path::PathBuf> {
    let dir = tree
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no parent"))?
        .join("charts");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn big_values(tree: &Path) -> anyhow::Result<Prepared> {
    let charts = charts_dir(tree)?;
    let mut values = String::with_capacity(41 * 1024 * 1024);
    let mut i = 0u64;
    while values.len() < 40 * 1024 * 1024 {
        values.push_str(&format!("key{i}: {{a: 1, b: [x, y], c: \"text\"}}\n"));
        i += 1;
    }
    chart_archive(&charts, values.as_bytes())?;
    std::fs::write(
        tree.join("release.yaml"),
        release("values", "https://charts.example.invalid/"),
    )?;
    Ok(Prepared {
        env: vec![("HEADLAMP_E2E_CHARTS".into(), charts.display().to_string())],
        ..Prepared::default()
    })
}

fn huge_render(tree: &Path) -> anyhow::Result<Prepared> {
    let charts = charts_dir(tree)?;
    chart_archive(&charts, b"{}\n")?;
    let helm = charts.join("helm");
    std::fs::write(
        &helm,
        "#!/bin/sh\ncat > /dev/null\nwhile :; do printf -- '---\\n# Source: demo/templates/cm.yaml\\napiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: x, namespace: apps}\\ndata: {a: b}\\n'; done\n",
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::write(
        tree.join("release.yaml"),
        release("render", "https://charts.example.invalid/"),
    )?;
    Ok(Prepared {
        env: vec![
            ("HEADLAMP_E2E_CHARTS".into(), charts.display().to_string()),
            ("HELM_BIN".into(), helm.display().to_string()),
        ],
        ..Prepared::default()
    })
}

fn dripping_repos(tree: &Path) -> anyhow::Result<Prepared> {
    let mut text = String::new();
    for i in 0..3 {
        let url = serve(|mut conn| {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            // a byte a second, for ten minutes
            for _ in 0..600 {
                if conn.write_all(b"#").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })?;
        text.push_str(&release(&format!("drip{i}"), &url));
        text.push_str("---\n");
    }
    std::fs::write(tree.join("release.yaml"), text)?;
    Ok(Prepared::default())
}
