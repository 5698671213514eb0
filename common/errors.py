"""The one error hierarchy of Dayu.

Every error a component raises on purpose derives from :class:`DayuError`. Each carries an HTTP
status, a stable machine-readable ``code``, a human ``message`` and optional structured ``detail``,
so the single FastAPI handler in :mod:`common.service` can shape every response the same way:
``{"error": {"code", "message", "detail"}}``.
"""

from __future__ import annotations

from typing import Any


class DayuError(Exception):
    """Base of all Dayu errors."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, detail: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "detail": self.detail}}

    def __str__(self) -> str:
        return self.message


class InvalidInput(DayuError):
    """The caller sent something malformed or inconsistent."""

    status_code = 400
    code = "invalid_input"


class ConfigError(InvalidInput):
    """A configuration file or hook parameter is wrong; the message names the file/line or field."""

    code = "invalid_config"


class DagError(InvalidInput):
    """A DAG description breaks a rule; the message names the stage at fault."""

    code = "invalid_dag"

    def __init__(self, message: str, *, stage: str | None = None, detail: Any = None) -> None:
        super().__init__(message, detail=detail if detail is not None else {"stage": stage})
        self.stage = stage


class HookError(ConfigError):
    """An unknown hook alias or bad hook parameters."""

    code = "invalid_hook"


class Unauthorized(DayuError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DayuError):
    status_code = 403
    code = "forbidden"


class NotFound(DayuError):
    """What the request names does not exist here (now)."""

    status_code = 404
    code = "not_found"


class Conflict(DayuError):
    """The request does not fit the present state (nothing installed yet, a name taken, in use)."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(DayuError):
    status_code = 413
    code = "payload_too_large"


class DecodeError(DayuError):
    """A segment (video file) cannot be decoded: corrupt, empty or truncated."""

    status_code = 422
    code = "decode_error"


class Overloaded(DayuError):
    """A bounded queue or buffer is full."""

    status_code = 503
    code = "overloaded"


class Unavailable(DayuError):
    """A dependency (another service, an optional package, a device) cannot be used now."""

    status_code = 503
    code = "unavailable"


class TransportError(DayuError):
    """A call to another service failed after its bounded retries."""

    status_code = 502
    code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message, detail=detail if detail is not None else {"url": url, "status": status})
        self.url = url
        self.status = status


class UpstreamTimeout(TransportError):
    status_code = 504
    code = "upstream_timeout"
