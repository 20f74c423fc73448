"""The pure core never imports an HTTP library or pytest; only the plugin imports pytest."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "promptecho"
ADAPTERS = {"_httpx.py", "httpx2.py", "_demo.py", "__init__.py", "pytest_plugin.py"}
PURE_MODULES = sorted(
    p for p in PACKAGE.rglob("*.py") if p.name not in ADAPTERS and p.name != "_adapter.py"
)


def imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    "path", PURE_MODULES, ids=[str(p.relative_to(PACKAGE)) for p in PURE_MODULES]
)
def test_pure_modules_import_no_http_library_or_pytest(path: Path) -> None:
    assert not imported_roots(ast.parse(path.read_text())) & {"httpx", "httpx2", "pytest"}


def test_the_adapter_mixins_import_no_http_library() -> None:
    # _adapter.py serves both flavours, so it may name neither.
    tree = ast.parse((PACKAGE / "_adapter.py").read_text())
    assert not imported_roots(tree) & {"httpx", "httpx2", "pytest"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_only_the_plugin_imports_pytest(path: Path) -> None:
    if path.name != "pytest_plugin.py":
        assert "pytest" not in imported_roots(ast.parse(path.read_text()))


def test_importing_promptecho_loads_neither_httpx2_nor_pytest_nor_websockets() -> None:
    code = (
        "import sys, promptecho; "
        "print(sorted(m for m in ('httpx2', 'pytest', 'websockets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_the_httpx2_flavour_without_httpx2_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['httpx2'] = None\n"
        "try:\n    import promptecho.httpx2\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (
        out.stdout.strip()
        == 'promptecho.httpx2 needs the httpx2 package: pip install "promptecho[httpx2]"'
    )


def imported_modules(path: Path) -> set[str]:
    """The promptecho modules a module imports (relative imports, by name)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            names.add(node.module)
    return names


def test_the_plugin_only_hands_out_scopes_and_reports() -> None:
    # Matching, the cassette model and the index are the core's: the plugin asks the scope.
    imported = imported_modules(PACKAGE / "pytest_plugin.py")
    assert not imported & {"_match", "_cassette", "_index", "_canonical", "_keeper", "_store"}
