use super::*;
use serde_json::json;

fn defaults() -> Value {
    json!({
        "image": {"registry": "ghcr.io", "tag": ""},
        "config": {"inCluster": true, "oidc": {"clientID": ""}},
        "podAnnotations": {},
        "securityContext": {"runAsNonRoot": true},
        "volumes": [], "volumeMounts": [],
    })
}

/// [`closest_key`] for a user's map holding only `key`, no subcharts.
fn closest(
    key: &str,
    value: &Value,
    defaults: Option<&Value>,
    schema: Option<&Value>,
) -> Option<String> {
    let user = Map::from_iter([(key.to_string(), value.clone())]);
    closest_key(
        key,
        value,
        &Level {
            user: &user,
            defaults,
            schema,
            subcharts: &[],
        },
    )
}

fn paths(c: &[Candidate]) -> Vec<String> {
    c.iter().map(|c| dotted(&c.path)).collect()
}

#[test]
fn finds_unknown_keys_at_any_depth_and_leaves_open_maps_alone() {
    let values = json!({
        "extraVolumes": [{"name": "home"}],
        "config": {"foo": 1, "oidc": {"clientId": "x"}},
        "podAnnotations": {"anything": "goes"},
        "image": {"tag": "v1"},
    });
    let c = unused_candidates(&values, &defaults(), None, &[]);
    assert_eq!(
        paths(&c),
        ["config.foo", "config.oidc.clientId", "extraVolumes"]
    );
    assert_eq!(c[1].suggestion.as_deref(), Some("clientID"));
    assert_eq!(c[2].suggestion.as_deref(), Some("volumes"));
}

#[test]
fn schema_defined_keys_are_known() {
    let schema = json!({"properties": {"env": {"type": "array"}, "config": {"properties": {"baseURL": {}}}}});
    let values = json!({"env": [], "config": {"baseURL": "/x", "bogus": true}});
    let c = unused_candidates(&values, &defaults(), Some(&schema), &[]);
    assert_eq!(paths(&c), ["config.bogus"]);
}

#[test]
fn suggestions() {
    let d = defaults();
    assert_eq!(
        closest("extraVolumeMounts", &json!([]), Some(&d), None).as_deref(),
        Some("volumeMounts")
    );
    assert_eq!(
        closest("Image", &json!({"tag": "x"}), Some(&d), None).as_deref(),
        Some("image")
    );
    assert_eq!(closest("zzzzzz", &json!(1), Some(&d), None), None);
    // a typo of the same shape
    assert_eq!(
        closest("securityContex", &json!({}), Some(&d), None).as_deref(),
        Some("securityContext")
    );
    // the same name with another shape is not the key meant
    assert_eq!(
        closest("image", &json!("ghcr.io/x:1"), Some(&d), None),
        None
    );
}

#[test]
fn a_different_setting_at_a_long_edit_distance_is_not_suggested() {
    // longhorn: staleReplicaTimeout and engineReplicaTimeout are two settings (distance 5)
    let d = json!({"persistence": {"defaultClass": true}, "defaultSettings": {"engineReplicaTimeout": 8}});
    assert_eq!(
        closest(
            "staleReplicaTimeout",
            &json!(30),
            d.get("defaultSettings"),
            None
        ),
        None
    );
    assert_eq!(
        closest(
            "engineReplicaTimeot",
            &json!(30),
            d.get("defaultSettings"),
            None
        )
        .as_deref(),
        Some("engineReplicaTimeout")
    );
}

/// [`unused_candidates`] of `values` as (dotted path, suggestion).
fn suggested(
    values: Value,
    defaults: &Value,
    subcharts: &[String],
) -> Vec<(String, Option<String>)> {
    unused_candidates(&values, defaults, None, subcharts)
        .into_iter()
        .map(|c| (dotted(&c.path), c.suggestion))
        .collect()
}

#[test]
fn a_key_two_maps_define_one_level_down_gets_no_move() {
    // rustfs 0.0.79: port 9000 is the S3 endpoint's, 9001 the console's; the first sibling is no answer
    let d = json!({"service": {"type": "ClusterIP", "console": {"port": 9001}, "endpoint": {"port": 9000}}});
    assert_eq!(
        suggested(json!({"service": {"port": 9000}}), &d, &[]),
        [("service.port".to_string(), None)]
    );
    // one map defining it is the chart's move
    let d = json!({"service": {"type": "ClusterIP", "endpoint": {"port": 9000}}});
    assert_eq!(
        suggested(json!({"service": {"port": 9000}}), &d, &[]),
        [(
            "service.port".to_string(),
            Some("endpoint.port".to_string())
        )]
    );
}

#[test]
fn a_subchart_map_is_not_where_a_key_of_the_chart_moved() {
    // langfuse 1.5.18: the chart's own ingress is `langfuse.ingress`; `clickhouse` (a bitnami subchart) and
    // `postgresql` have their own
    let d = json!({
        "langfuse": {"ingress": {"enabled": false, "hosts": []}, "replicas": 1},
        "clickhouse": {"ingress": {"enabled": false}, "shards": 1},
        "postgresql": {"ingress": {"enabled": false}},
    });
    let subcharts = ["clickhouse".to_string(), "postgresql".to_string()];
    assert_eq!(
        suggested(json!({"ingress": {"enabled": true}}), &d, &subcharts),
        [("ingress".to_string(), Some("langfuse.ingress".to_string()))]
    );
    // were only the subcharts to define it, nothing is suggested
    let d = json!({"langfuse": {"replicas": 1}, "clickhouse": {"ingress": {"enabled": false}}});
    assert_eq!(
        suggested(json!({"ingress": {"enabled": true}}), &d, &subcharts),
        [("ingress".to_string(), None)]
    );
    // below the top level a map named like a subchart is the chart's own
    let d = json!({"server": {"clickhouse": {"ingress": {}}}});
    assert_eq!(
        suggested(json!({"server": {"ingress": {"a": 1}}}), &d, &subcharts),
        [(
            "server.ingress".to_string(),
            Some("clickhouse.ingress".to_string())
        )]
    );
}

#[test]
fn a_boolean_switch_is_never_moved_nor_renamed_to_a_key_it_contains() {
    // kube-prometheus-stack 81.1.0: `kube-state-metrics.enabled` is read by nothing (the toggle is the parent's
    // `kubeStateMetrics.enabled`); the subchart's only `enabled` one level down is autosharding's, which following
    // the move would turn on. Same for prometheus-node-exporter's `hostRootFsMount.enabled`.
    let d = json!({
        "kubeStateMetrics": {"enabled": true},
        "kube-state-metrics": {"autosharding": {"enabled": false}, "replicas": 1},
        "prometheus-node-exporter": {"hostRootFsMount": {"enabled": true}, "hostNetwork": true},
    });
    let subcharts = [
        "kube-state-metrics".to_string(),
        "prometheus-node-exporter".to_string(),
    ];
    assert_eq!(
        suggested(
            json!({"kube-state-metrics": {"enabled": false}, "prometheus-node-exporter": {"enabled": false}}),
            &d,
            &subcharts
        ),
        [
            ("kube-state-metrics.enabled".to_string(), None),
            ("prometheus-node-exporter.enabled".to_string(), None)
        ]
    );
    // `metricsEnabled` is not the map's `enabled`; a typo of a switch at its own level still is
    let d = json!({"enabled": false, "metrics": {"enabled": false}});
    assert_eq!(
        suggested(json!({"metricsEnabled": true, "enabeld": true}), &d, &[]),
        [
            ("enabeld".to_string(), Some("enabled".to_string())),
            ("metricsEnabled".to_string(), None)
        ]
    );
}

#[test]
fn a_key_the_users_map_already_holds_is_never_suggested() {
    // loki 6.49.0: `bloomCompactor` is gone; it contains `compactor`, which the user sets beside it
    let d = json!({"compactor": {"replicas": 0}, "indexGateway": {"replicas": 0}});
    assert_eq!(
        suggested(
            json!({"compactor": {"replicas": 1}, "bloomCompactor": {"replicas": 1}}),
            &d,
            &[]
        ),
        [("bloomCompactor".to_string(), None)]
    );
    // without the user's own `compactor` the suggestion stands
    assert_eq!(
        suggested(json!({"bloomCompactor": {"replicas": 1}}), &d, &[]),
        [("bloomCompactor".to_string(), Some("compactor".to_string()))]
    );
    // a typo whose fix the user already has, and a move to a key the user already set there
    let d = json!({"securityContext": {}, "probes": {"livenessProbe": {}}});
    assert_eq!(
        suggested(
            json!({"securityContext": {}, "securityContex": {}, "probes": {"livenessProbe": {}}, "livenessProbe": {}}),
            &d,
            &[]
        ),
        [
            ("livenessProbe".to_string(), None),
            ("securityContex".to_string(), None)
        ]
    );
}

#[test]
fn two_keys_equally_close_get_no_guess() {
    let d = json!({"replicas": 1, "replicaz": 1, "extraArgs": [], "args": [], "volumeArgs": []});
    // `replicax` is one edit from both
    assert_eq!(
        suggested(json!({"replicax": 2}), &d, &[]),
        [("replicax".to_string(), None)]
    );
    // the longest contained key is the one meant; two of the same length are not told apart
    let d = json!({"mounts": [], "volumes": [], "volumeMounts": []});
    assert_eq!(
        suggested(json!({"extraVolumeMounts": []}), &d, &[]),
        [(
            "extraVolumeMounts".to_string(),
            Some("volumeMounts".to_string())
        )]
    );
    let d = json!({"nodePort": 0, "portName": ""});
    assert_eq!(
        suggested(json!({"nodePortName": "http"}), &d, &[]),
        [("nodePortName".to_string(), None)]
    );
}

#[test]
fn a_moved_key_names_its_new_home() {
    // Headlamp chart 0.43.0 and later: the probes live under `probes:`
    let dir = crate::chart::bundled_charts_dir().expect("data/upstream/charts");
    let chart = crate::chart::read_chart(&dir.join("headlamp-0.45.0.tgz")).expect("chart");
    let values = json!({"livenessProbe": {"initialDelaySeconds": 30}});
    let c = unused_candidates(
        &values,
        &chart.defaults,
        chart.schema.as_ref(),
        &chart.subchart_keys,
    );
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].suggestion.as_deref(), Some("probes.livenessProbe"));
}

#[test]
fn passed_through_keys_are_recognised_with_their_parent_map() {
    let values = json!({"securityContext": {"readOnlyRootFilesystem": true}});
    let path = vec![
        "securityContext".to_string(),
        "readOnlyRootFilesystem".to_string(),
    ];
    // `toYaml .Values.securityContext`: the chart's default runAsNonRoot and the user's key together
    let out = json!({"spec": {"containers": [{"securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true}}]}});
    assert!(passed_through(&path, &values, &defaults(), &[&out]));
    let other = json!({"spec": {"containers": [{"securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": false}}]}});
    assert!(!passed_through(&path, &values, &defaults(), &[&other]));
    // the key and value alone, without the rest of its map: a coincidence, not proof
    let alone =
        json!({"spec": {"containers": [{"securityContext": {"readOnlyRootFilesystem": true}}]}});
    assert!(!passed_through(&path, &values, &defaults(), &[&alone]));
}

#[test]
fn a_top_level_value_equal_to_a_hard_coded_one_is_not_proof() {
    // chart 0.41.0 hard-codes this probe in templates/deployment.yaml; `livenessProbe` is no value of it
    let values = json!({"livenessProbe": {"httpGet": {"path": "/", "port": "http"}}});
    let out = json!({"spec": {"containers": [{"livenessProbe": {"httpGet": {"path": "/", "port": "http"}}}]}});
    assert!(!passed_through(
        &["livenessProbe".to_string()],
        &values,
        &defaults(),
        &[&out]
    ));
}

#[test]
fn list_items_are_compared_with_the_default_item() {
    let d = json!({"ingress": {"hosts": [{"host": "x", "paths": []}]}, "env": []});
    let schema = json!({"properties": {"env": {"type": "array", "items": {"properties": {"name": {}, "value": {}}}}}});
    let values = json!({
        "ingress": {"hosts": [{"host": "a"}, {"hots": "b", "paths": []}]},
        "env": [{"name": "A", "valu": "1"}],
    });
    let c = unused_candidates(&values, &d, Some(&schema), &[]);
    assert_eq!(paths(&c), ["env[0].valu", "ingress.hosts[1].hots"]);
    assert_eq!(c[0].suggestion.as_deref(), Some("value"));
    let mut v = values.clone();
    remove_path(&mut v, &c[1].path);
    assert_eq!(v["ingress"]["hosts"][1], json!({"paths": []}));
    assert_eq!(get_path(&values, &c[0].path), Some(&json!("1")));
}

#[test]
fn remove_path_removes_only_that_key() {
    let mut v = json!({"a": {"b": 1, "c": 2}});
    remove_path(&mut v, &["a".into(), "b".into()]);
    assert_eq!(v, json!({"a": {"c": 2}}));
    remove_path(&mut v, &["x".into(), "y".into()]);
    assert_eq!(v, json!({"a": {"c": 2}}));
}

#[test]
fn perturbed_changes_every_scalar_and_keeps_the_shape() {
    assert_eq!(
        perturbed(&json!("{{ .Release.Namespace }}")),
        Some(json!("{{ .Release.Namespace }}-lintprobe"))
    );
    assert_eq!(perturbed(&json!(2)), Some(json!(3)));
    assert_eq!(perturbed(&json!(true)), Some(json!(false)));
    assert_eq!(
        perturbed(&json!({"name": "svc", "port": {"number": 80}, "x": null})),
        Some(json!({"name": "svc-lintprobe", "port": {"number": 81}, "x": null}))
    );
    assert_eq!(perturbed(&json!({})), None);
    assert_eq!(perturbed(&json!([])), None);
    assert_eq!(perturbed(&Value::Null), None);
}

#[test]
fn a_baseline_masks_only_the_lines_that_change_on_their_own() {
    let first = "kind: Secret\npassword: abc\nreplicas: 1\n";
    let second = "kind: Secret\npassword: xyz\nreplicas: 1\n";
    let b = Baseline::new(first, second).expect("same layout");
    assert!(b.same("kind: Secret\npassword: qqq\nreplicas: 1\n"));
    assert!(!b.same("kind: Secret\npassword: qqq\nreplicas: 2\n"));
    assert!(!b.same("kind: Secret\npassword: qqq\n"));
    let exact = Baseline::new(first, first).expect("identical");
    assert!(exact.same(first) && !exact.same(second));
    // random parts that change the number of lines cannot be lined up: nothing is proved
    assert!(Baseline::new(first, "kind: Secret\n").is_none());
}

#[test]
fn keys_of_bare_object_list_items_are_candidates() {
    // Headlamp chart 0.40.0: ingress.hosts[].paths[] has the item schema {"type": "object"}; the template reads
    // `.path` and `.type`, so `service` (a common mistake) is ignored
    let dir = crate::chart::bundled_charts_dir().expect("data/upstream/charts");
    let chart = crate::chart::read_chart(&dir.join("headlamp-0.40.0.tgz")).expect("chart");
    let values = json!({"ingress": {"enabled": true, "hosts": [{"host": "h.example", "paths": [
        {"path": "/", "type": "Prefix", "service": {"name": "other", "port": {"number": 8080}}}
    ]}]}});
    let c = unused_candidates(
        &values,
        &chart.defaults,
        chart.schema.as_ref(),
        &chart.subchart_keys,
    );
    assert!(
        paths(&c).contains(&"ingress.hosts[0].paths[0].service".to_string()),
        "{:?}",
        paths(&c)
    );
    // `host` is named by the schema: not a candidate
    assert!(!paths(&c).contains(&"ingress.hosts[0].host".to_string()));
}

/// The release `headlamp` of `chart` with `values_yaml`, rendered: its unused values as dotted paths, and
/// its problems' rules. `None` (a skip) without helm.
async fn probe(
    chart: crate::chart::Chart,
    values_yaml: &str,
) -> Option<(Vec<String>, Vec<String>)> {
    let (helm, _) = crate::chart::testing::render_tools("headlamp", "0.41.0")?;
    let mut r = crate::rules::input::testutil::helmrelease(values_yaml);
    r.chart_name = chart.name.clone();
    let r = crate::engine::pipeline::render_release_with(r, chart, &helm)
        .await
        .expect("the user's values render");
    Some((
        r.unused_values.iter().map(|u| dotted(&u.path)).collect(),
        r.problems.iter().map(|f| f.rule.clone()).collect(),
    ))
}

#[tokio::test]
async fn a_key_read_with_tpl_that_renders_like_the_default_is_not_unknown() {
    // issue 19 cause 1: reloader `podMonitor.namespace: "{{ .Release.Namespace }}"` renders what the chart
    // renders without it; changed, it moves the object
    let (_dir, chart) = crate::chart::test_charts::pack("tpl-namespace", &[]);
    let Some((unused, problems)) = probe(
        chart,
        "reloader:\n  podMonitor:\n    enabled: true\n    namespace: \"{{ .Release.Namespace }}\"\n    nameSpace: typo",
    )
    .await
    else {
        return;
    };
    assert_eq!(unused, vec!["reloader.podMonitor.nameSpace"]);
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn a_probe_render_that_fails_means_the_key_is_read() {
    // issue 19 cause 3: without `servers` the chart's `required` fails; the user's values render
    let (_dir, chart) = crate::chart::test_charts::pack("required-servers", &[]);
    let Some((unused, problems)) =
        probe(chart, "servers:\n- zone: .\n  port: 53\nserverz: []").await
    else {
        return;
    };
    assert_eq!(unused, vec!["serverz"]);
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn random_output_neither_hides_nor_invents_unknown_keys() {
    // issue 19 cause 2: a grafana subchart whose Secret is randAlphaNum per render; `grafana.replicas` is the
    // subchart's, `grafana.replica` is read by nothing
    let (_dir, chart) = crate::chart::test_charts::pack("random-secret", &[]);
    let Some((unused, problems)) = probe(chart, "grafana:\n  replicas: 2\n  replica: 3").await
    else {
        return;
    };
    assert_eq!(unused, vec!["grafana.replica"]);
    assert!(problems.is_empty(), "{problems:?}");
}

/// Issue 19: a chart whose output changes its number of lines per render cannot be masked line by line, so no
/// key it does not define can be proved unread; they were skipped in silence. They are one `info` note naming
/// the chart and the keys (never an error). Two renders have the same number of lines once in a thousand
/// (`random-lines`): then the random lines are masked and the unread key is proved, as for `random-secret`.
#[tokio::test]
async fn random_output_that_cannot_be_masked_is_one_note_naming_the_keys() {
    let (_dir, chart) = crate::chart::test_charts::pack("random-lines", &[]);
    let Some((helm, _)) = crate::chart::testing::render_tools("headlamp", "0.41.0") else {
        return;
    };
    let mut r =
        crate::rules::input::testutil::helmrelease("replicas: 2\nreplica: 3\nextra: {a: 1}");
    r.chart_name = chart.name.clone();
    let r = crate::engine::pipeline::render_release_with(r, chart, &helm)
        .await
        .expect("the user's values render");
    let mut unchecked: Vec<String> = r.unchecked_values.iter().map(|p| dotted(p)).collect();
    let mut unused: Vec<String> = r.unused_values.iter().map(|u| dotted(&u.path)).collect();
    unchecked.sort();
    unused.sort();
    let input = LintInput {
        releases: vec![r],
        ..Default::default()
    };
    let notes = check_unchecked(&input);
    if unchecked.is_empty() {
        // the one render in a thousand with the same number of lines: masked, proved
        assert_eq!(unused, ["extra", "replica"]);
        assert!(notes.is_empty(), "{notes:#?}");
        return;
    }
    assert_eq!(unchecked, ["extra", "replica"]);
    assert!(unused.is_empty(), "{unused:?}");
    assert!(check(&input).is_empty());
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(notes[0].severity, Severity::Info);
    assert_eq!(notes[0].rule, UNCHECKED_RULE);
    assert!(
        notes[0].message.contains("chart random-lines 0.1.0")
            && notes[0].message.contains("`extra`")
            && notes[0].message.contains("`replica`"),
        "{}",
        notes[0].message
    );
}

/// Issue 19 (talos-cluster): the keys are unread, and the fix names the chart's own home of a moved key, or none
/// when the chart has no single one: `ingress` is the chart's `web.ingress` (not the subchart's), `service.port`
/// could be either port, and a boolean switch under a subchart is not moved to the subchart's only `enabled`.
#[tokio::test]
async fn a_fix_names_the_charts_own_home_or_none() {
    let (_dir, chart) = crate::chart::test_charts::pack("moved-keys", &[]);
    assert_eq!(chart.subchart_keys, ["state-metrics"]);
    let Some((helm, _)) = crate::chart::testing::render_tools("headlamp", "0.41.0") else {
        return;
    };
    let mut r = crate::rules::input::testutil::helmrelease(
        "ingress:\n  enabled: true\nservice:\n  port: 9000\nstate-metrics:\n  enabled: false\n",
    );
    r.chart_name = chart.name.clone();
    let r = crate::engine::pipeline::render_release_with(r, chart, &helm)
        .await
        .expect("the user's values render");
    let input = LintInput {
        releases: vec![r],
        ..Default::default()
    };
    let mut fixes: Vec<(String, String)> = check(&input)
        .into_iter()
        .map(|f| (f.path.clone(), f.fix.clone()))
        .collect();
    fixes.sort();
    let remove = |k: &str| {
        format!(
            "remove `{k}`, or look up the chart's values: helm show values moved-keys --version 0.1.0"
        )
    };
    assert_eq!(
        fixes,
        [
            (
                "ingress".to_string(),
                "move `ingress` to `web.ingress`".to_string()
            ),
            ("service.port".to_string(), remove("service.port")),
            (
                "state-metrics.enabled".to_string(),
                remove("state-metrics.enabled")
            ),
        ]
    );
}

#[tokio::test]
async fn an_ignored_key_in_a_bare_object_list_item_is_reported() {
    // issue 19 cause 8 (first item), the real chart: Headlamp 0.40.0 ignores ingress.hosts[].paths[].service
    let dir = crate::chart::bundled_charts_dir().expect("data/upstream/charts");
    let chart = crate::chart::read_chart(&dir.join("headlamp-0.40.0.tgz")).expect("chart");
    let Some((unused, _)) = probe(
        chart,
        "ingress:\n  enabled: true\n  hosts:\n  - host: headlamp.example\n    paths:\n    - path: /\n      type: Prefix\n      service: {name: other, port: {number: 8080}}",
    )
    .await
    else {
        return;
    };
    assert_eq!(unused, vec!["ingress.hosts[0].paths[0].service"]);
}

#[test]
fn a_key_under_a_subchart_is_judged_by_the_subchart_defaults() {
    // issue 19 cause 2: kube-prometheus-stack's `grafana:` is the grafana subchart's values
    let (_dir, chart) = crate::chart::test_charts::pack("random-secret", &[]);
    let values = json!({"grafana": {"replicas": 2, "replica": 3, "adminPassword": "x"}});
    let c = unused_candidates(
        &values,
        &chart.defaults,
        chart.schema.as_ref(),
        &chart.subchart_keys,
    );
    assert_eq!(paths(&c), vec!["grafana.replica"]);
    // the user sets `replicas` beside it: renaming would write it twice, so no rename is suggested
    assert_eq!(c[0].suggestion, None);
    let c = unused_candidates(
        &json!({"grafana": {"replica": 3}}),
        &chart.defaults,
        chart.schema.as_ref(),
        &chart.subchart_keys,
    );
    assert_eq!(c[0].suggestion.as_deref(), Some("replicas"));
    // the subchart's values are under its name, not the chart's own
    assert_eq!(chart.subchart_keys, ["grafana"]);
    // the parent's own `grafana:` keys stay, over the subchart's
    assert_eq!(chart.defaults["grafana"]["enabled"], json!(true));
    assert_eq!(chart.defaults["grafana"]["adminUser"], json!("admin"));
    // under an alias the subchart's values live under the alias
    let aliased = "apiVersion: v2\nname: random-secret\nversion: 0.1.0\ndependencies:\n  - {name: grafana, version: 0.1.0, alias: dashboards}\n";
    let (_dir2, chart) =
        crate::chart::test_charts::pack("random-secret", &[("Chart.yaml", aliased)]);
    assert_eq!(chart.defaults["dashboards"]["replicas"], json!(1));
    assert_eq!(chart.subchart_keys, ["dashboards"]);
    let values = json!({"dashboards": {"replicas": 2}});
    assert!(
        unused_candidates(
            &values,
            &chart.defaults,
            chart.schema.as_ref(),
            &chart.subchart_keys
        )
        .is_empty()
    );
}
