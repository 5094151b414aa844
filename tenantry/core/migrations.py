"""Alembic configuration for the two migration trees: `platform` and `tenant`."""

from enum import StrEnum
from functools import lru_cache

from alembic.config import Config
from alembic.script import ScriptDirectory

from tenantry.core.resources import resource_dir


class Tree(StrEnum):
    PLATFORM = "platform"
    TENANT = "tenant"


def alembic_config(tree: Tree) -> Config:
    """An in-memory Alembic config; no alembic.ini is needed to run migrations from code."""
    config = Config()
    config.set_main_option("script_location", str(resource_dir("alembic") / tree.value))
    return config


@lru_cache
def head_revision(tree: Tree) -> str:
    head = ScriptDirectory.from_config(alembic_config(tree)).get_current_head()
    if head is None:
        raise RuntimeError(f"the {tree} migration tree has no revisions")
    return head
