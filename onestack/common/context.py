"""The request context: who is calling, in what scope, for which request."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(slots=True)
class RequestContext:
    """What a validated token says about the caller, plus the request id.

    ``roles`` are role names, already expanded through implied roles.
    """

    request_id: str
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None
    system_scope: str | None = None
    roles: tuple[str, ...] = ()
    role_ids: tuple[str, ...] = ()
    is_admin_project: bool = False
    trust_id: str | None = None
    trustor_id: str | None = None
    trustee_id: str | None = None
    application_credential_id: str | None = None
    audit_ids: tuple[str, ...] = ()
    auth_token: str | None = None
    token: Any = field(default=None, repr=False)

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    def policy_credentials(self) -> dict[str, Any]:
        """The credentials dict oslo.policy rules are checked against."""
        return {
            "user_id": self.user_id,
            "user_domain_id": self.user_domain_id,
            "project_id": self.project_id,
            "project_domain_id": self.project_domain_id,
            "domain_id": self.domain_id,
            "system_scope": self.system_scope,
            "roles": list(self.roles),
            "is_admin_project": self.is_admin_project,
            "trust_id": self.trust_id,
            "trustor_id": self.trustor_id,
            "trustee_id": self.trustee_id,
            "application_credential_id": self.application_credential_id,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field but ``token`` (the validator's own object); for RPC."""
        return {
            f.name: list(value) if isinstance(value := getattr(self, f.name), tuple) else value
            for f in fields(self)
            if f.name != "token"
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestContext:
        """The context :meth:`to_dict` described; unknown keys are ignored."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data and f.name != "token"}
        for name in ("roles", "role_ids", "audit_ids"):
            if name in values:
                values[name] = tuple(values[name] or ())
        return cls(**values)
