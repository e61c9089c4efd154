#!/usr/bin/env python3
"""Counts burn-idc's public items and the paths a user outside the crate can name them by.

Usage (from the repository root): python3 integration-tests/reference/public_paths.py [--list]

Walks src/ from src/lib.rs following `mod x;` / `pub mod x;` / inline `mod x { ... }`
declarations (and `#[path = "..."]`), and collects, per module, the public items declared there
(`pub fn/struct/enum/trait/type/const/static/union/mod`, `#[macro_export] macro_rules!`) and its
`pub use` re-exports. It then enumerates every path `burn_idc::a::b::Name` that a user outside the
crate can write: each module on the way is `pub` (declared `pub mod` or re-exported by `pub use`)
and the last name is public. It prints
  (a) the number of distinct public items (declared `pub`, reachable or not) and how many of them
      are reachable from outside,
  (b) the number of (path -> item) routes a user can name,
  (c) how many items are reachable by more than one path (with `--list`: all of them, and every
      route).

Approximations (kept simple on purpose):
- A line scanner, not a Rust parser: comments and string/char literals are blanked, then brace
  depth tells module-level declarations from code inside `impl`/`fn` bodies. Associated items
  (methods, associated consts), enum variants and struct fields are not items here.
- `#[cfg(test)]` / `#[cfg(doctest)]` modules and items are excluded; every other `cfg` (features,
  `unix`, `any(test, feature = ...)`) counts as compiled.
- `#[doc(hidden)]` items and modules count like any other (they are nameable).
- Items made by macros are not seen, except the crate's `valid_config!` (one `pub struct` per
  invocation, `Valid(Config)`), which is special-cased; `#[macro_export]` macros live at the root.
- `pub use` of names outside the crate (`burn::...`, `std::...`) are ignored; glob re-exports
  (`pub use m::*`) export the public names of `m`.
- Only `pub` counts as public: `pub(crate)`, `pub(super)` and `pub(in ...)` do not.
- Items in the binaries (src/bin) are not part of the library and are not walked.
"""

import os
import re
import sys
from collections import defaultdict

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SRC = os.path.join(ROOT, "src")
CRATE = "burn_idc"

ITEM_RE = re.compile(
    r"^pub\s+(?:(?:unsafe|async|const|extern\s+\"[^\"]*\")\s+)*"
    r"(fn|struct|enum|trait|type|const|static|union)\s+([A-Za-z_][A-Za-z0-9_]*)"
)
MOD_RE = re.compile(r"^(pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*([;{])")
USE_RE = re.compile(r"^(pub(?:\([^)]*\))?\s+)?use\s+(.*)$", re.S)
MACRO_RE = re.compile(r"^macro_rules!\s*([A-Za-z_][A-Za-z0-9_]*)")
VALID_RE = re.compile(r"^valid_config!\s*\{")


def blank(text):
    """Comments and string/char literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(?:\\[^']{1,10}|[^\\'\n])'", text[i:])
            if m:
                out.append("' '" + " " * (len(m.group(0)) - 3))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Module:
    def __init__(self, path, file):
        self.path = path  # tuple of names below the crate root
        self.file = file
        self.items = {}  # name -> (kind, public)
        self.mods = {}  # name -> (Module, public)
        self.uses = []  # (public, use-tree text)


def statements(code):
    """Module-level statements of `code` (brace depth 0) as (attrs, text, body or None)."""
    i, n = 0, len(code)
    attrs = []
    while i < n:
        while i < n and code[i].isspace():
            i += 1
        if i >= n:
            break
        if code.startswith("#[", i) or code.startswith("#![", i):
            depth, j = 0, code.index("[", i)
            while j < n:
                if code[j] == "[":
                    depth += 1
                elif code[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            attrs.append(code[i:j + 1])
            i = j + 1
            continue
        # A statement runs to the first `;` at depth 0 or to the `}` closing its first `{`.
        j, depth, body_start = i, 0, None
        paren = 0
        while j < n:
            ch = code[j]
            if ch in "([":
                paren += 1
            elif ch in ")]":
                paren -= 1
            elif ch == "{":
                if depth == 0 and body_start is None and paren == 0:
                    body_start = j
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0 and paren == 0:
                    j += 1
                    break
            elif ch == ";" and depth == 0 and paren == 0:
                j += 1
                break
            j += 1
        text = code[i:j]
        body = code[body_start + 1:j - 1] if body_start is not None and text.rstrip().endswith("}") else None
        yield attrs, text, body
        attrs = []
        i = j


def is_test_cfg(attrs):
    for a in attrs:
        a = re.sub(r"\s+", "", a)
        if a in ("#[cfg(test)]", "#[cfg(doctest)]"):
            return True
    return False


def load(path, file, code, dirpath, mod_rs):
    mod = Module(path, file)
    for attrs, text, body in statements(code):
        if is_test_cfg(attrs):
            continue
        head = text.strip()
        m = MOD_RE.match(head)
        if m:
            public = (m.group(1) or "").strip() == "pub"
            name = m.group(2)
            if m.group(3) == "{":
                sub_dir = os.path.join(dirpath, name) if mod_rs else os.path.join(dirpath, os.path.splitext(os.path.basename(file))[0], name)
                sub = load(path + (name,), file, body or "", sub_dir, True)
            else:
                explicit = None
                for a in attrs:
                    pm = re.match(r'#\[path\s*=\s*"([^"]*)"\]', a)
                    if pm:
                        explicit = pm.group(1)
                base = dirpath if mod_rs else os.path.join(dirpath, os.path.splitext(os.path.basename(file))[0])
                if explicit:
                    target = os.path.join(dirpath, explicit)
                    # A `#[path]` file's own `mod` children resolve next to it.
                    sub_dir, sub_mod_rs = os.path.dirname(target), True
                elif os.path.exists(os.path.join(base, name + ".rs")):
                    target, sub_dir, sub_mod_rs = os.path.join(base, name + ".rs"), base, False
                else:
                    target = os.path.join(base, name, "mod.rs")
                    sub_dir, sub_mod_rs = os.path.join(base, name), True
                with open(target, encoding="utf-8") as f:
                    sub_code = blank(f.read())
                sub = load(path + (name,), target, sub_code, sub_dir, sub_mod_rs)
            mod.mods[name] = (sub, public)
            continue
        m = USE_RE.match(head)
        if m:
            public = (m.group(1) or "").strip() == "pub"
            tree = re.sub(r"\s+", " ", m.group(2)).strip().rstrip(";")
            mod.uses.append((public, re.sub(r"\s*(::|\{|\}|,)\s*", r"\1", tree)))
            continue
        m = ITEM_RE.match(head)
        if m:
            mod.items[m.group(2)] = (m.group(1), True)
            continue
        m = MACRO_RE.match(head)
        if m and any("macro_export" in a for a in attrs):
            root_macros.append(m.group(1))
            continue
        if VALID_RE.match(head):
            vm = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\(([A-Za-z_][A-Za-z0-9_]*)\)\s*\}\s*$", head)
            if vm:
                mod.items[vm.group(1)] = ("struct", True)
    return mod


def expand_use(tree, prefix=""):
    """`a::{b, c::{d as e}}` -> [("a::b", "b"), ("a::c::d", "e")]."""
    tree = tree.strip()
    if not tree:
        return []
    if "{" in tree:
        open_ = tree.index("{")
        head = prefix + tree[:open_]
        inner = tree[open_ + 1:tree.rindex("}")]
        parts, depth, start = [], 0, 0
        for k, ch in enumerate(inner):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(inner[start:k])
                start = k + 1
        parts.append(inner[start:])
        out = []
        for p in parts:
            if p.strip() == "self":
                full = head.rstrip(":")
                out.append((full, full.split("::")[-1]))
            else:
                out.extend(expand_use(p, head))
        return out
    full = prefix + tree
    m = re.match(r"^(.*) as ([A-Za-z_][A-Za-z0-9_]*)$", full)
    if m:
        return [(m.group(1), m.group(2))]
    return [(full, full.split("::")[-1])]


root_macros = []


def main():
    listing = "--list" in sys.argv[1:]
    with open(os.path.join(SRC, "lib.rs"), encoding="utf-8") as f:
        root = load((), os.path.join(SRC, "lib.rs"), blank(f.read()), SRC, True)
    for name in root_macros:
        root.items[name] = ("macro", True)

    modules = {}

    def index(m):
        modules[m.path] = m
        for sub, _ in m.mods.values():
            index(sub)

    index(root)

    def resolve_path(from_mod, segs):
        """Resolves a use path from module `from_mod` to ("item", (modpath, name)) / ("mod", path)."""
        if not segs:
            return None
        first = segs[0]
        if first == "crate":
            cur, rest = (), segs[1:]
        elif first == "self":
            cur, rest = from_mod, segs[1:]
        elif first == "super":
            cur, rest = from_mod, segs
            while rest and rest[0] == "super":
                cur, rest = cur[:-1], rest[1:]
        elif first in modules[from_mod].mods or first in modules[from_mod].items or any(
            a == first for _, a, _ in local_names(from_mod)
        ):
            cur, rest = from_mod, segs
        else:
            return None  # another crate
        for k, seg in enumerate(rest):
            m = modules[cur]
            last = k == len(rest) - 1
            if seg in m.mods:
                cur = m.mods[seg][0].path
                continue
            target = lookup(cur, seg)
            if target is None:
                return None
            if last:
                return target
            if target[0] == "mod":
                cur = target[1]
                continue
            return None
        return ("mod", cur)

    cache = {}

    def local_names(mod_path):
        """(public, alias, use-path segments) for every `use` in the module."""
        out = []
        for public, tree in modules[mod_path].uses:
            for full, alias in expand_use(tree):
                segs = full.split("::")
                out.append((public, alias, segs))
        return out

    def lookup(mod_path, name, seen=None):
        """What `name` names in module `mod_path` (item, module, or re-export)."""
        key = (mod_path, name)
        if key in cache:
            return cache[key]
        seen = seen or set()
        if key in seen:
            return None
        seen.add(key)
        m = modules[mod_path]
        result = None
        if name in m.items:
            result = ("item", (mod_path, name))
        elif name in m.mods:
            result = ("mod", m.mods[name][0].path)
        else:
            for _, alias, segs in local_names(mod_path):
                if alias == name and segs[-1] != "*":
                    result = resolve_path(mod_path, segs)
                    if result:
                        break
        cache[key] = result
        return result

    def public_names(mod_path):
        """name -> target for everything a user may name inside module `mod_path`."""
        m = modules[mod_path]
        out = {}
        for name, (kind, public) in m.items.items():
            if public:
                out[name] = ("item", (mod_path, name))
        for name, (sub, public) in m.mods.items():
            if public:
                out[name] = ("mod", sub.path)
        for public, alias, segs in local_names(mod_path):
            if not public:
                continue
            if segs[-1] == "*":
                target = resolve_path(mod_path, segs[:-1])
                if target and target[0] == "mod":
                    for n, t in public_names(target[1]).items():
                        out.setdefault(n, t)
                continue
            target = resolve_path(mod_path, segs)
            if target:
                out[alias] = target
        return out

    routes = defaultdict(list)  # item -> [path]

    def walk(mod_path, prefix, depth=0):
        if depth > 12:
            return
        for name, target in sorted(public_names(mod_path).items()):
            path = prefix + "::" + name
            if target[0] == "item":
                routes[target[1]].append(path)
            else:
                walk(target[1], path, depth + 1)

    walk((), CRATE)

    declared = [(p, n) for p, m in modules.items() for n, (_, public) in m.items.items() if public]
    multi = {k: v for k, v in routes.items() if len(v) > 1}
    print(f"modules walked: {len(modules)}")
    print(f"(a) distinct public items declared: {len(declared)}; reachable from outside: {len(routes)}")
    print(f"(b) routes (path -> item) a user can name: {sum(len(v) for v in routes.values())}")
    print(f"(c) items reachable by more than one path: {len(multi)}")
    if listing:
        print("\n# items with more than one path")
        for k in sorted(multi):
            print(f"{'::'.join(k[0] + (k[1],))}: {', '.join(sorted(multi[k]))}")
        print("\n# every route")
        for k in sorted(routes):
            for p in sorted(routes[k]):
                print(p)


if __name__ == "__main__":
    main()
