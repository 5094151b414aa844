"""The README documents every setting, and nothing that no longer exists."""

import re
from pathlib import Path

from tenantry.core.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_lists_every_setting() -> None:
    documented = set(re.findall(r"`(TENANTRY_[A-Z0-9_]+)`", README.read_text()))
    expected = {f"TENANTRY_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from the README"
    assert documented - expected == set(), "the README names settings that do not exist"
