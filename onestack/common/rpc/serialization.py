"""What crosses the wire: JSON payloads (orjson) and exceptions encoded as type + message + args.

Payloads must be JSON-safe. Datetimes, dates, UUIDs, enums and dataclasses are encoded by orjson
(datetimes as ISO 8601 strings); sets become lists, Decimals strings, pydantic models their JSON
dump and objects with ``to_dict()`` that dict. Anything else is a ``TypeError`` at the sender.
"""

from __future__ import annotations

import builtins
import importlib
import sys
import traceback
from decimal import Decimal
from typing import Any

import orjson

from onestack.common.errors import APIError
from onestack.common.rpc.errors import RemoteError

#: Longest remote traceback text sent back with an error.
MAX_TRACEBACK = 8000


def _default(obj: Any) -> Any:
    if isinstance(obj, set | frozenset):
        return list(obj)
    if isinstance(obj, Decimal):
        return str(obj)
    if hasattr(obj, "model_dump"):  # pydantic models
        return obj.model_dump(mode="json")
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable in an RPC payload")


def dumps(obj: Any) -> bytes:
    """``obj`` as JSON bytes; ``TypeError`` when it is not JSON-safe."""
    try:
        return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        raise TypeError(str(exc)) from exc


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def _json_args(args: tuple[Any, ...]) -> list[Any]:
    """The exception's args if they are JSON-safe, else their ``str()``."""
    try:
        return list(orjson.loads(dumps(list(args))))
    except TypeError:
        return [str(arg) for arg in args]


def encode_exception(exc: BaseException) -> dict[str, Any]:
    """``{"type": "module.Class", "message", "args"[, "api"][, "traceback"]}``."""
    cls = type(exc)
    data: dict[str, Any] = {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "message": str(exc),
        "args": _json_args(exc.args),
    }
    if isinstance(exc, APIError):
        data["api"] = {"code": exc.code, "message": exc.message, "headers": exc.headers}
    else:
        text = "".join(traceback.format_exception(exc))
        data["traceback"] = text[-MAX_TRACEBACK:]
    return data


def _local_class(type_name: str) -> type[Exception] | None:
    """The local exception class for a remote type name, if it is one we may rebuild:
    a builtin exception or a top-level class of an ``onestack`` module."""
    module_name, _, name = type_name.rpartition(".")
    if module_name == "builtins":
        found = getattr(builtins, name, None)
    elif module_name == "onestack" or module_name.startswith("onestack."):
        module = sys.modules.get(module_name)
        if module is None:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                return None
        found = getattr(module, name, None)
    else:
        return None
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    return None


def decode_exception(data: dict[str, Any]) -> Exception:
    """The exception :func:`encode_exception` described, rebuilt as its own class when allowed,
    else a :class:`RemoteError`."""
    type_name = str(data.get("type") or "Exception")
    message = str(data.get("message") or "")
    remote_tb = data.get("traceback")
    cls = _local_class(type_name)
    if cls is None:
        return RemoteError(type_name, message, remote_tb)
    args = data.get("args")
    args = list(args) if isinstance(args, list) else [message]
    exc: Exception
    api = data.get("api")
    if issubclass(cls, APIError) and isinstance(api, dict):
        exc = cls.__new__(cls)
        APIError.__init__(exc, str(api.get("message") or message), headers=api.get("headers"))
        if isinstance(api.get("code"), int) and api["code"] != cls.code:
            exc.code = api["code"]
    else:
        try:
            exc = cls(*args)
        except Exception:
            exc = cls.__new__(cls)
            exc.args = tuple(args)
    if remote_tb:
        exc.add_note(f"Remote traceback:\n{remote_tb}")
    return exc
