"""The package graph points one way: every import of src/spikestack (lazy ones inside
functions included) goes to a lower tier, and no files or packages import each other in a
loop. ARCHITECTURE.md draws the tiers; a lazy import that breaks a cycle at import time
is still a cycle in the design, so it is counted too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Bottom to top. A unit (a top-level module or subpackage of spikestack) may import units
# of lower tiers; within a tier only where the tier allows sideways imports (and then
# never in a loop). ``data`` shares the second tier with surrogates and so knows nothing
# of networks; encoders sit on functional (the LIF encoder runs its neuron op); the
# packages that observe or transform trained networks (analysis, convert, prune,
# learning, deploy, interop) sit above models and below train, whose run uses them;
# ``cli`` is on top.
TIERS: list[tuple[frozenset[str], bool]] = [
    (frozenset({"registry", "atomic", "validation", "cache", "argtypes"}), False),
    (frozenset({"surrogates", "data"}), False),
    (frozenset({"kernels"}), False),
    (frozenset({"functional"}), False),
    (frozenset({"encoders"}), False),
    (frozenset({"neurons"}), False),
    (frozenset({"layers"}), False),
    (frozenset({"models"}), False),
    (frozenset({"analysis", "convert", "prune", "learning", "deploy", "interop"}), True),
    (frozenset({"train"}), False),
    (frozenset({"cli"}), False),
    (frozenset({"__main__"}), False),  # python -m spikestack: runs cli
]
TIER = {unit: i for i, (units, _) in enumerate(TIERS) for unit in units}


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, module: str) -> set[str]:
    """Every ``spikestack...`` name that ``path`` imports, at any depth of the file."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{a.name}" for a in node.names)  # from pkg import submodule
    return {n for n in names if n == "spikestack" or n.startswith("spikestack.")}


def file_graph(src: Path) -> dict[str, set[str]]:
    """module -> the spikestack modules it imports (a name resolves to its longest module)."""
    files = {module_name(p, src): p for p in (src / "spikestack").rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in files.items():
        targets = {resolve(n) for n in imported_names(path, module)}
        # the root package's face and a package importing its own submodules are not edges
        graph[module] = {
            t
            for t in targets
            if t and t != module and t != "spikestack" and not t.startswith(module + ".")
            and not module.startswith(t + ".")
        }  # fmt: skip
    return graph


def unit_of(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def findings(src: Path) -> list[str]:
    graph = file_graph(src)
    problems = []
    units: dict[str, set[str]] = {}
    for module, targets in graph.items():
        a = unit_of(module)
        if a != "spikestack" and a not in TIER:
            problems.append(f"{module}: unit {a!r} has no tier in tests/test_architecture.py")
            continue
        for target in sorted(targets):
            b = unit_of(target)
            if a == b or a == "spikestack":
                continue
            if b not in TIER:
                continue  # reported as the importer of its own files
            units.setdefault(a, set()).add(b)
            sideways_ok = TIERS[TIER[a]][1]
            if TIER[b] > TIER[a] or (TIER[b] == TIER[a] and not sideways_ok):
                problems.append(f"upward import {module} -> {target} ({a} may not import {b})")
    for component in cycles(units):
        problems.append("package cycle " + " <-> ".join(component))
    for component in cycles(graph):
        problems.append("file cycle " + " <-> ".join(component))
    return problems


def test_the_package_graph_points_one_way() -> None:
    assert findings(SRC) == []


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "spikestack" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (  # a lazy upward import inside a function
            {"kernels/__init__.py": "def f():\n    from spikestack.neurons import LIF\n"},
            "upward import spikestack.kernels -> spikestack.neurons",
        ),
        ({"data/io.py": "import spikestack.functional\n"}, "data may not import functional"),
        ({"data/io.py": "from spikestack import surrogates\n"}, "data may not import surrogates"),
        (  # a relative import resolves like an absolute one
            {"layers/a.py": "from ..models import registry\n"},
            "upward import spikestack.layers.a -> spikestack.models",
        ),
        (
            {
                "train/a.py": "from spikestack.train import b\n",
                "train/b.py": "import spikestack.train.a\n",
            },
            "file cycle spikestack.train.a <-> spikestack.train.b",
        ),
        (
            {
                "prune/a.py": "import spikestack.deploy\n",
                "deploy/a.py": "import spikestack.prune\n",
            },
            "package cycle deploy <-> prune",
        ),
        ({"toys/a.py": "import spikestack.data\n"}, "unit 'toys' has no tier"),
    ],
)
def test_the_check_catches_what_it_must(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    tree = write_tree(tmp_path, {"__init__.py": "", "models/__init__.py": "", **files})
    for unit in ("functional", "neurons", "surrogates", "train", "deploy", "prune", "data"):
        (tree / "spikestack" / unit).mkdir(exist_ok=True)
        (tree / "spikestack" / unit / "__init__.py").touch()
    assert any(expected in f for f in findings(tree)), findings(tree)


def test_sideways_imports_among_siblings_are_allowed(tmp_path: Path) -> None:
    tree = write_tree(
        tmp_path,
        {
            "__init__.py": "",
            "analysis/__init__.py": "",
            "deploy/a.py": "import spikestack.analysis\n",
        },
    )
    assert findings(tree) == []
