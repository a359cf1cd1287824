"""Import cycles among the repository's own modules (device/ and host_tools/).

Every import counts, also those inside functions (a lazy import still ties the two modules
together), relative ones, `from pkg import module`, `__import__("x.y")` and
`importlib.import_module("x.y")` with a literal name; importing a module also imports its
parent packages. A cycle is a strongly connected group of two or more modules (or a module
importing itself).

    python tests/import_cycles.py [ROOT] [PACKAGE ...]   # default: this repository, device host_tools

prints the graph's size and every cycle with the import lines that close it; exit 1 if any.
"""

from __future__ import annotations

import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("device", "host_tools")


def modules(root: str, packages=PACKAGES) -> dict[str, str]:
    """Module name -> file, for every .py under the given top-level packages."""
    out = {}
    for top in packages:
        for d, subdirs, files in os.walk(os.path.join(root, top)):
            subdirs[:] = sorted(s for s in subdirs if s != "__pycache__")
            rel = os.path.relpath(d, root).replace(os.sep, ".")
            for f in sorted(files):
                if f.endswith(".py"):
                    out[rel if f == "__init__.py" else rel + "." + f[:-3]] = os.path.join(d, f)
    return out


def _targets(node: ast.AST, name: str, is_pkg: bool) -> list[str]:
    """Dotted names one import node may load (most specific first)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            parts = name.split(".")
            base_parts = parts if is_pkg else parts[:-1]
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        return [base + "." + a.name for a in node.names] + [base]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        f = node.func
        if (isinstance(f, ast.Name) and f.id == "__import__") or \
                (isinstance(f, ast.Attribute) and f.attr == "import_module"):
            return [node.args[0].value]
    return []


def graph(root: str = ROOT, packages=PACKAGES) -> dict[str, dict[str, int]]:
    """Module -> {imported module: line of the first such import}."""
    mods = modules(root, packages)
    edges: dict[str, dict[str, int]] = {m: {} for m in mods}
    for name, path in mods.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        is_pkg = path.endswith("__init__.py")
        for node in ast.walk(tree):
            for t in _targets(node, name, is_pkg):
                # the named module if it is ours, else the nearest package of ours above it
                parts = t.split(".")
                while parts and ".".join(parts) not in mods:
                    parts.pop()
                if not parts:
                    continue
                hit = ".".join(parts)
                # importing a.b.c runs a and a.b first (a module's own packages are already there)
                for i in range(1, len(parts) + 1):
                    dep = ".".join(parts[:i])
                    if dep in mods and dep != name and not name.startswith(dep + "."):
                        edges[name].setdefault(dep, node.lineno)
                if hit == name:
                    edges[name].setdefault(hit, node.lineno)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected groups of 2+ modules, or self-imports (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    n = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = n
        n += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = n
                    n += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    group = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        group.append(w)
                        if w == v:
                            break
                    if len(group) > 1 or v in edges[v]:
                        out.append(sorted(group))
    return sorted(out)


def describe(group: list[str], edges: dict[str, dict[str, int]], root: str = ROOT) -> str:
    """One line per import inside the group: file:line imports module."""
    members = set(group)
    lines = []
    for m in group:
        path = os.path.relpath(modules_path(m, root), root)
        for dep, line in sorted(edges[m].items()):
            if dep in members:
                lines.append(f"  {path}:{line} imports {dep}")
    return " <-> ".join(group) + "\n" + "\n".join(lines)


def modules_path(name: str, root: str = ROOT) -> str:
    base = os.path.join(root, *name.split("."))
    return os.path.join(base, "__init__.py") if os.path.isdir(base) else base + ".py"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = argv[0] if argv else ROOT
    packages = tuple(argv[1:]) or PACKAGES
    edges = graph(root, packages)
    found = cycles(edges)
    print(f"{len(edges)} modules in {', '.join(p + '/' for p in packages)}; "
          f"{sum(len(v) for v in edges.values())} imports between them; {len(found)} cycle(s)")
    for g in found:
        print(describe(g, edges, root))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
