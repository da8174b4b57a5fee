"""Domain errors: services raise these, one middleware turns them into JSON 4xx answers."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses. `code` is the machine-readable `error` field."""

    status = 400
    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(DomainError):
    status, code = 400, "invalid"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class TooLarge(DomainError):
    status, code = 413, "too_large"


class Throttled(DomainError):
    status, code = 429, "throttled"
