#!/usr/bin/env python3
"""Module-level dependency graph of a Rust crate, for import-cycle and layering checks (stdlib only).

A module is a *file* (``gitops``, ``gitops::substitute``, ``lint::psa``); inline ``mod x { .. }`` blocks are folded
into the file that holds them.  Edges come from

* ``use`` declarations (full use trees: ``use crate::{a::b, c::{d as e, *}};``, ``super::``, ``self::``,
  2018-style relative paths that start with a child module or a name brought in by another ``use``),
* paths in code (``crate::a::b::f()``, ``super::x::Y``, ``alias::Y`` where ``alias`` names a module),

resolved to the longest prefix that is a known module.  ``mod`` declarations build the module tree; they are not
edges unless ``--mod-edges`` is given.  Items under ``#[cfg(test)]`` (inline ``mod tests { .. }`` blocks, ``mod
tests;`` files and their children, test-only ``use``/``fn``/``impl`` items) are ignored unless ``--include-tests``.
Comments (incl. doc comments, so intra-doc links do not count) and string literals are ignored.

Output: the strongly connected components with more than one module (import cycles), each with the edges inside it
(file:line and the path written there); with ``--layers FILE`` also every edge that crosses crates the wrong way.

Exit code: 0 = clean, 1 = a cycle (unless --no-fail-on-cycles) or a layer violation (or an unassigned module with
--layers --require-all), 2 = usage / input error.  Usable in CI:  ``python3 modgraph.py crates/model/src``.

Layer file (JSON, or TOML on Python >= 3.11)::

    {
      "modules": { "gitops": "model", "gitops::build_cache": "tools", "lint": "lint" },   # prefix -> crate
      "crates":  { "model": ["yaml"], "tools": ["model"], "lint": ["tools", "model"] },   # crate -> allowed deps
      "dev":     [ "test-support" ]            # crates that #[cfg(test)] code anywhere may use (dev-dependencies)
    }

The longest matching prefix decides a module's crate.  Allowed dependencies are transitive by default (a crate may
use anything below it in the DAG; Cargo needs the direct dependency declared, which is cheap); ``--direct-only``
allows only the crates listed.  The crate graph itself must be acyclic.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict

# --------------------------------------------------------------------------------------------------------------------
# Lexer


class Tok:
    __slots__ = ("kind", "text", "line")

    def __init__(self, kind: str, text: str, line: int):
        self.kind = kind  # 'id' | 'p' (punct) | 'lit' | 'lt' (lifetime)
        self.text = text
        self.line = line

    def __repr__(self):
        return f"{self.kind}:{self.text}@{self.line}"


_ID_START = re.compile(r"[A-Za-z_\u0080-\U0010ffff]")
_ID = re.compile(r"[A-Za-z0-9_\u0080-\U0010ffff]*")
_NUM = re.compile(r"[0-9][0-9A-Za-z_]*(\.[0-9][0-9A-Za-z_]*)?")
_RAW_STR = re.compile(r'(?:br|cr|r)(#*)"')


def lex(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n, line = 0, len(src), 1
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth += 1
                    j += 2
                elif src.startswith("*/", j):
                    depth -= 1
                    j += 2
                else:
                    j += 1
            line += src.count("\n", i, j)
            i = j
            continue
        # raw strings r"..", r#".."#, br#".."#, cr".."
        m = _RAW_STR.match(src, i) if c in "brc" else None
        if m:
            hashes = m.group(1)
            end = src.find('"' + hashes, m.end())
            end = n if end < 0 else end + 1 + len(hashes)
            toks.append(Tok("lit", "str", line))
            line += src.count("\n", i, end)
            i = end
            continue
        # strings "..", b"..", c".."
        if c == '"' or (c in "bc" and i + 1 < n and src[i + 1] == '"'):
            j = i + (1 if c == '"' else 2)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            toks.append(Tok("lit", "str", line))
            line += src.count("\n", i, j + 1)
            i = j + 1
            continue
        # byte char b'x'
        if c == "b" and i + 1 < n and src[i + 1] == "'":
            j = i + 2
            while j < n and src[j] != "'":
                j += 2 if src[j] == "\\" else 1
            toks.append(Tok("lit", "char", line))
            i = j + 1
            continue
        if c == "'":
            # char literal or lifetime / label
            if i + 1 < n and src[i + 1] == "\\":
                j = i + 1
                while j < n and src[j] != "'":
                    j += 2 if src[j] == "\\" else 1
                toks.append(Tok("lit", "char", line))
                i = j + 1
                continue
            if i + 2 < n and src[i + 2] == "'":
                toks.append(Tok("lit", "char", line))
                i += 3
                continue
            m = _ID.match(src, i + 1)
            toks.append(Tok("lt", src[i : m.end()], line))
            i = m.end()
            continue
        if c == "r" and src.startswith("r#", i) and i + 2 < n and _ID_START.match(src[i + 2]):
            m = _ID.match(src, i + 2)
            toks.append(Tok("id", src[i + 2 : m.end()], line))
            i = m.end()
            continue
        if _ID_START.match(c):
            m = _ID.match(src, i)
            toks.append(Tok("id", src[i : m.end()], line))
            i = m.end()
            continue
        if c.isdigit():
            m = _NUM.match(src, i)
            toks.append(Tok("lit", "num", line))
            i = m.end()
            continue
        if src.startswith("::", i):
            toks.append(Tok("p", "::", line))
            i += 2
            continue
        toks.append(Tok("p", c, line))
        i += 1
    return toks


# --------------------------------------------------------------------------------------------------------------------
# Parser: mod tree, use trees, code paths

ITEM_KW_BRACE = {"fn", "mod", "impl", "struct", "enum", "trait", "union", "macro_rules", "extern", "async", "unsafe"}
ITEM_KW_SEMI = {"const", "static", "let", "type", "use"}
VIS_KW = {"pub"}


def is_cfg_test(attr: list[Tok]) -> bool:
    """`#[cfg(test)]`, `#[cfg(all(test, ..))]`; not `cfg(not(test))`."""
    texts = [t.text for t in attr]
    if not texts or texts[0] != "cfg":
        return False
    if "test" not in texts:
        return False
    if "not" in texts or "any" in texts:
        return False
    return True


def attr_path(attr: list[Tok]) -> str | None:
    """`#[path = "x.rs"]` is not supported (returns the marker so the caller can warn)."""
    if attr and attr[0].text == "path" and len(attr) > 1 and attr[1].text == "=":
        return "path"
    return None


class Occ:
    """A path written in a file: resolved later, once every module's `use` names are known."""

    __slots__ = ("scope", "segs", "line", "is_use", "glob", "alias", "vis", "test")

    def __init__(self, scope, segs, line, is_use, glob=False, alias=None, vis=False, test=False):
        self.scope = scope  # tuple: module path of the (inline) module it is written in
        self.segs = segs  # list[str]
        self.line = line
        self.is_use = is_use
        self.glob = glob
        self.alias = alias  # name the use leaf brings into scope
        self.vis = vis  # pub/pub(crate) use (a re-export)
        self.test = test  # written in #[cfg(test)] code


class Crate:
    def __init__(self, src_dir: str, root_file: str | None, include_tests: bool):
        self.src_dir = os.path.abspath(src_dir)
        self.include_tests = include_tests
        self.modules: dict[tuple, dict] = {}  # module path -> {file, node(tuple of file module), test}
        self.children: dict[tuple, set] = defaultdict(set)
        self.files: dict[tuple, str] = {}  # file module -> path
        self.lines: dict[tuple, int] = {}
        self.occs: dict[tuple, list[Occ]] = defaultdict(list)  # file module -> occurrences
        self.warnings: list[str] = []
        self.test_modules: set[tuple] = set()
        if root_file is None:
            for cand in ("lib.rs", "main.rs"):
                if os.path.exists(os.path.join(self.src_dir, cand)):
                    root_file = os.path.join(self.src_dir, cand)
                    break
        if root_file is None or not os.path.exists(root_file):
            raise ValueError(f"no lib.rs or main.rs in {src_dir}")
        self._register((), root_file, (), test=False)
        self._parse_file((), root_file, mod_rs=True)

    # module tree ----------------------------------------------------------------------------------------------------
    def _register(self, path: tuple, file: str | None, node: tuple, test: bool):
        self.modules[path] = {"file": file, "node": node, "test": test}
        if path:
            self.children[path[:-1]].add(path[-1])
        if test:
            self.test_modules.add(path)

    def _child_file(self, dir_of_children: str, name: str) -> str | None:
        for cand in (os.path.join(dir_of_children, name + ".rs"), os.path.join(dir_of_children, name, "mod.rs")):
            if os.path.exists(cand):
                return cand
        return None

    def _parse_file(self, modpath: tuple, file: str, mod_rs: bool):
        with open(file, encoding="utf-8") as f:
            src = f.read()
        self.files[modpath] = file
        self.lines[modpath] = src.count("\n")
        toks = lex(src)
        base = os.path.basename(file)
        if mod_rs or base in ("mod.rs", "lib.rs", "main.rs"):
            child_dir = os.path.dirname(file)
        else:
            child_dir = os.path.join(os.path.dirname(file), base[:-3])
        self._walk(toks, modpath, child_dir)

    def _walk(self, toks: list[Tok], file_mod: tuple, child_dir: str):
        """Linear scan with a brace stack; each `{` frame records whether it opens an inline module."""
        n = len(toks)
        scope_stack: list[tuple] = [file_mod]  # module path per inline-mod nesting
        dir_stack: list[str] = [child_dir]
        frames: list[str | None] = []  # per open brace: 'mod' if it opened an inline module, else None
        pending_attrs: list[list[Tok]] = []
        i = 0
        prev: Tok | None = None
        test_until = -1  # last token of a #[cfg(test)] item being read (with --include-tests)
        while i < n:
            t = toks[i]
            self._cur_test = i <= test_until or self.is_test_scope(scope_stack[-1])
            # attributes
            if t.text == "#" and t.kind == "p":
                inner = i + 1 < n and toks[i + 1].text == "!"
                j = i + (2 if inner else 1)
                if j < n and toks[j].text == "[":
                    end = self._match(toks, j)
                    attr = toks[j + 1 : end]
                    if attr and attr[0].text not in ("cfg", "cfg_attr", "path", "doc"):
                        self._code_paths(attr, scope_stack[-1], file_mod)  # e.g. #[error("..", crate::f(x))]
                    if inner:
                        if is_cfg_test(attr) and not self.include_tests and len(frames) == 0:
                            return  # whole file is test-only
                    else:
                        pending_attrs.append(attr)
                    i = end + 1
                    continue
            if pending_attrs:
                attrs = pending_attrs
                pending_attrs = []
                if any(attr_path(a) for a in attrs):
                    self.warnings.append(f"{self.files[file_mod]}:{t.line}: #[path] attribute not supported")
                if any(is_cfg_test(a) for a in attrs):
                    start = i
                    k = i
                    while k < n and toks[k].kind == "id" and toks[k].text in ("pub", "crate", "in", "super", "self"):
                        k += 1
                        if k < n and toks[k].text == "(":
                            k = self._match(toks, k) + 1
                    if k + 1 < n and toks[k].text == "mod" and toks[k + 1].kind == "id":
                        name = toks[k + 1].text
                        scope = scope_stack[-1]
                        path = scope + (name,)
                        after = toks[k + 2] if k + 2 < n else None
                        if after is not None and after.text == ";":
                            f = self._child_file(dir_stack[-1], name)
                            if f is None:
                                self.warnings.append(f"{self.files[file_mod]}:{t.line}: no file for mod {name}")
                            if self.include_tests and f:
                                self._register(path, f, path, test=True)
                                self._parse_file(path, f, mod_rs=os.path.basename(f) == "mod.rs")
                            else:
                                self._register(path, None, file_mod, test=True)
                            i = k + 3
                            continue
                        if after is not None and after.text == "{":
                            if self.include_tests:
                                self._register(path, None, file_mod, test=True)
                                scope_stack.append(path)
                                dir_stack.append(os.path.join(dir_stack[-1], name))
                                frames.append("mod")
                                i = k + 3
                                continue
                            self._register(path, None, file_mod, test=True)
                            i = self._match(toks, k + 2) + 1
                            continue
                    if not self.include_tests:
                        i = self._item_end(toks, start) + 1
                        continue
                    test_until = max(test_until, self._item_end(toks, start))
                    self._cur_test = True
            if t.kind == "p":
                if t.text == "{":
                    frames.append(None)
                elif t.text == "}":
                    if frames:
                        if frames.pop() == "mod":
                            scope_stack.pop()
                            dir_stack.pop()
                prev = t
                i += 1
                continue
            if t.kind == "id" and t.text == "mod" and i + 1 < n and toks[i + 1].kind == "id" and \
                    (prev is None or prev.text not in ("::",)):
                name = toks[i + 1].text
                after = toks[i + 2] if i + 2 < n else None
                scope = scope_stack[-1]
                path = scope + (name,)
                test = scope in self.test_modules
                if after is not None and after.text == ";":
                    f = self._child_file(dir_stack[-1], name)
                    if f is None:
                        self.warnings.append(f"{self.files[file_mod]}:{t.line}: no file for mod {name}")
                        self._register(path, None, file_mod, test)
                    else:
                        self._register(path, f, path, test)
                        self._parse_file(path, f, mod_rs=os.path.basename(f) == "mod.rs")
                    if self.mod_edges_wanted:
                        self.occs[file_mod].append(Occ(scope, ["self", name], t.line, True, alias="_", test=self._cur_test))
                    prev = after
                    i += 3
                    continue
                if after is not None and after.text == "{":
                    self._register(path, None, file_mod, test)
                    scope_stack.append(path)
                    dir_stack.append(os.path.join(dir_stack[-1], name))
                    frames.append("mod")
                    prev = after
                    i += 3
                    continue
            if t.kind == "id" and t.text == "use" and (prev is None or prev.text != "::"):
                vis = self._is_vis_before(toks, i)
                end = self._find(toks, i, ";")
                self._use_tree(toks[i + 1 : end], scope_stack[-1], file_mod, [], vis)
                prev = toks[end] if end < n else t
                i = end + 1
                continue
            # code paths: a run  id :: id (:: id)*  not preceded by `::`
            if t.kind == "id" and i + 2 < n and toks[i + 1].text == "::" and toks[i + 2].kind == "id" and \
                    (prev is None or prev.text != "::"):
                segs = [t.text]
                j = i + 1
                while j + 1 < n and toks[j].text == "::" and toks[j + 1].kind == "id":
                    segs.append(toks[j + 1].text)
                    j += 2
                if t.text not in ("Self", "std", "core", "alloc") and not (prev is not None and prev.text == "$"):
                    self.occs[file_mod].append(Occ(scope_stack[-1], segs, t.line, False, test=self._cur_test))
                prev = toks[j - 1]
                i = j
                continue
            prev = t
            i += 1

    mod_edges_wanted = False
    _cur_test = False

    def is_test_scope(self, scope: tuple) -> bool:
        return any(scope[:k] in self.test_modules for k in range(1, len(scope) + 1))

    def _code_paths(self, toks: list[Tok], scope, file_mod):
        """Paths (`a::b::c`) in a token run that is not an item, such as an attribute's arguments."""
        i, n, prev = 0, len(toks), None
        while i < n:
            t = toks[i]
            if t.kind == "id" and i + 2 < n and toks[i + 1].text == "::" and toks[i + 2].kind == "id" and \
                    (prev is None or prev.text != "::"):
                segs = [t.text]
                j = i + 1
                while j + 1 < n and toks[j].text == "::" and toks[j + 1].kind == "id":
                    segs.append(toks[j + 1].text)
                    j += 2
                if t.text not in ("Self", "std", "core", "alloc"):
                    self.occs[file_mod].append(Occ(scope, segs, t.line, False, test=self._cur_test))
                prev = toks[j - 1]
                i = j
                continue
            prev = t
            i += 1

    @staticmethod
    def _is_vis_before(toks, i) -> bool:
        j = i - 1
        if j >= 0 and toks[j].text == ")":
            depth = 0
            while j >= 0:
                if toks[j].text == ")":
                    depth += 1
                elif toks[j].text == "(":
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            j -= 1
        return j >= 0 and toks[j].text == "pub"

    @staticmethod
    def _match(toks, i) -> int:
        """Index of the bracket closing the one at toks[i]."""
        open_, close = toks[i].text, {"(": ")", "[": "]", "{": "}"}[toks[i].text]
        depth = 0
        for j in range(i, len(toks)):
            if toks[j].kind != "p":
                continue
            if toks[j].text == open_:
                depth += 1
            elif toks[j].text == close:
                depth -= 1
                if depth == 0:
                    return j
        return len(toks) - 1

    @staticmethod
    def _find(toks, i, text) -> int:
        depth = 0
        for j in range(i, len(toks)):
            tt = toks[j].text
            if toks[j].kind == "p":
                if tt in "([{":
                    depth += 1
                elif tt in ")]}":
                    depth -= 1
                elif tt == text and depth == 0:
                    return j
        return len(toks) - 1

    @staticmethod
    def _item_end(toks, i) -> int:
        """Last token of the item / statement / field / arm starting at toks[i] (after its attributes)."""
        k = i
        while k < len(toks) and toks[k].kind == "id" and toks[k].text in ("pub", "crate", "in", "super", "self"):
            k += 1
            if k < len(toks) and toks[k].text == "(":
                k = Crate._match(toks, k) + 1
        kw = toks[k].text if k < len(toks) else ""
        depth = 0
        for j in range(i, len(toks)):
            tt, kind = toks[j].text, toks[j].kind
            if kind != "p":
                continue
            if tt in "([{":
                depth += 1
            elif tt in ")]}":
                depth -= 1
                if depth < 0:
                    return j - 1
                if depth == 0 and tt == "}" and kw not in ITEM_KW_SEMI:
                    return j
            elif depth == 0 and tt == ";":
                return j
            elif depth == 0 and tt == "," and kw not in ITEM_KW_BRACE and kw not in ITEM_KW_SEMI:
                return j
        return len(toks) - 1

    def _use_tree(self, toks: list[Tok], scope, file_mod, prefix: list[str], vis: bool):
        """Parse `a::b::{c, d::e as f, g::*}` into leaves."""
        i, n = 0, len(toks)
        segs = list(prefix)
        line = toks[0].line if toks else 0
        if i < n and toks[i].text == "::":
            return  # ::extern_crate path
        while i < n:
            t = toks[i]
            if t.kind == "id":
                segs.append(t.text)
                line = t.line
                i += 1
                if i < n and toks[i].text == "::":
                    i += 1
                    continue
                alias = segs[-1]
                if i + 1 < n and toks[i].text == "as":
                    alias = toks[i + 1].text
                    i += 2
                if alias == "self" and len(segs) >= 2:
                    segs = segs[:-1]
                    alias = segs[-1]
                self.occs[file_mod].append(Occ(scope, segs, line, True, alias=alias, vis=vis, test=self._cur_test))
                segs = list(prefix)
                if i < n and toks[i].text == ",":
                    i += 1
                continue
            if t.text == "*":
                self.occs[file_mod].append(Occ(scope, segs, t.line, True, glob=True, vis=vis, test=self._cur_test))
                segs = list(prefix)
                i += 1
                if i < n and toks[i].text == ",":
                    i += 1
                continue
            if t.text == "{":
                end = self._match(toks, i)
                # split by top-level commas
                inner = toks[i + 1 : end]
                part: list[Tok] = []
                depth = 0
                for tok in inner + [Tok("p", ",", 0)]:
                    if tok.text == "{":
                        depth += 1
                    elif tok.text == "}":
                        depth -= 1
                    if tok.text == "," and depth == 0:
                        if part:
                            self._use_tree(part, scope, file_mod, segs, vis)
                        part = []
                    else:
                        part.append(tok)
                segs = list(prefix)
                i = end + 1
                if i < n and toks[i].text == ",":
                    i += 1
                continue
            i += 1

    # resolution -----------------------------------------------------------------------------------------------------
    def node_of(self, path: tuple) -> tuple:
        return self.modules[path]["node"]

    def resolve_all(self, through_reexports: bool):
        """Compute each module's `use` names (fixpoint over globs), then resolve every occurrence to a module."""
        # names[scope][name] = (module, rest) : the name refers to `module` (rest==[]) or to an item in it
        names: dict[tuple, dict[str, tuple]] = defaultdict(dict)
        globs: dict[tuple, list[tuple]] = defaultdict(list)
        reexports: dict[tuple, dict[str, tuple]] = defaultdict(dict)
        uses = [(fm, o) for fm, lst in self.occs.items() for o in lst if o.is_use]
        self.ext = ext = defaultdict(set)  # scope -> names a `use` brought in from outside this crate
        for _ in range(8):
            changed = False
            for fm, o in uses:
                r = self._resolve(o.scope, o.segs, names, globs, reexports, through_reexports)
                if r is None:
                    if o.alias and o.alias not in ("_", "self"):
                        ext[o.scope].add(o.alias)  # e.g. `use headlamp_e2e_model::yaml;`, `use serde::Deserialize;`
                    continue
                mod, rest = r
                if o.glob:
                    if not rest and mod not in globs[o.scope]:
                        globs[o.scope].append(mod)
                        changed = True
                    continue
                if o.alias and o.alias != "_":
                    val = (mod, tuple(rest))
                    if names[o.scope].get(o.alias) != val:
                        names[o.scope][o.alias] = val
                        changed = True
                    if o.vis and rest and reexports[o.scope].get(o.alias) != mod:
                        reexports[o.scope][o.alias] = mod
                        changed = True
            if not changed:
                break
        self.names, self.globs, self.reexports = names, globs, reexports
        edges: dict[tuple, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
        for fm, lst in self.occs.items():
            for o in lst:
                if not o.is_use and o.segs[0] not in ("crate", "super", "self"):
                    # code path: only when the first segment names a module (child or imported module)
                    head = self._lookup(o.scope, o.segs[0], names, globs, set())
                    if o.segs[0] not in self.children.get(o.scope, ()) and (head is None or head[1]):
                        continue
                r = self._resolve(o.scope, o.segs, names, globs, reexports, through_reexports)
                if r is None:
                    continue
                mod, _rest = r
                if mod not in self.modules:
                    continue
                tgt = self.node_of(mod)
                if tgt == fm or tgt not in self.files:
                    continue
                if not self.include_tests and (mod in self.test_modules):
                    continue
                edges[fm][tgt].append((o.line, "::".join(o.segs) + ("::*" if o.glob else ""),
                                       o.test or mod in self.test_modules))
        self.edges = edges

    def _lookup(self, scope, name, names, globs, seen):
        if name in names.get(scope, {}):
            return names[scope][name]
        if scope in seen:
            return None
        seen.add(scope)
        for g in globs.get(scope, []):
            if name in self.children.get(g, ()):
                return (g + (name,), ())
            r = self._lookup(g, name, names, globs, seen)
            if r is not None:
                return r
        return None

    def _resolve(self, scope, segs, names, globs, reexports, through):
        segs = list(segs)
        if not segs:
            return None
        head = segs[0]
        if head == "crate":
            base, rest = (), segs[1:]
        elif head == "super" or head == "self":
            base = scope
            k = 0
            while k < len(segs) and segs[k] in ("super", "self"):
                if segs[k] == "super":
                    if not base:
                        return None
                    base = base[:-1]
                k += 1
            rest = segs[k:]
        elif head in self.children.get(scope, ()):
            base, rest = scope + (head,), segs[1:]
        else:
            r = self._lookup(scope, head, names, globs, set())
            if r is None:
                return None
            mod, item_rest = r
            if item_rest:
                # an item imported from `mod` (e.g. an enum: `Error::Io`): the dependency is on `mod`
                return (mod, list(item_rest) + segs[1:])
            base, rest = mod, segs[1:]
        while rest and (base + (rest[0],)) in self.modules:
            base = base + (rest[0],)
            rest = rest[1:]
        # `crate::yaml::f` where the crate root has `use other_crate::yaml;`: not an edge inside this crate
        if rest and rest[0] in getattr(self, "ext", {}).get(base, ()) and rest[0] not in names.get(base, {}):
            return None
        # a name re-exported by `base` (`pub use x::Y;`): the crate root always, other modules with --through-reexports
        seen = set()
        while rest and (not base or through) and rest[0] in reexports.get(base, {}) and base not in seen:
            seen.add(base)
            base = reexports[base][rest[0]]
            rest = rest[1:]
        return (base, rest)


# --------------------------------------------------------------------------------------------------------------------
# Graph algorithms


def tarjan(nodes, succ):
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(100000)

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(nodes):
        if v not in index:
            strong(v)
    return out


def name(mod: tuple) -> str:
    return "::".join(mod) if mod else "crate"


def collapse(mod: tuple, depth: int) -> tuple:
    return mod[:depth] if depth > 0 else mod


# --------------------------------------------------------------------------------------------------------------------
# Layers


def load_layers(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".toml"):
        try:
            import tomllib
        except ImportError:  # pragma: no cover
            raise ValueError("TOML layer files need Python >= 3.11; use JSON")
        cfg = tomllib.loads(data.decode())
    else:
        cfg = json.loads(data)
    modules = {tuple(k.split("::")) if k not in ("", "crate") else (): v for k, v in cfg["modules"].items()}
    crates = {k: list(v) for k, v in cfg["crates"].items()}
    for c in set(modules.values()):
        crates.setdefault(c, [])
    dev = set(cfg.get("dev", []))  # crates any crate's #[cfg(test)] code may use (dev-dependencies)
    return modules, crates, dev


def crate_of(mod: tuple, modules) -> str | None:
    for k in range(len(mod), -1, -1):
        if mod[:k] in modules:
            return modules[mod[:k]]
    return None


def closure(crates, direct_only):
    allowed = {}
    for c in crates:
        seen, todo = set(), list(crates[c])
        while todo:
            d = todo.pop()
            if d in seen:
                continue
            seen.add(d)
            if not direct_only:
                todo.extend(crates.get(d, []))
        allowed[c] = seen
    return allowed


# --------------------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("src", help="the crate's src directory (lib.rs or main.rs is its root)")
    ap.add_argument("--root", help="root file if not src/lib.rs or src/main.rs")
    ap.add_argument("--include-tests", action="store_true", help="also read #[cfg(test)] items and modules")
    ap.add_argument("--mod-edges", action="store_true", help="count `mod x;` declarations as parent -> child edges")
    ap.add_argument("--through-reexports", action="store_true",
                    help="resolve `m::Y` through `pub use` in m to Y's own module (the crate root always is)")
    ap.add_argument("--depth", type=int, default=0,
                    help="collapse modules to their first N segments (1 = top-level modules); 0 = files")
    ap.add_argument("--ignore-ancestor-edges", action="store_true",
                    help="drop edges from a module to one of its ancestors (a child using its parent's items through\n"
                         "`super::`, the crate root included): cycles then are between siblings or across subtrees")
    ap.add_argument("--layers", help="JSON/TOML: module prefix -> crate, crate -> allowed deps")
    ap.add_argument("--direct-only", action="store_true", help="layers: only the listed deps, not their closure")
    ap.add_argument("--require-all", action="store_true", help="layers: fail when a module has no crate")
    ap.add_argument("--edges", action="store_true", help="print every edge (module -> module, file:line)")
    ap.add_argument("--modules", action="store_true", help="print every module with its file and line count")
    ap.add_argument("--crate-stats", action="store_true", help="layers: lines and files per crate")
    ap.add_argument("--dot", action="store_true", help="print the graph in Graphviz dot format and exit")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--no-fail-on-cycles", action="store_true", help="exit 0 even when there are cycles")
    ap.add_argument("--max-edges", type=int, default=12, help="edges shown per cycle (0 = all)")
    args = ap.parse_args(argv)

    Crate.mod_edges_wanted = args.mod_edges
    crate = Crate(args.src, args.root, args.include_tests)
    crate.resolve_all(args.through_reexports)
    rel = lambda p: os.path.relpath(p, os.path.dirname(crate.src_dir))  # noqa: E731

    # graph at the requested granularity
    nodes = {collapse(m, args.depth) for m in crate.files}
    succ: dict[tuple, set] = defaultdict(set)
    where: dict[tuple, list] = defaultdict(list)  # (a, b) -> [(file, line, text)]
    for a, tg in crate.edges.items():
        for b, occ in tg.items():
            if args.ignore_ancestor_edges and a[: len(b)] == b:
                continue
            ca, cb = collapse(a, args.depth), collapse(b, args.depth)
            if ca == cb:
                continue
            succ[ca].add(cb)
            for line, text, _test in occ:
                where[(ca, cb)].append((rel(crate.files[a]), line, text))

    sccs = [sorted(c) for c in tarjan(nodes, succ) if len(c) > 1]
    sccs.sort(key=lambda c: (-len(c), c))
    out: dict = {"modules": len(nodes), "edges": sum(len(v) for v in succ.values()), "cycles": []}

    if args.dot:
        print("digraph modules {")
        for a in sorted(succ):
            for b in sorted(succ[a]):
                print(f'  "{name(a)}" -> "{name(b)}";')
        print("}")
        return 0

    lines: list[str] = []
    for w in crate.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.modules:
        for m in sorted(crate.files):
            lines.append(f"{name(m):40} {rel(crate.files[m]):45} {crate.lines[m]:6}"
                         + ("  (test)" if m in crate.test_modules else ""))
    if args.edges:
        for a in sorted(succ):
            for b in sorted(succ[a]):
                locs = where[(a, b)]
                lines.append(f"{name(a)} -> {name(b)}   " +
                             ", ".join(f"{f}:{ln} {t}" for f, ln, t in locs[:4]) + (" ..." if len(locs) > 4 else ""))

    lines.append(f"{len(nodes)} modules, {out['edges']} edges, {len(sccs)} cycle(s) "
                 f"({'with' if args.include_tests else 'without'} #[cfg(test)] code"
                 f"{', depth ' + str(args.depth) if args.depth else ''})")
    for k, comp in enumerate(sccs, 1):
        members = set(comp)
        inner = [(a, b) for a in comp for b in sorted(succ[a]) if b in members]
        lines.append(f"cycle {k}: {len(comp)} modules, {len(inner)} edges")
        lines.append("  " + ", ".join(name(m) for m in comp))
        shown = inner if args.max_edges == 0 else inner[: args.max_edges]
        for a, b in shown:
            f, ln, t = where[(a, b)][0]
            more = len(where[(a, b)]) - 1
            lines.append(f"    {name(a)} -> {name(b)}   {f}:{ln} {t}" + (f" (+{more})" if more else ""))
        if len(shown) < len(inner):
            lines.append(f"    ... {len(inner) - len(shown)} more edges (--max-edges 0)")
        out["cycles"].append({"modules": [name(m) for m in comp],
                              "edges": [{"from": name(a), "to": name(b),
                                         "at": [f"{f}:{ln} {t}" for f, ln, t in where[(a, b)]]} for a, b in inner]})

    rc = 1 if sccs and not args.no_fail_on_cycles else 0

    if args.layers:
        modules, crates, dev = load_layers(args.layers)
        cyc = [c for c in tarjan(set(crates), {c: set(d) for c, d in crates.items()}) if len(c) > 1]
        if cyc:
            lines.append("layer file: the crate graph has a cycle: " + "; ".join(", ".join(sorted(c)) for c in cyc))
            rc = 1
        allowed = closure(crates, args.direct_only)
        unassigned = sorted(m for m in crate.files if crate_of(m, modules) is None)
        if unassigned:
            lines.append("modules without a crate: " + ", ".join(name(m) for m in unassigned))
            if args.require_all:
                rc = 1
        viol = []
        for a, tg in sorted(crate.edges.items()):
            ca = crate_of(a, modules)
            for b, occ in sorted(tg.items()):
                cb = crate_of(b, modules)
                if ca is None or cb is None or ca == cb or cb in allowed.get(ca, set()):
                    continue
                for line, text, test in occ:
                    if test and cb in dev:
                        continue
                    viol.append((ca, cb, rel(crate.files[a]), line, name(a), name(b), text, test))
        lines.append(f"{len(viol)} layer violation(s)" + (f" ({sum(1 for v in viol if v[7])} in #[cfg(test)] code)"
                                                          if args.include_tests else ""))
        for ca, cb, f, line, a, b, text, test in viol:
            lines.append(f"  {ca} -> {cb}: {f}:{line} {a} uses {b} ({text})" + ("  [test]" if test else ""))
        out["violations"] = [{"from_crate": v[0], "to_crate": v[1], "at": f"{v[2]}:{v[3]}", "from": v[4],
                              "to": v[5], "path": v[6], "test": v[7]} for v in viol]
        if viol:
            rc = 1
        if args.crate_stats:
            stats: dict[str, list] = defaultdict(lambda: [0, 0])
            for m in crate.files:
                c = crate_of(m, modules) or "(none)"
                stats[c][0] += 1
                stats[c][1] += crate.lines[m]
            used: dict[str, set] = defaultdict(set)
            for a, tg in crate.edges.items():
                for b in tg:
                    ca, cb = crate_of(a, modules), crate_of(b, modules)
                    if ca and cb and ca != cb:
                        used[ca].add(cb)
            lines.append("crate            files   lines  uses")
            for c in sorted(stats, key=lambda c: -stats[c][1]):
                lines.append(f"  {c:14} {stats[c][0]:5} {stats[c][1]:7}  {', '.join(sorted(used[c]))}")
            out["crate_stats"] = {c: {"files": s[0], "lines": s[1], "uses": sorted(used[c])} for c, s in stats.items()}

    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print("\n".join(lines))
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `| head`
        sys.exit(0)
    except (OSError, ValueError, KeyError) as e:
        print(f"modgraph: {e}", file=sys.stderr)
        sys.exit(2)
