"""cloud/'s packages import only downward (issue #15 item 5).

The layers, lowest first; a module may import its own package and any lower layer,
never a higher one. The order is the one docs/developers.md "Layout" names, so a
newcomer can tell where a module goes. A new top-level module under cloud/ fails too:
it belongs in one of the packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLOUD = Path(__file__).resolve().parent.parent / "cloud"
LAYERS = (
    ("models",),
    ("core",),
    ("fleet",),
    ("accounts",),
    ("orders",),
    ("commerce",),
    ("ingest",),
    ("api",),
    ("web",),
    ("app", "timers", "migrations"),  # the wiring: the app factory, its background tasks
)
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _part(dotted: str) -> str | None:
    """The cloud package (or top-level module) a dotted module name belongs to."""
    parts = dotted.split(".")
    if parts[:2] != ["fingerpos", "cloud"] or len(parts) < 3:
        return None
    return parts[2]


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "fingerpos.cloud":  # from fingerpos.cloud import orders
                found += [(node.lineno, f"fingerpos.cloud.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in CLOUD.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_cloud_module_is_in_a_layer():
    loose = [p.name for p in CLOUD.glob("*.py") if p.stem not in RANK and p.stem != "__init__"]
    dirs = [p.name for p in CLOUD.iterdir() if p.is_dir() and (p / "__init__.py").exists()
            and p.name not in RANK]
    assert not loose and not dirs, f"not in a layer of tests/test_layout.py: {loose + dirs}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(CLOUD)))
def test_imports_run_downward(path):
    rel = path.relative_to(CLOUD)
    own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
    if own == "__init__":
        return
    upward = [f"line {line}: {mod}" for line, mod in _imports(path)
              if (part := _part(mod)) is not None and part != own
              and RANK.get(part, -1) > RANK[own]]
    assert not upward, f"cloud/{rel} ({own}) imports a higher layer: {upward}"


def test_the_check_sees_an_upward_import(tmp_path):
    """The walker itself: an import of cloud.web from cloud.core is caught."""
    src = tmp_path / "m.py"
    src.write_text("from fingerpos.cloud.web import page\nfrom fingerpos.cloud import orders\n")
    assert [m for _, m in _imports(src)] == ["fingerpos.cloud.web", "fingerpos.cloud.orders"]
    assert RANK[_part("fingerpos.cloud.web.page")] > RANK["core"]
