"""The layers import one way (docs/architecture.md), checked on the source, lazy imports too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ipcbench"

# layer (a module path prefix) -> prefixes it must never import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "ipcbench.harness": ("ipcbench.cli",),
    "ipcbench.measure": ("ipcbench.cli", "ipcbench.harness", "ipcbench.analysis", "ipcbench.views"),
    "ipcbench.transports": (
        "ipcbench.cli",
        "ipcbench.harness",
        "ipcbench.measure",
        "ipcbench.params",
        "ipcbench.analysis",
        "ipcbench.views",
        "ipcbench.results",
    ),
    "ipcbench.wire": ("ipcbench.",),
    "ipcbench.results": (
        "ipcbench.cli",
        "ipcbench.harness",
        "ipcbench.measure",
        "ipcbench.analysis",
        "ipcbench.views",
    ),
    "ipcbench.analysis": ("ipcbench.cli", "ipcbench.harness", "ipcbench.measure", "ipcbench.views"),
    "ipcbench.views": ("ipcbench.cli", "ipcbench.harness", "ipcbench.measure"),
}
# Pure data that every layer may read: the pattern catalogue, and what wire allows itself.
ALLOWED: tuple[str, ...] = ("ipcbench.measure.catalogue", "ipcbench.errors")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every ipcbench module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from ipcbench.measure import catalogue` imports the module catalogue
            found.update(_most_specific(node.module, a.name) for a in node.names)
    return {name for name in found if name.startswith("ipcbench")}


def _most_specific(module: str, name: str) -> str:
    """``module.name`` when that is a module or package of ours, else ``module``."""
    below = PACKAGE.parent.joinpath(*f"{module}.{name}".split("."))
    if below.with_suffix(".py").exists() or (below / "__init__.py").exists():
        return f"{module}.{name}"
    return module


def violations(name: str, targets: set[str]) -> list[str]:
    bad = []
    for layer, forbidden in FORBIDDEN.items():
        if name != layer and not name.startswith(layer + "."):
            continue
        for target in sorted(targets):
            if any(target == a or target.startswith(a + ".") for a in ALLOWED):
                continue
            if any(
                target == f.rstrip(".") or target.startswith(f.rstrip(".") + ".") for f in forbidden
            ):
                bad.append(f"{name} imports {target}")
    return bad


def test_every_layer_imports_only_downwards() -> None:
    bad = [
        v
        for path in sorted(PACKAGE.rglob("*.py"))
        for v in violations(module_name(path), imported(path))
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("name", "targets", "expected"),
    [
        ("ipcbench.analysis.stats", {"ipcbench.harness.runner"}, 1),
        ("ipcbench.analysis.stats", {"ipcbench.measure.catalogue"}, 0),
        ("ipcbench.transports.pipe", {"ipcbench.params"}, 1),
        ("ipcbench.wire", {"ipcbench.errors"}, 0),
        ("ipcbench.wire", {"ipcbench.measure.verify"}, 1),
        ("ipcbench.cli.run", {"ipcbench.harness.runner"}, 0),
    ],
)
def test_the_rule_itself_catches_a_wrong_import(
    name: str, targets: set[str], expected: int
) -> None:
    assert len(violations(name, targets)) == expected


def test_nothing_below_the_cli_imports_it() -> None:
    users = [
        module_name(p)
        for p in PACKAGE.rglob("*.py")
        if not module_name(p).startswith("ipcbench.cli")
        and module_name(p) != "ipcbench.__main__"
        and any(t.startswith("ipcbench.cli") for t in imported(p))
    ]
    assert users == []


def test_a_from_import_of_a_module_counts_as_that_module() -> None:
    assert _most_specific("ipcbench.measure", "catalogue") == "ipcbench.measure.catalogue"
    assert _most_specific("ipcbench.measure", "patterns") == "ipcbench.measure.patterns"
    catalogue = "ipcbench.measure.catalogue"
    assert _most_specific(catalogue, "PatternInfo") == catalogue
