//! Hostile inputs to the parsers (issue 23, items 5, 6 and 8): the YAML reader, object identity, Flux substitution
//! and Helm's `--set` parser. Each input gets a bounded answer in the parser's or go-yaml's words, never a crash:
//! the deep ones run on a thread with a small stack, so a recursion per level would overflow it and fail the test.
//! No timing assertion: time and memory are held to their bounds by `cargo xtask bench-hostile` (cases_yaml.rs).

use std::collections::BTreeMap;

use headlamp_e2e::gitops::{self, Object, identity, substitute};
use headlamp_e2e::lint::strvals;
use headlamp_e2e::yaml::{self, MAX_ALIAS_EXPANSION};
use serde_json::{Map, Value, json};

/// Run `f` on a thread with a 1 MiB stack (half a default thread's): a recursion per nesting level of a hostile
/// input (thousands of levels) overflows it (the process aborts and the test fails).
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn duplicate_keys_among_many_are_found_with_go_yaml_s_words() {
    // 100k keys, the duplicate pair far apart: found in one pass (the old check compared every pair)
    let mut text = String::from("data:\n");
    for i in 0..100_000 {
        text.push_str(&format!("  k{i}: v\n"));
    }
    text.push_str("  k7: again\n");
    let e = yaml::parse_documents(&text).unwrap_err();
    assert_eq!(e.message, "mapping key \"k7\" already defined at line 9");
    assert_eq!(e.line, 100_002);
    // go-yaml reports the pair with the earliest first key, then the earliest second one
    let e = yaml::parse_documents("b: 1\na: 1\nb: 2\na: 2\n").unwrap_err();
    assert_eq!(
        (e.line, e.message.as_str()),
        (3, "mapping key \"b\" already defined at line 1")
    );
    let e = yaml::parse_documents("a: 1\nb: 1\nb: 2\na: 2\n").unwrap_err();
    assert_eq!(
        (e.line, e.message.as_str()),
        (4, "mapping key \"a\" already defined at line 1")
    );
    // 100k distinct keys are read
    let ok = text.replace("  k7: again\n", "");
    let docs = yaml::parse_documents(&ok).unwrap();
    assert_eq!(docs[0]["data"].as_object().unwrap().len(), 100_000);
}

#[test]
fn alias_expansion_past_its_bytes_is_refused_at_the_first_alias() {
    // a 64 KiB scalar aliased 300 times: 19 MiB of copies (go-yaml's node ratio lets it through)
    let mut text = format!("big: &a \"{}\"\nlist:\n", "x".repeat(64 * 1024));
    for _ in 0..300 {
        text.push_str("- *a\n");
    }
    let e = yaml::parse_documents(&text).unwrap_err();
    assert_eq!((e.line, e.column), (3, 3), "{e}");
    assert!(
        e.message.contains(&format!(
            "aliases expand to more than {} MiB",
            MAX_ALIAS_EXPANSION >> 20
        )),
        "{e}"
    );
    // under the bound: expanded as before
    let small = text.replace(&"x".repeat(64 * 1024), "x");
    let docs = yaml::parse_documents(&small).unwrap();
    assert_eq!(docs[0]["list"].as_array().unwrap().len(), 300);
    assert_eq!(docs[0]["list"][299], "x");
}

#[test]
fn deep_flow_nesting_is_an_error_not_an_overflow() {
    let e = small_stack(|| {
        let n = 100_000;
        let text = format!("x: {}{}\n", "[".repeat(n), "]".repeat(n));
        yaml::parse_documents(&text).unwrap_err()
    });
    // saphyr-parser stops flow nesting first (go-yaml at 10000, `scannerc.go` `max_flow_level`)
    assert!(
        e.message.contains("recursion limit exceeded")
            || e.message.contains("exceeded max depth of"),
        "{e}"
    );
    // block nesting past the bound: the reader's own bound
    let e = small_stack(|| {
        let text: String = (0..yaml::MAX_DEPTH + 5)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect();
        yaml::parse_documents(&text).unwrap_err()
    });
    assert!(e.message.contains("exceeded max depth of"), "{e}");
    // and a nesting just under the bound decodes on a small stack (the big-files parser runs on a default thread)
    let docs = small_stack(|| {
        let n = yaml::MAX_DEPTH - 2;
        let text: String = (0..n).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
        yaml::parse_documents(&text).map(|d| d.len())
    });
    assert_eq!(docs, Ok(1));
}

#[test]
fn encodings_as_go_yaml_reads_them() {
    // not UTF-8: go-yaml's reader error, at the line and column of the byte
    let e = yaml::parse_bytes(b"a: 1\nb: caf\xe9 ok\n").unwrap_err();
    assert_eq!((e.line, e.column), (2, 7), "{e}");
    assert!(e.message.starts_with("invalid trailing UTF-8 octet"), "{e}");
    assert!(e.message.contains("not UTF-8"), "{e}");
    let e = yaml::parse_bytes(b"a: \xc3").unwrap_err();
    assert!(
        e.message.starts_with("incomplete UTF-8 octet sequence"),
        "{e}"
    );
    let e = yaml::parse_bytes(b"a: \x80").unwrap_err();
    assert!(e.message.starts_with("invalid leading UTF-8 octet"), "{e}");
    // UTF-16 with a byte order mark, both orders, and a UTF-8 BOM
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: é}\n";
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    let utf8_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    for bytes in [le.clone(), be, utf8_bom] {
        let docs = yaml::parse_bytes(&bytes).unwrap();
        assert_eq!(docs[0]["metadata"]["name"], "é");
    }
    // a lone byte at the end of UTF-16, and a lone surrogate
    let mut odd = le.clone();
    odd.push(b'x');
    assert!(
        yaml::parse_bytes(&odd)
            .unwrap_err()
            .message
            .starts_with("incomplete UTF-16 character")
    );
    let mut lone = vec![0xFF, 0xFE];
    lone.extend([0x00, 0xDC]);
    assert!(
        yaml::parse_bytes(&lone)
            .unwrap_err()
            .message
            .starts_with("unexpected low surrogate area")
    );
}

#[test]
fn a_bom_starting_a_later_document_is_skipped_as_go_yaml_skips_it() {
    let text = "\u{FEFF}a: 1\n---\n\u{FEFF}b: 2\n---\n\u{FEFF}---\nc: 3\n";
    let docs = yaml::parse_documents(text).unwrap();
    assert_eq!(docs, [json!({"a": 1}), json!({"b": 2}), json!({"c": 3})]);
}

fn object(i: usize, name: &str, data: &str) -> Object {
    Object::plain(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "a"}, "data": {"k": data}}),
        format!("f{i}.yaml"),
    )
}

#[test]
fn dedup_of_many_objects_keeps_each_content_once() {
    // 20k objects: 10k names each twice with the same content, and 5k more of one name with different content
    let mut objects: Vec<Object> = (0..20_000)
        .map(|i| object(i, &format!("cm{}", i % 10_000), "same"))
        .collect();
    objects.extend((0..5_000).map(|i| object(i, "one", &format!("v{i}"))));
    objects.push(object(0, "one", "v17"));
    identity::dedup(&mut objects);
    assert_eq!(objects.len(), 15_000);
    // the first of each is kept, in order
    assert_eq!(objects[0].file.to_str(), Some("f0.yaml"));
    assert_eq!(objects[10_000].value["data"]["k"], "v0");
}

fn vars(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn substitution_nested_5000_deep_is_refused_without_overflow() {
    let e = small_stack(|| {
        let n = 5000;
        let text = format!("{}x{}", "${a:=".repeat(n), "}".repeat(n));
        substitute::eval(&text, &vars(&[("a", "1".into())])).unwrap_err()
    });
    assert!(
        e.contains(&format!(
            "nested more than {} deep",
            substitute::MAX_NESTING
        )),
        "{e}"
    );
    assert!(e.contains("lint's bound"), "{e}");
    // at the bound: evaluated, on the same small stack
    let out = small_stack(|| {
        let n = substitute::MAX_NESTING;
        let text = format!("{}x{}", "${B:=".repeat(n), "}".repeat(n));
        substitute::eval(&text, &vars(&[])).unwrap().text
    });
    assert_eq!(out, "x");
}

#[test]
fn trimming_with_200k_stars_or_a_backtracking_pattern_is_linear() {
    let out = small_stack(|| {
        let text = format!("${{X#{}}}", "*".repeat(200_000));
        substitute::eval(&text, &vars(&[("X", "abc".into())]))
            .unwrap()
            .text
    });
    // `*` matches any prefix: the shortest non-empty one goes
    assert_eq!(out, "bc");
    let x = "a".repeat(3000);
    let pattern = format!("{}b", "*a".repeat(30));
    let r = substitute::eval(&format!("${{X##{pattern}}}"), &vars(&[("X", x.clone())])).unwrap();
    assert_eq!(r.text, x);
    let r = substitute::eval("${X##*a}", &vars(&[("X", format!("{x}b"))])).unwrap();
    assert_eq!(r.text, "b");
    // a `/` stops a star, as in Go's path.Match
    let r = substitute::eval("${X#*/}", &vars(&[("X", "a/b/c".into())])).unwrap();
    assert_eq!(r.text, "b/c");
    let r = substitute::eval("${X##*/}", &vars(&[("X", "a/b/c".into())])).unwrap();
    assert_eq!(r.text, "b/c");
    let r = substitute::eval("${X%%/*}", &vars(&[("X", "a/b/c".into())])).unwrap();
    assert_eq!(r.text, "a/b");
}

#[test]
fn a_replacement_that_grows_past_the_bound_is_refused_before_it_is_built() {
    let v = vars(&[("X", "a".repeat(50_000)), ("Y", "b".repeat(50_000))]);
    let e = substitute::eval("${X//a/${Y}}", &v).unwrap_err();
    assert!(e.contains("over 16 MiB"), "{e}");
    assert!(e.contains("lint's bound"), "{e}");
    // a small one is done
    let v = vars(&[("X", "aXa".into()), ("Y", "bb".into())]);
    assert_eq!(substitute::eval("${X//a/${Y}}", &v).unwrap().text, "bbXbb");
}

fn set(paths: &[String]) -> Result<Value, String> {
    let mut m = Map::new();
    for p in paths {
        strvals::parse_into(&format!("{p}=x"), &mut m, false)?;
    }
    Ok(Value::Object(m))
}

#[test]
fn target_paths_deep_or_wide_are_bounded() {
    let e = small_stack(|| set(&[format!("a{}", "[0]".repeat(100_000))]).unwrap_err());
    assert!(e.contains("more than 100 list indexes"), "{e}");
    let e = small_stack(|| set(&[format!("a{}", "[0].b".repeat(100_000))]).unwrap_err());
    assert!(
        e.contains("more than 100 list indexes") || e.contains("nested level"),
        "{e}"
    );
    // Helm's own bound on one index, in Helm's words
    let e = set(&["a[65537]".to_string()]).unwrap_err();
    assert_eq!(
        e,
        "index of 65537 is greater than maximum supported index of 65536"
    );
    // one a[65536] is Helm's and fine; a hundred are past the bound on all lists
    let v = set(&["a[65536]".to_string()]).unwrap();
    assert_eq!(v["a"].as_array().unwrap().len(), 65537);
    let paths: Vec<String> = (0..100).map(|i| format!("a{i}[65536]")).collect();
    let e = set(&paths).unwrap_err();
    assert!(e.contains("more than 262144 list elements"), "{e}");
    // nesting at the bound works, on the same small stack
    let v = small_stack(|| {
        set(&[format!(
            "a{}",
            "[0]".repeat(strvals::MAX_NESTED_INDEX_LEVEL)
        )])
        .unwrap()
    });
    assert!(v["a"].is_array());
}

#[test]
fn a_tree_with_unreadable_files_still_loads_the_others() {
    let d = tempfile::tempdir().unwrap();
    let w = |rel: &str, bytes: &[u8]| {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    let cm = |name: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: a}}\n")
    };
    w(
        "apps/latin1.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
    );
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(cm("utf16").encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    w("apps/utf16.yaml", &utf16);
    w(
        "apps/concat.yaml",
        format!("{}---\n\u{FEFF}{}", cm("first"), cm("second")).as_bytes(),
    );
    let mut dup = cm("dups");
    dup.push_str("data:\n");
    for i in 0..50_000 {
        dup.push_str(&format!("  k{i}: v\n"));
    }
    dup.push_str("  k1: again\n");
    w("apps/dups.yaml", dup.as_bytes());
    let t = gitops::load_each(d.path()).unwrap();
    let mut names: Vec<&str> = t.objects.iter().map(|o| o.name()).collect();
    names.sort();
    assert_eq!(names, ["first", "second", "utf16"]);
    let mut bad: Vec<String> = t.unreadable.iter().map(|e| e.to_string()).collect();
    bad.sort();
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad[0].contains("apps/dups.yaml"), "{bad:?}");
    assert!(
        bad[0].contains("mapping key \"k1\" already defined at line 6"),
        "{bad:?}"
    );
    assert!(bad[1].contains("apps/latin1.yaml"), "{bad:?}");
    assert!(bad[1].contains("not UTF-8"), "{bad:?}");
}

#[test]
fn a_file_past_the_node_bound_is_refused_with_the_bound_s_words() {
    let n = yaml::MAX_NODES + 10;
    let mut text = String::with_capacity(2 * n + 8);
    text.push_str("x: [");
    for _ in 0..n {
        text.push_str("a,");
    }
    text.push_str("]\n");
    let e = yaml::parse_documents(&text).unwrap_err();
    assert!(
        e.message
            .contains(&format!("more than {} YAML nodes", yaml::MAX_NODES)),
        "{e}"
    );
    // just under it: read
    let under = format!("x: [{}]\n", "a,".repeat(yaml::MAX_NODES - 10));
    assert_eq!(
        yaml::parse_documents(&under).unwrap()[0]["x"]
            .as_array()
            .unwrap()
            .len(),
        yaml::MAX_NODES - 10
    );
}
