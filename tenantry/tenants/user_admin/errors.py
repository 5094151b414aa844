from tenantry.core.errors import Conflict, Forbidden, NotFound, TenantryError


class UserNotFound(NotFound):
    # Unknown ids and ids from another tenant's schema answer alike: nothing to enumerate.
    code = "user_not_found"
    detail = "No such user."


class EmailTaken(Conflict):
    code = "email_taken"
    detail = "A user with this email address already exists."


class SelfAction(Forbidden):
    code = "self_action"
    detail = "You cannot lock, disable or delete your own account."


class Outranked(Forbidden):
    code = "outranked"
    detail = "This user holds permissions you lack; only someone holding all of them may do this."


class InvalidCursor(TenantryError):
    status_code = 400
    code = "invalid_cursor"
    detail = "The cursor is malformed or belongs to another sort order; start from the first page."
