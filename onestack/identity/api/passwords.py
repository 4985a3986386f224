"""POST /v3/users/{user_id}/password: a user changes their own password.

As in Keystone the original password proves the call: no token or policy check is needed, so a
user whose password expired can still change it.
"""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from onestack.common.api import no_content
from onestack.identity import users
from onestack.identity.api import public_router
from onestack.identity.api.common import body_as
from onestack.identity.manager import manager_of

router = public_router()


class PasswordChangeFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    original_password: str = Field(max_length=4096)
    password: str = Field(max_length=4096)


class PasswordChange(BaseModel):
    user: PasswordChangeFields


@router.post("/v3/users/{user_id}/password")
async def change_password(request: Request, user_id: str) -> Response:
    body = await body_as(request, PasswordChange)
    await users.change_password(
        manager_of(request), user_id, body.user.original_password, body.user.password
    )
    return no_content()
