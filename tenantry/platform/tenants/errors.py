from tenantry.core.errors import Conflict, ValidationFailed


class SlugTaken(Conflict):
    code = "slug_taken"
    detail = "Another tenant already uses this slug."


class InvalidSlug(ValidationFailed):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Invalid slug: {reason}",
            fields=[{"loc": ["body", "slug"], "msg": reason, "type": "invalid_slug"}],
        )
