from tenantry.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class PermissionDenied(Forbidden):
    code = "permission_denied"

    def __init__(self, permission: str) -> None:
        super().__init__(f"This needs the {permission} permission.")
        self.permission = permission


class RoleNotFound(NotFound):
    code = "role_not_found"
    detail = "No such role."


class RoleNameTaken(Conflict):
    code = "role_name_taken"
    detail = "Another role already has this name."


class RoleInUse(Conflict):
    code = "role_in_use"
    detail = "The role is still assigned; name a role to reassign its holders to."


class BuiltinRoleImmutable(Forbidden):
    code = "builtin_role_immutable"
    detail = "Built-in roles cannot be renamed, changed or deleted."


class UnknownPermission(ValidationFailed):
    def __init__(self, permissions: list[str]) -> None:
        super().__init__(
            f"Unknown or reserved permissions: {', '.join(sorted(permissions))}",
            fields=[
                {
                    "loc": ["body", "permissions"],
                    "msg": f"unknown: {p}",
                    "type": "unknown_permission",
                }
                for p in sorted(permissions)
            ],
        )


class SelfRoleChange(Forbidden):
    code = "self_role_change"
    detail = "You cannot change your own roles."


class RoleEscalation(Forbidden):
    code = "role_escalation"
    detail = "You can only grant or revoke roles whose permissions you hold yourself."


class LastOwner(Conflict):
    code = "last_owner"
    detail = "The organization must keep at least one owner."
