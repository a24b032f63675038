//! `--allow-remote-bases`: the kustomize builds that fetch remote bases run at the same time, not one after another
//! (issue 23: three slow remote bases must not cost three deadlines). Its own test binary: it sets `KUBECTL_BIN` for
//! the whole process. A stand-in kubectl (no network) builds a directory only when it sees the other build started
//! too; built one after another, the first would wait for the second in vain and fail.

use headlamp_e2e::gitops::{self, sandbox};
use headlamp_e2e::testing::script;

use headlamp_e2e::testing::write_file as write;

#[test]
fn remote_bases_are_fetched_in_parallel() {
    let tools = tempfile::tempdir().unwrap();
    let marks = tools.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    // `kubectl kustomize --load-restrictor LoadRestrictionsNone DIR`: mark DIR's name as started, wait (20 s at most)
    // until both builds have started, then print a ConfigMap named after DIR; alone, fail
    let bin = script(
        &tools.path().join("kubectl"),
        &format!(
            r#"dir=$(basename "$4")
marks='{}'
touch "$marks/$dir"
i=0
while [ $i -lt 200 ]; do
  if [ -e "$marks/a" ] && [ -e "$marks/b" ]; then
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: apps\n' "$dir"
    exit 0
  fi
  sleep 0.1
  i=$((i + 1))
done
echo "built alone: $dir" >&2
exit 1
"#,
            marks.display()
        ),
    );
    // SAFETY: the only test of this binary, set before any thread reads the environment
    unsafe { std::env::set_var("KUBECTL_BIN", &bin) };

    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    for app in ["a", "b"] {
        write(
            repo.path(),
            &format!("{app}/kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - https://github.com/example/{app}//deploy?ref=v1.0.0\n"
            ),
        );
    }
    sandbox::set_allow_remote_bases(true);
    let tree = gitops::load_each(repo.path()).unwrap();
    sandbox::set_allow_remote_bases(false);
    let messages: Vec<String> = tree.unreadable.iter().map(|e| e.to_string()).collect();
    assert!(messages.is_empty(), "{messages:#?}");
    let mut names: Vec<&str> = tree.objects.iter().map(|o| o.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["a", "b"]);
}
