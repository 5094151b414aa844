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


def tenant_schema() -> str:
    """The real schema a tenant revision is running against.

    Revisions must use it rather than the placeholder `tenant`: Alembic's ALTER operations
    (add_column, alter_column, ...) do not go through `schema_translate_map`.
    """
    from alembic import context

    schema = context.config.attributes.get("schema")
    if not isinstance(schema, str):
        raise RuntimeError("tenant revisions run through tenantry's migration runner only")
    return schema
