"""Neutron's error kinds: the ``type`` of ``{"NeutronError": {...}}`` names the exception."""

from __future__ import annotations

from onestack.common import errors


def _kind(base: type[errors.APIError], kind: str, message: str) -> type[errors.APIError]:
    return type(kind, (base,), {"kind": kind, "default_message": message})


def not_found(kind: str, what: str, ident: str) -> errors.APIError:
    """``NetworkNotFound`` & co: ``Network <id> could not be found.``"""
    err = errors.NotFound(f"{what} {ident} could not be found.")
    err.kind = kind
    return err


def conflict(kind: str, message: str) -> errors.APIError:
    err = errors.Conflict(message)
    err.kind = kind
    return err


def bad_request(message: str, kind: str = "InvalidInput") -> errors.APIError:
    err = errors.BadRequest(message)
    err.kind = kind
    return err


def forbidden(message: str, kind: str = "PolicyNotAuthorized") -> errors.APIError:
    err = errors.Forbidden(message)
    err.kind = kind
    return err


class PreconditionFailed(errors.APIError):
    code, title, kind = 412, "Precondition Failed", "RevisionNumberConstraintFailed"


class IpAddressGenerationFailure(errors.Conflict):
    kind = "IpAddressGenerationFailure"


def invalid_input(message: str) -> errors.APIError:
    return bad_request(f"Invalid input for operation: {message}")
