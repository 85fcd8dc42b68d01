"""User-facing errors. Each becomes one plain sentence in chat; anything else gets a ref id."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; `str(error)` is shown to them as is."""

    outcome = "user_error"


class UsageError(UserError):
    """The command did not parse; the message includes the usage line."""


class NotFoundError(UserError):
    outcome = "not_found"


class PermissionDeniedError(UserError):
    outcome = "denied"


class ConflictError(UserError):
    """The request clashes with the current state (e.g. acknowledging a resolved incident)."""

    outcome = "conflict"
