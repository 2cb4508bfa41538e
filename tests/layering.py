"""Read a package's imports from its source (ast, function-level imports included) and check
them against a layer order: no import cycle between modules, no import pointing up."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` (a folder under `root`) by dotted name."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(path: Path, name: str, known: dict[str, Path], package: str) -> set[str]:
    """The package's modules that `path` imports, wherever the import statement is."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in known else base)
        for target in targets:
            while target and target not in known:  # `import kb.web.wsgi` -> the module itself
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] == package and target != name:
                found.add(target)
    return found


def graph(root: Path, package: str) -> dict[str, set[str]]:
    known = modules(root, package)
    return {name: imports(path, name, known, package) for name, path in known.items()}


def layer_of(module: str, layers: Sequence[Sequence[str]]) -> int:
    best, index = "", -1
    for i, group in enumerate(layers):
        for prefix in group:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, index = prefix, i
    return index


def upward(edges: dict[str, set[str]], layers: Sequence[Sequence[str]]) -> list[str]:
    """Every import that points to a higher layer (or from or to a module in no layer)."""
    out = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            a, b = layer_of(source, layers), layer_of(target, layers)
            if a < 0 or b < 0:
                out.append(f"{source} -> {target}: {'source' if a < 0 else 'target'} is in no layer")
            elif b > a:
                out.append(f"{source} -> {target}: imports a higher layer ({b} > {a})")
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out
