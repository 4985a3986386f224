"""Payload and exception encoding, and the request context on the wire."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from decimal import Decimal

import orjson
import pydantic
import pytest

from onestack.common.context import RequestContext
from onestack.common.errors import APIError, BadRequest, Forbidden, NotFound
from onestack.common.rpc import MessagingTimeout, RemoteError, UnsupportedVersion
from onestack.common.rpc.serialization import decode_exception, dumps, encode_exception, loads


class Color(enum.Enum):
    RED = "red"


class Flavor(pydantic.BaseModel):
    name: str
    ram: int


class HasToDict:
    def to_dict(self) -> dict[str, int]:
        return {"a": 1}


class LocalError(Exception):
    pass


def roundtrip(exc: BaseException) -> Exception:
    """What the caller sees: the exception through JSON and back."""
    return decode_exception(loads(dumps(encode_exception(exc))))


def test_json_safe_payloads() -> None:
    when = dt.datetime(2024, 5, 1, 12, 0, 1, tzinfo=dt.UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    data = {
        "when": when,
        "day": dt.date(2024, 5, 1),
        "id": ident,
        "color": Color.RED,
        "tags": {"x"},
        "price": Decimal("1.50"),
        "flavor": Flavor(name="m1", ram=512),
        "obj": HasToDict(),
        "nested": ({"k": None},),
        1: "int keys become strings",
    }
    assert loads(dumps(data)) == {
        "when": "2024-05-01T12:00:01+00:00",
        "day": "2024-05-01",
        "id": str(ident),
        "color": "red",
        "tags": ["x"],
        "price": "1.50",
        "flavor": {"name": "m1", "ram": 512},
        "obj": {"a": 1},
        "nested": [{"k": None}],
        "1": "int keys become strings",
    }


@pytest.mark.parametrize("bad", [object(), b"bytes", {"f": lambda: 1}, 2**70])
def test_what_is_not_json_safe_is_a_type_error_at_the_sender(bad: object) -> None:
    with pytest.raises(TypeError):
        dumps({"x": bad})


def test_builtin_exceptions_come_back_as_themselves() -> None:
    err = roundtrip(ValueError("bad", 3))
    assert type(err) is ValueError and err.args == ("bad", 3)
    key = roundtrip(KeyError("name"))
    assert type(key) is KeyError and key.args == ("name",)
    assert "Remote traceback" in "".join(err.__notes__)


def test_api_errors_keep_class_code_message_and_headers() -> None:
    err = roundtrip(NotFound("Image x could not be found."))
    assert type(err) is NotFound
    assert (err.code, err.message, str(err)) == (404, "Image x could not be found.", err.message)
    assert not getattr(err, "__notes__", None)  # expected errors carry no traceback
    forbidden = roundtrip(Forbidden())
    assert forbidden.message == Forbidden.default_message
    custom = BadRequest("nope", headers={"X-A": "1"})
    custom.code = 422
    back = roundtrip(custom)
    assert isinstance(back, BadRequest) and back.code == 422 and back.headers == {"X-A": "1"}
    assert BadRequest.code == 400  # the class is untouched


def test_api_errors_are_rebuilt_without_calling_their_constructor() -> None:
    assert encode_exception(APIError("x"))["type"] == "onestack.common.errors.APIError"
    err = decode_exception(
        {
            "type": "onestack.common.errors.Conflict",
            "message": "m",
            "args": ["m"],
            "api": {"code": 409, "message": "in use", "headers": {}},
        }
    )
    assert err.message == "in use" and err.code == 409  # type: ignore[attr-defined]


def test_messaging_errors_come_back_as_themselves() -> None:
    assert type(roundtrip(MessagingTimeout("slow"))) is MessagingTimeout
    assert type(roundtrip(UnsupportedVersion("2.0"))) is UnsupportedVersion
    nested = roundtrip(RemoteError("x.Y", "why"))
    assert isinstance(nested, RemoteError) and (nested.exc_type, nested.message) == ("x.Y", "why")


@pytest.mark.parametrize(
    "type_name",
    [
        "tests.unit.rpc.test_serialization.LocalError",  # not onestack
        "subprocess.CalledProcessError",  # a real class, but not ours to rebuild
        "builtins.SystemExit",  # not an Exception
        "builtins.print",  # not a class
        "onestack.no_such_module.Error",
        "onestack.common.errors.NoSuchError",
        "onestack.common.errors.keystone_format",
        "onestack.common.errors",
        "garbage",
    ],
)
def test_other_types_become_remote_error(type_name: str) -> None:
    err = decode_exception(
        {"type": type_name, "message": "oops", "args": ["oops"], "traceback": "Traceback ..."}
    )
    assert isinstance(err, RemoteError)
    assert (err.exc_type, err.message, err.traceback) == (type_name, "oops", "Traceback ...")
    assert str(err) == f"{type_name}: oops"


def test_local_exception_type_name_and_traceback() -> None:
    try:
        raise LocalError("deep")
    except LocalError as exc:
        data = encode_exception(exc)
    assert data["type"] == "tests.unit.rpc.test_serialization.LocalError"
    assert data["message"] == "deep" and data["args"] == ["deep"]
    assert "raise LocalError" in data["traceback"]
    orjson.dumps(data)


def test_unserializable_exception_args_become_strings() -> None:
    data = encode_exception(ValueError(object()))
    assert isinstance(data["args"][0], str)
    assert type(decode_exception(data)) is ValueError


def test_a_class_that_cannot_be_rebuilt_from_args_still_comes_back() -> None:
    err = decode_exception({"type": "builtins.UnicodeDecodeError", "message": "m", "args": ["m"]})
    assert type(err) is UnicodeDecodeError and err.args == ("m",)


def test_request_context_round_trip() -> None:
    ctx = RequestContext(
        request_id="req-1",
        user_id="u",
        project_id="p",
        roles=("admin", "member"),
        role_ids=("r1",),
        audit_ids=("a1",),
        is_admin_project=True,
        auth_token="tok",
        token=object(),
        system_scope="all",
    )
    wire = loads(dumps(ctx.to_dict()))
    assert "token" not in wire and wire["auth_token"] == "tok"
    assert wire["roles"] == ["admin", "member"]
    back = RequestContext.from_dict(wire | {"future_field": 1, "token": "ignored"})
    assert back.token is None
    assert back == dataclasses.replace(ctx, token=None)
    assert (back.roles, back.role_ids, back.audit_ids) == (("admin", "member"), ("r1",), ("a1",))
    assert back.policy_credentials() == ctx.policy_credentials()
    assert back.auth_token == "tok" and back.system_scope == "all"
