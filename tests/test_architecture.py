"""The layout the README's architecture section draws is the code's: every module in its
table, imports pointing down only, and SQL in the archive alone."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "kremlin_archive"
NOT_MODULES = {"__init__", "__main__"}  # the package and `python -m`: entry points only


def tiers() -> dict[str, int]:
    """Module name -> tier, from the ``tier N  name name …`` block of the README."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^tier (\d+)  (.+)$", readme, re.M)
    assert rows, "README.md has no architecture block (lines 'tier N  module …')"
    return {name: int(tier) for tier, names in rows for name in names.split()}


def modules() -> dict[str, Path]:
    found = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem not in NOT_MODULES}
    found |= {p.parent.name: p for p in PACKAGE.glob("*/__init__.py")}
    return found


def project_imports(path: Path) -> set[str]:
    """The project modules a file imports (``from .x import``, ``from . import x``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(a.name for a in node.names if not a.name.startswith("__"))
    return names - NOT_MODULES  # ``from . import __version__`` is the package's own


def test_every_module_is_in_the_readme_architecture():
    assert set(modules()) == set(tiers())


@pytest.mark.parametrize("name", sorted(modules()))
def test_a_module_imports_only_lower_tiers(name):
    tier = tiers()
    upward = {m for m in project_imports(modules()[name]) if tier.get(m, 99) >= tier[name]}
    assert upward == set(), f"{name} (tier {tier[name]}) imports {sorted(upward)}"


def test_only_the_archive_speaks_sql():
    speakers = {n for n, p in modules().items() if ".execute(" in p.read_text(encoding="utf-8")}
    assert speakers == {"archive"}
