//! Helm's `--set` parser (`strvals.ParseInto` / `ParseIntoString`), which helm-controller uses to put a
//! `valuesFrom[].targetPath` value into the values (`internal/chartutil/values.go` `ReplacePathValue`).
//!
//! A port of helm/helm `pkg/strvals/parser.go` (the `key`, `listItem`, `valList`, `val`, `runesUntil`, `typedVal`
//! and `setIndex` functions): `a.b[0].c=v`, `\` escapes the next character, `{x,y}` is a list, a `,` ends a value
//! (what follows is parsed as the next `key=value`), and `typedVal` turns `true`/`false`/`null` (any case) and
//! decimal integers not starting with `0` into typed values. Go panics on a type clash (`a.b` where `a` is a string)
//! are recovered there as `unable to parse key: …`; here they are that error.

use serde_json::{Map, Value};

/// `MaxIndex` and `MaxNestedNameLevel` of parser.go (helm/helm `pkg/strvals/parser.go`: "MaxIndex is the maximum
/// index that will be allowed by setIndex", 65536; "MaxNestedNameLevel", 30).
pub const MAX_INDEX: i64 = 65536;
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// Deepest nesting of list indexes in one path (`a[0][0]…`): 100. Helm counts only `.` levels against
/// `MaxNestedNameLevel` and recurses once per `[i]` (Go's stack grows); here each level is a frame on a fixed stack,
/// so a deeper path is refused with these words. No chart's values nest lists this deep.
pub const MAX_NESTED_INDEX_LEVEL: usize = 100;

/// The most list elements the values may hold after a `targetPath` is set: 262144 (4 × `MaxIndex`). Helm bounds one
/// index (`a[65536]` is fine), not their sum: a hundred such paths in one HelmRelease are 6.5 million elements,
/// written out for `helm template` and read back by it. Real values hold a few hundred.
pub const MAX_LIST_ELEMENTS: usize = 4 * MAX_INDEX as usize;

#[derive(Debug)]
enum PErr {
    Eof,
    NotList,
    Msg(String),
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    /// `ParseIntoString`: every value stays a string.
    strings: bool,
    /// `[i]` levels of the path being read ([`MAX_NESTED_INDEX_LEVEL`]).
    index_level: usize,
    /// List elements this parse may still add ([`MAX_LIST_ELEMENTS`]).
    list_budget: usize,
}

/// Whether `s` has an index of three digits or more (`[100]`): only such a path can grow the values' lists by much,
/// and only then are the values' lists counted against [`MAX_LIST_ELEMENTS`].
fn has_big_index(s: &str) -> bool {
    s.split('[')
        .skip(1)
        .any(|rest| rest.bytes().take_while(u8::is_ascii_digit).count() >= 3)
}

/// The elements of every list in `v`, nested ones included.
fn list_elements(v: &Map<String, Value>) -> usize {
    let mut n = 0;
    let mut stack: Vec<&Value> = v.values().collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => {
                n += a.len();
                stack.extend(a);
            }
            Value::Object(m) => stack.extend(m.values()),
            _ => {}
        }
    }
    n
}

/// `strvals.ParseInto(s, dest)` (`strings == false`) or `strvals.ParseIntoString(s, dest)` (`strings == true`).
pub fn parse_into(s: &str, dest: &mut Map<String, Value>, strings: bool) -> Result<(), String> {
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
        strings,
        index_level: 0,
        list_budget: if has_big_index(s) {
            MAX_LIST_ELEMENTS.saturating_sub(list_elements(dest))
        } else {
            usize::MAX
        },
    };
    loop {
        match p.key(dest, 0) {
            Ok(()) => continue,
            Err(PErr::Eof) => return Ok(()),
            Err(PErr::NotList) => return Err("not a list".into()),
            Err(PErr::Msg(m)) => return Err(m),
        }
    }
}

fn set(data: &mut Map<String, Value>, key: &str, val: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), val);
    }
}

/// `setIndex`; a list that would grow past the parse's share of [`MAX_LIST_ELEMENTS`] is refused before it grows.
fn set_index(
    mut list: Vec<Value>,
    index: i64,
    val: Value,
    budget: &mut usize,
) -> Result<Vec<Value>, PErr> {
    if index < 0 {
        return Err(PErr::Msg(format!("negative {index} index not allowed")));
    }
    if index > MAX_INDEX {
        return Err(PErr::Msg(format!(
            "index of {index} is greater than maximum supported index of {MAX_INDEX}"
        )));
    }
    let i = index as usize;
    let growth = (i + 1).saturating_sub(list.len());
    if growth > *budget {
        return Err(PErr::Msg(format!(
            "the values would hold more than {MAX_LIST_ELEMENTS} list elements (lint's bound on the lists that \
             targetPath indexes make; Helm's own is an index of at most {MAX_INDEX} per path)"
        )));
    }
    *budget -= growth;
    if list.len() <= i {
        list.resize(i + 1, Value::Null);
    }
    list[i] = val;
    Ok(list)
}

impl Parser {
    fn read(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }
    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// `runesUntil`: the characters up to one of `stop` (consumed), `\` escaping; `None` at the end of input.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut v = String::new();
        loop {
            match self.read() {
                None => return (v, None),
                Some(c) if stop.contains(&c) => return (v, Some(c)),
                Some('\\') => match self.read() {
                    None => return (v, None),
                    Some(n) => v.push(n),
                },
                Some(c) => v.push(c),
            }
        }
    }

    /// `typedVal`.
    fn typed(&self, v: &str) -> Value {
        if self.strings {
            return Value::String(v.to_string());
        }
        if v.eq_ignore_ascii_case("true") {
            return Value::Bool(true);
        }
        if v.eq_ignore_ascii_case("false") {
            return Value::Bool(false);
        }
        if v.eq_ignore_ascii_case("null") {
            return Value::Null;
        }
        if v == "0" {
            return Value::from(0i64);
        }
        if !v.is_empty()
            && !v.starts_with('0')
            && let Some(i) = go_parse_int(v)
        {
            return Value::from(i);
        }
        Value::String(v.to_string())
    }

    fn key(&mut self, data: &mut Map<String, Value>, level: usize) -> Result<(), PErr> {
        let (k, last) = self.until(&['=', '[', ',', '.']);
        match last {
            None if k.is_empty() => Err(PErr::Eof),
            None => Err(PErr::Msg(format!("key {k:?} has no value"))),
            Some('[') => {
                let i = self
                    .key_index()
                    .map_err(|e| PErr::Msg(format!("error parsing index: {}", msg(&e))))?;
                let list = match data.get(&k) {
                    None => Vec::new(),
                    Some(Value::Array(a)) => a.clone(),
                    Some(_) => {
                        return Err(PErr::Msg(format!(
                            "unable to parse key: interface conversion: {k:?} is not a list"
                        )));
                    }
                };
                let (list, res) = self.list_item(list, i, level);
                set(data, &k, Value::Array(list));
                res
            }
            Some('=') => match self.val_list() {
                Ok(vl) => {
                    set(data, &k, Value::Array(vl));
                    Ok(())
                }
                Err(PErr::Eof) => {
                    set(data, &k, Value::String(String::new()));
                    Err(PErr::Eof)
                }
                Err(PErr::NotList) => {
                    let (rs, _) = self.until(&[',']);
                    let v = self.typed(&rs);
                    set(data, &k, v);
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Some(',') => {
                set(data, &k, Value::String(String::new()));
                Err(PErr::Msg(format!(
                    "key {k:?} has no value (cannot end with ,)"
                )))
            }
            Some(_) => {
                // '.': a nested map
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(PErr::Msg(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )));
                }
                let mut inner = match data.get(&k) {
                    None => Map::new(),
                    Some(Value::Object(m)) => m.clone(),
                    Some(_) => {
                        return Err(PErr::Msg(format!(
                            "unable to parse key: interface conversion: {k:?} is not a map"
                        )));
                    }
                };
                let e = self.key(&mut inner, level);
                if e.is_ok() && inner.is_empty() {
                    return Err(PErr::Msg(format!("key map {k:?} has no value")));
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Object(inner));
                }
                e
            }
        }
    }

    fn key_index(&mut self) -> Result<i64, PErr> {
        let (v, last) = self.until(&[']']);
        if last.is_none() {
            return Err(PErr::Eof);
        }
        go_parse_int(&v)
            .ok_or_else(|| PErr::Msg(format!("strconv.Atoi: parsing {v:?}: invalid syntax")))
    }

    /// `listItem`, with [`MAX_NESTED_INDEX_LEVEL`] (every `[i]` of a path is one level of recursion, `a[0][0]` and
    /// `a[0].b[0]` alike).
    fn list_item(
        &mut self,
        list: Vec<Value>,
        i: i64,
        level: usize,
    ) -> (Vec<Value>, Result<(), PErr>) {
        if self.index_level >= MAX_NESTED_INDEX_LEVEL {
            return (
                list,
                Err(PErr::Msg(format!(
                    "more than {MAX_NESTED_INDEX_LEVEL} list indexes in one path (lint's bound on `[i][j]…`)"
                ))),
            );
        }
        self.index_level += 1;
        let r = self.list_item_inner(list, i, level);
        self.index_level -= 1;
        r
    }

    fn list_item_inner(
        &mut self,
        list: Vec<Value>,
        i: i64,
        level: usize,
    ) -> (Vec<Value>, Result<(), PErr>) {
        if i < 0 {
            return (
                list,
                Err(PErr::Msg(format!("negative {i} index not allowed"))),
            );
        }
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return (
                list,
                Err(PErr::Msg(format!(
                    "unexpected data at end of array index: {k:?}"
                ))),
            );
        }
        let done = |r: Result<Vec<Value>, PErr>, orig: Vec<Value>| match r {
            Ok(l) => (l, Ok(())),
            Err(e) => (orig, Err(e)),
        };
        match last {
            None => (list, Err(PErr::Eof)),
            Some('=') => match self.val_list() {
                Ok(vl) => done(
                    set_index(list.clone(), i, Value::Array(vl), &mut self.list_budget),
                    list,
                ),
                Err(PErr::Eof) => done(
                    set_index(
                        list.clone(),
                        i,
                        Value::String(String::new()),
                        &mut self.list_budget,
                    ),
                    list,
                ),
                Err(PErr::NotList) => {
                    let (rs, _) = self.until(&[',']);
                    let v = self.typed(&rs);
                    done(set_index(list.clone(), i, v, &mut self.list_budget), list)
                }
                Err(e) => (list, Err(e)),
            },
            Some('[') => {
                let next = match self.key_index() {
                    Ok(n) => n,
                    Err(e) => {
                        return (
                            list,
                            Err(PErr::Msg(format!("error parsing index: {}", msg(&e)))),
                        );
                    }
                };
                let current = match list.get(i as usize) {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a.clone(),
                    Some(_) => {
                        return (
                            list,
                            Err(PErr::Msg(
                                "unable to parse key: interface conversion: not a list".into(),
                            )),
                        );
                    }
                };
                let (list2, res) = self.list_item(current, next, level);
                if let Err(e) = res {
                    return (list, Err(e));
                }
                done(
                    set_index(list.clone(), i, Value::Array(list2), &mut self.list_budget),
                    list,
                )
            }
            Some(_) => {
                // '.': a map in the list
                let mut inner = match list.get(i as usize) {
                    Some(Value::Object(m)) => m.clone(),
                    _ => Map::new(),
                };
                if let Err(e) = self.key(&mut inner, level) {
                    return (list, Err(e));
                }
                done(
                    set_index(list.clone(), i, Value::Object(inner), &mut self.list_budget),
                    list,
                )
            }
        }
    }

    fn val_list(&mut self) -> Result<Vec<Value>, PErr> {
        match self.read() {
            None => return Err(PErr::Eof),
            Some('{') => {}
            Some(_) => {
                self.unread();
                return Err(PErr::NotList);
            }
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.until(&[',', '}']);
            match last {
                None => return Err(PErr::Msg("list must terminate with '}'".into())),
                Some('}') => {
                    if let Some(c) = self.read()
                        && c != ','
                    {
                        self.unread();
                    }
                    list.push(self.typed(&rs));
                    return Ok(list);
                }
                Some(_) => list.push(self.typed(&rs)),
            }
        }
    }
}

fn msg(e: &PErr) -> String {
    match e {
        PErr::Eof => "EOF".into(),
        PErr::NotList => "not a list".into(),
        PErr::Msg(m) => m.clone(),
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)` / `Atoi`: an optional sign, then ASCII digits only.
fn go_parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Result<Value, String> {
        let mut m = Map::new();
        parse_into(s, &mut m, false).map(|_| Value::Object(m))
    }

    // expectations from helm/helm pkg/strvals/parser_test.go (TestParseSet / TestParseInto cases)
    #[test]
    fn typed_values_like_helm() {
        assert_eq!(parse("name=value").unwrap(), json!({"name": "value"}));
        assert_eq!(
            parse("long_int_string=1234567890").unwrap(),
            json!({"long_int_string": 1234567890})
        );
        assert_eq!(parse("boolean=true").unwrap(), json!({"boolean": true}));
        assert_eq!(parse("b=FALSE").unwrap(), json!({"b": false}));
        assert_eq!(parse("n=null").unwrap(), json!({"n": null}));
        assert_eq!(parse("z=0").unwrap(), json!({"z": 0}));
        assert_eq!(
            parse("leading_zero=00009").unwrap(),
            json!({"leading_zero": "00009"})
        );
        assert_eq!(parse("neg=-5").unwrap(), json!({"neg": -5}));
        assert_eq!(parse("f=1.5").unwrap(), json!({"f": "1.5"}));
        assert_eq!(parse("e=").unwrap(), json!({"e": ""}));
    }

    #[test]
    fn paths_lists_and_escapes() {
        assert_eq!(
            parse("outer.inner=value").unwrap(),
            json!({"outer": {"inner": "value"}})
        );
        assert_eq!(
            parse("list[0]=foo,list[2]=bar").unwrap(),
            json!({"list": ["foo", null, "bar"]})
        );
        assert_eq!(
            parse("list[1].name=x").unwrap(),
            json!({"list": [null, {"name": "x"}]})
        );
        assert_eq!(
            parse("name={a,b,c}").unwrap(),
            json!({"name": ["a", "b", "c"]})
        );
        assert_eq!(parse("a\\.b=c").unwrap(), json!({"a.b": "c"}));
        assert_eq!(parse("name=one\\,two").unwrap(), json!({"name": "one,two"}));
        // a comma ends the value: the rest is a key without value
        assert!(parse("name=one,two").unwrap_err().contains("has no value"));
        assert!(
            parse("a=1,a.b=2")
                .unwrap_err()
                .contains("unable to parse key")
        );
    }

    #[test]
    fn parse_into_merges_into_existing_maps() {
        let mut m = json!({"resources": {"limits": {"cpu": "1"}}})
            .as_object()
            .unwrap()
            .clone();
        parse_into("resources.limits.memory=1Gi", &mut m, false).unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}})
        );
        let mut m = Map::new();
        parse_into("a=true", &mut m, true).unwrap();
        assert_eq!(Value::Object(m), json!({"a": "true"}));
    }
}
