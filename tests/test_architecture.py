"""The shape of the house (STYLE.md): imports run one way, goengine and nets -> rl -> selfplay (bench on
top), and no module imports another that imports it back. Read from the source with ast, lazy imports
inside functions included, so a new upward or circular import fails here rather than in a user's
install without torch or ray."""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYER = {"goengine": 0, "nets": 0, "rl": 1, "selfplay": 2, "bench": 3}
MAY_IMPORT = {"goengine": {"goengine"}, "nets": {"nets", "goengine"}, "rl": {"goengine", "nets", "rl"},
              "selfplay": {"goengine", "nets", "rl", "selfplay"}, "bench": set(LAYER)}


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for package in LAYER:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: pathlib.Path) -> set[str]:
    """Every module of ours that `name` imports anywhere in its source (also inside functions)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in LAYER}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(name, path):
            # `from goengine.mcts import search` names the module goengine.mcts.search; keep the deepest match
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def test_imports_run_one_way():
    wrong = sorted(f"{source} imports {target}" for source, targets in _graph().items() for target in targets
                   if target.split(".")[0] not in MAY_IMPORT[source.split(".")[0]])
    assert not wrong, "imports against the layering goengine, nets -> rl -> selfplay -> bench:\n" + "\n".join(wrong)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among modules (a package's __init__ importing its own submodules excluded), or None."""
    colour, stack = {}, []

    def visit(node):
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):  # a package importing its own submodule is not a circle
                continue
            if colour.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if colour.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def test_no_module_imports_itself_back():
    cycle = _cycle(_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_checks_see_an_upward_import_and_a_circle():
    # the graph walk must notice what it is for: an edge added by hand is reported
    graph = _graph()
    graph["goengine.players"] = graph["goengine.players"] | {"goengine.mcts.player"}
    assert _cycle(graph) is not None
    assert "goengine.mcts.player" in graph and "goengine.players" in graph["goengine.mcts.player"]
