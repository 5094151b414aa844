"""Import direction: core <- tenants <- platform <- app. A violation fails here, not in review."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tenantry"

FORBIDDEN = {
    "core": ("tenantry.platform", "tenantry.tenants", "tenantry.app"),
    "tenants": ("tenantry.platform", "tenantry.app"),
    "platform": ("tenantry.app",),
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downwards(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no files under tenantry/{layer}"
    violations = [
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in files
        for module in imported_modules(path)
        if module.startswith(FORBIDDEN[layer])
    ]
    assert violations == []


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from tenantry.platform.tenants import service\nimport tenantry.app\n")
    assert {"tenantry.platform.tenants", "tenantry.app"} <= imported_modules(bad)
