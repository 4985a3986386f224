"""Grants (project, domain, system and OS-INHERIT role assignments) and /v3/role_assignments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import base_url, json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest
from onestack.identity import assignment
from onestack.identity.api import protected_router
from onestack.identity.api.common import Caller, enforce, list_body, list_page, truthy
from onestack.identity.api.roles import view as role_view
from onestack.identity.assignment import AssignmentEntry, AssignmentQuery, Grant, GrantParties
from onestack.identity.manager import manager_of
from onestack.identity.models import SYSTEM_TARGET, Project

router = protected_router()

Handler = Callable[..., Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class GrantRoute:
    """One family of grant URLs: an actor kind on a target kind, inherited or not."""

    actor: str  # "user" | "group"
    target: str  # "project" | "domain" | "system"
    inherited: bool = False

    def roles_path(self, target_id: str, actor_id: str) -> str:
        """The ``.../roles`` collection path (without ``/v3``)."""
        if self.target == "system":
            return f"/system/{self.actor}s/{actor_id}/roles"
        prefix = "/OS-INHERIT" if self.inherited else ""
        return f"{prefix}/{self.target}s/{target_id}/{self.actor}s/{actor_id}/roles"

    def one_path(self, target_id: str, actor_id: str, role_id: str) -> str:
        suffix = "/inherited_to_projects" if self.inherited else ""
        return f"{self.roles_path(target_id, actor_id)}/{role_id}{suffix}"

    def list_path(self, target_id: str, actor_id: str) -> str:
        suffix = "/inherited_to_projects" if self.inherited else ""
        return self.roles_path(target_id, actor_id) + suffix

    def rule(self, action: str) -> str:
        noun = "grants" if action == "list" else "grant"
        if self.target == "system":
            return f"identity:{action}_system_{noun}_for_{self.actor}"
        return f"identity:{action}_{noun}"

    def grant(self, request: Request) -> Grant:
        p = request.path_params
        return Grant(
            self.actor,
            p["actor_id"],
            self.target,
            p.get("target_id", SYSTEM_TARGET),
            p["role_id"],
            self.inherited,
        )


ROUTES = [
    *(
        GrantRoute(a, t, i)
        for t in ("project", "domain")
        for a in ("user", "group")
        for i in (False, True)
    ),
    GrantRoute("user", "system"),
    GrantRoute("group", "system"),
]
_ROUTE_OF = {(r.actor, r.target, r.inherited): r for r in ROUTES}


def grant_url(request: Request, grant: Grant) -> str:
    route = _ROUTE_OF[(grant.actor, grant.target, grant.inherited)]
    path = route.one_path(grant.target_id, grant.actor_id, grant.role_id)
    return f"{base_url(request)}/v3{path}"


def _compact(value: dict[str, Any]) -> dict[str, Any]:
    """Drop None values: oslo.policy would match ``%(x)s`` of None to an absent credential."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            item = _compact(item)
        if item is not None and item != {}:
            out[key] = item
    return out


def grant_target(route: GrantRoute, parties: GrantParties) -> dict[str, Any]:
    """``{"target": {"project"|"domain", "user"|"group", "actor", "role"}}`` for the policy."""
    target: dict[str, Any] = {}
    row = parties.target
    if isinstance(row, Project):
        target["project"] = {"id": row.id, "domain_id": row.domain_id}
    elif row is not None:
        target["domain"] = {"id": row.id}
    if parties.actor is not None:
        actor = {"id": parties.actor.id, "domain_id": parties.actor.domain_id}
        target[route.actor] = actor
        target["actor"] = {"domain_id": parties.actor.domain_id}
    if parties.role is not None:
        r = parties.role
        target["role"] = {"id": r.id, "name": r.name, "domain_id": assignment.role_domain(r)}
    return {"target": _compact(target)}


async def _authorize(
    request: Request, ctx: RequestContext, route: GrantRoute, action: str, role_id: str | None
) -> None:
    """Policy first (on what exists), so a stranger gets 403 rather than learning of ids."""
    p = request.path_params
    target_id = p.get("target_id", SYSTEM_TARGET)
    async with manager_of(request).read() as session:
        parties = await assignment.grant_parties(
            session, route.actor, p["actor_id"], route.target, target_id, role_id
        )
    enforce(request, ctx, route.rule(action), grant_target(route, parties))


def _put(route: GrantRoute) -> Handler:
    async def create_grant(request: Request, ctx: RequestContext = Caller) -> Response:
        grant = route.grant(request)
        await _authorize(request, ctx, route, "create", grant.role_id)
        async with manager_of(request).write() as session:
            await assignment.create_grant(session, grant)
        return no_content()

    return create_grant


def _check(route: GrantRoute) -> Handler:
    async def check_grant(request: Request, ctx: RequestContext = Caller) -> Response:
        grant = route.grant(request)
        await _authorize(request, ctx, route, "check", grant.role_id)
        async with manager_of(request).read() as session:
            await assignment.check_grant(session, grant)
        return no_content()

    return check_grant


def _delete(route: GrantRoute) -> Handler:
    async def revoke_grant(request: Request, ctx: RequestContext = Caller) -> Response:
        grant = route.grant(request)
        await _authorize(request, ctx, route, "revoke", grant.role_id)
        async with manager_of(request).write() as session:
            await assignment.delete_grant(session, grant)
        return no_content()

    return revoke_grant


def _list(route: GrantRoute) -> Handler:
    async def list_grants(request: Request, ctx: RequestContext = Caller) -> Response:
        await _authorize(request, ctx, route, "list", None)
        p = request.path_params
        mgr = manager_of(request)
        page = list_page(request, mgr)
        async with mgr.read() as session:
            roles = await assignment.list_grant_roles(
                session,
                route.actor,
                p["actor_id"],
                route.target,
                p.get("target_id", SYSTEM_TARGET),
                page,
                inherited=route.inherited,
            )
            items = [role_view(request, r) for r in roles]
        return json(list_body(request, "roles", items, page))

    return list_grants


for _route in ROUTES:
    _one = _route.one_path("{target_id}", "{actor_id}", "{role_id}")
    router.add_api_route(_one, _put(_route), methods=["PUT"])
    router.add_api_route(_one, _check(_route), methods=["GET", "HEAD"])
    router.add_api_route(_one, _delete(_route), methods=["DELETE"])
    router.add_api_route(
        _route.list_path("{target_id}", "{actor_id}"), _list(_route), methods=["GET"]
    )


# -- GET /v3/role_assignments -----------------------------------------------------------------
def _query(request: Request) -> AssignmentQuery:
    q = request.query_params
    system = q.get("scope.system")
    if system is not None and system != "all":
        raise BadRequest("scope.system must be 'all'.")
    inherited_to = q.get("scope.OS-INHERIT:inherited_to")
    if inherited_to is not None and inherited_to != "projects":
        raise BadRequest("scope.OS-INHERIT:inherited_to must be 'projects'.")
    query = AssignmentQuery(
        user_id=q.get("user.id") or None,
        group_id=q.get("group.id") or None,
        role_id=q.get("role.id") or None,
        project_id=q.get("scope.project.id") or None,
        domain_id=q.get("scope.domain.id") or None,
        system=system is not None,
        inherited_only=inherited_to is not None,
        effective="effective" in q and truthy(q["effective"]),
        include_subtree="include_subtree" in q and truthy(q["include_subtree"]),
    )
    query.validate()
    return query


async def _authorize_report(request: Request, ctx: RequestContext, query: AssignmentQuery) -> None:
    """Cloud readers see everything; a domain reader only what is scoped within its domain."""
    project = None
    if query.project_id:
        async with manager_of(request).read() as session:
            project = await session.get(Project, query.project_id)
    if query.include_subtree:
        target = {"project": {"id": query.project_id}}
        if project is not None:
            target["project"]["domain_id"] = project.domain_id
        enforce(request, ctx, "identity:list_role_assignments_for_tree", {"target": target})
        return
    domain_id = query.domain_id or (project.domain_id if project is not None else None)
    enforce(
        request,
        ctx,
        "identity:list_role_assignments",
        {"target": _compact({"domain_id": domain_id})},
    )


def _named(kind: str, ident: str, names: assignment.Names) -> dict[str, Any]:
    """``{"id", "name"[, "domain": {"id", "name"}]}`` as include_names renders an entity."""
    rows: dict[str, Any] = getattr(names, kind + "s")
    row = rows.get(ident)
    ref: dict[str, Any] = {"id": ident, "name": row.name if row is not None else ""}
    if row is None or kind == "domain":
        return ref
    owner = assignment.role_domain(row) if kind == "role" else row.domain_id
    if owner:
        domain = names.domains.get(owner)
        ref["domain"] = {"id": owner, "name": domain.name if domain is not None else ""}
    return ref


def _entry_view(
    request: Request, e: AssignmentEntry, names: assignment.Names | None
) -> dict[str, Any]:
    def ref(kind: str, ident: str) -> dict[str, Any]:
        return _named(kind, ident, names) if names is not None else {"id": ident}

    scope: dict[str, Any]
    if e.scope == "system":
        scope = {"system": {"all": True}}
    else:
        scope = {e.scope: ref(e.scope, e.scope_id)}
    if e.inherited:
        scope["OS-INHERIT:inherited_to"] = "projects"
    links = {"assignment": grant_url(request, e.source)}
    root = f"{base_url(request)}/v3"
    if e.membership_group:
        links["membership"] = f"{root}/groups/{e.membership_group}/users/{e.actor_id}"
    if e.prior_role_id:
        links["prior_role"] = f"{root}/roles/{e.prior_role_id}"
    return {
        "role": ref("role", e.role_id),
        e.actor: ref(e.actor, e.actor_id),
        "scope": scope,
        "links": links,
    }


@router.get("/role_assignments")
async def list_role_assignments(request: Request, ctx: RequestContext = Caller) -> Response:
    query = _query(request)
    await _authorize_report(request, ctx, query)
    include_names = "include_names" in request.query_params and truthy(
        request.query_params["include_names"]
    )
    async with manager_of(request).read() as session:
        entries = await assignment.list_role_assignments(session, query)
        names = await assignment.names_for(session, entries) if include_names else None
        items = [_entry_view(request, e, names) for e in entries]
    links = {"self": str(request.url), "previous": None, "next": None}
    return json({"role_assignments": items, "links": links})
