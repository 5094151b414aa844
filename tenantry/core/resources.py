"""Where the non-Python files live: `alembic/` and `policies/`.

From a source checkout they sit at the repository root; an installed wheel carries them under
`tenantry/_resources/` (see `force-include` in pyproject.toml).
"""

from functools import lru_cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@lru_cache
def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_resources" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the {name}/ folder next to the tenantry package")
