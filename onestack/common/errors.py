"""API errors and the wire formats services render them in.

Business logic raises :class:`APIError` subclasses; the app factory turns them into the
service's own error body (Keystone, Nova, Neutron, ... each have their own shape).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from onestack.common.logs import request_id_var


class APIError(Exception):
    """An error a client caused or must know about; never a traceback on the wire."""

    code = 500
    title = "Internal Server Error"
    default_message = "An unexpected error prevented the server from fulfilling your request."
    #: The error kind name some formats use (Neutron ``type``; Nova's body key).
    kind = "InternalError"
    #: A machine-readable error code where the format has one (Placement's ``code``).
    error_code: str | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        error_code: str | None = None,
    ):
        self.message = message or self.default_message
        self.headers = headers or {}
        if error_code is not None:
            self.error_code = error_code
        super().__init__(self.message)


class BadRequest(APIError):
    code, title, kind = 400, "Bad Request", "BadRequest"
    default_message = "The request is malformed or contains invalid values."


class ValidationError(BadRequest):
    """Request body or parameters failed validation."""


class Unauthorized(APIError):
    code, title, kind = 401, "Unauthorized", "Unauthorized"
    default_message = "The request you have made requires authentication."


class Forbidden(APIError):
    code, title, kind = 403, "Forbidden", "Forbidden"
    default_message = "You are not authorized to perform the requested action."


class NotFound(APIError):
    code, title, kind = 404, "Not Found", "NotFound"
    default_message = "Could not find the requested resource."


class MethodNotAllowed(APIError):
    code, title, kind = 405, "Method Not Allowed", "MethodNotAllowed"
    default_message = "The method is not allowed for the requested URL."


class NotAcceptable(APIError):
    code, title, kind = 406, "Not Acceptable", "NotAcceptable"


class RequestTimeout(APIError):
    """The request body stopped arriving; the connection is closed after the answer."""

    code, title, kind = 408, "Request Timeout", "RequestTimeout"
    default_message = "The request body was not received in time."

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(message, headers={"Connection": "close", **(headers or {})})


class Conflict(APIError):
    code, title, kind = 409, "Conflict", "Conflict"
    default_message = "The request conflicts with the current state of the resource."


class Gone(APIError):
    code, title, kind = 410, "Gone", "Gone"


class PayloadTooLarge(APIError):
    code, title, kind = 413, "Request Entity Too Large", "RequestEntityTooLarge"
    default_message = "The request body is larger than the server allows."


class UnsupportedMediaType(APIError):
    code, title, kind = 415, "Unsupported Media Type", "UnsupportedMediaType"


class UnprocessableEntity(APIError):
    code, title, kind = 422, "Unprocessable Entity", "UnprocessableEntity"


class ServiceUnavailable(APIError):
    code, title, kind = 503, "Service Unavailable", "ServiceUnavailable"
    default_message = "The service is not ready; try again shortly."


ErrorFormatter = Callable[[APIError], dict[str, Any]]


def of_status(status: int, message: str) -> APIError:
    """Another service's error answer as the same kind of error here (400, 403, 404, 409;
    anything else: the other service is unavailable, a 503)."""
    kinds: dict[int, type[APIError]] = {
        400: BadRequest,
        403: Forbidden,
        404: NotFound,
        409: Conflict,
    }
    return kinds.get(status, ServiceUnavailable)(message)


def keystone_format(error: APIError) -> dict[str, Any]:
    """``{"error": {"code", "title", "message"}}`` as Keystone answers."""
    return {"error": {"code": error.code, "title": error.title, "message": error.message}}


_NOVA_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    408: "requestTimeout",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    503: "serviceUnavailable",
}


def nova_format(error: APIError) -> dict[str, Any]:
    """``{"itemNotFound": {"code", "message"}}`` as Nova, Cinder and Placement-era APIs answer."""
    key = _NOVA_KEYS.get(error.code, "computeFault")
    return {key: {"code": error.code, "message": error.message}}


def neutron_format(error: APIError) -> dict[str, Any]:
    """``{"NeutronError": {"type", "message", "detail"}}`` as Neutron answers."""
    return {"NeutronError": {"type": error.kind, "message": error.message, "detail": ""}}


def glance_format(error: APIError) -> dict[str, Any]:
    """webob's JSON error body, as Glance answers: ``{"message", "code": "404 Not Found",
    "title"}``; a 401 comes from keystonemiddleware there, in Keystone's shape."""
    if error.code == 401:
        return keystone_format(error)
    return {"message": error.message, "code": f"{error.code} {error.title}", "title": error.title}


def placement_format(error: APIError) -> dict[str, Any]:
    """``{"errors": [{"status", "title", "detail", "code", "request_id"}]}`` as Placement
    answers; ``code`` is ``placement.undefined_code`` unless the error names one."""
    entry = {
        "status": error.code,
        "title": error.title,
        "detail": error.message,
        "code": error.error_code or "placement.undefined_code",
        "request_id": request_id_var.get(),
    }
    return {"errors": [entry]}
