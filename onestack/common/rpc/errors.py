"""Errors of the messaging layer itself (as opposed to errors raised by remote methods)."""

from __future__ import annotations


class MessagingError(Exception):
    """Base class of every RPC/notification transport error."""


class MessagingTimeout(MessagingError):
    """No reply to a call within its timeout (no server, or the server was too slow)."""


class MessageDeliveryFailure(MessagingError):
    """The transport could not hand a message to the broker in time."""


class NoSuchMethod(MessagingError):
    """No endpoint of the server has the public method the message names."""


class UnsupportedVersion(MessagingError):
    """The endpoints with the method implement an incompatible RPC API version."""


class RemoteError(MessagingError):
    """A remote exception whose class may not be rebuilt here (not an onestack or builtin one).

    ``exc_type`` is the remote ``module.Class``, ``message`` its ``str()``; ``traceback`` the
    remote traceback text when the server sent one.
    """

    def __init__(self, exc_type: str, message: str = "", traceback: str | None = None):
        super().__init__(exc_type, message)
        self.exc_type = exc_type
        self.message = message
        self.traceback = traceback

    def __str__(self) -> str:
        return f"{self.exc_type}: {self.message}" if self.message else self.exc_type
