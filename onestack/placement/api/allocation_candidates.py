"""GET /allocation_candidates (1.10), with every query parameter up to 1.39."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Depends, Request
from starlette.responses import Response

from onestack.common.api import json
from onestack.common.context import RequestContext
from onestack.common.microversions import Version, since
from onestack.placement import candidates, summaries
from onestack.placement.api import protected_router
from onestack.placement.api.common import (
    Caller,
    bad_request,
    normalize_uuid,
    parse_member_of,
    parse_resources,
    parse_traits,
    query,
    version,
)
from onestack.placement.candidates import CandidateRequest, RequestGroup
from onestack.placement.manager import manager_of
from onestack.placement.rows import gc_paused
from onestack.placement.views import cache_headers

router = protected_router(dependencies=[Depends(since("1.10"))])
_GROUPED = ("resources", "required", "member_of", "in_tree")


def _suffix_pattern(v: Version) -> str:
    return r"([1-9][0-9]*|[a-zA-Z0-9_-]{1,64})" if v >= "1.33" else r"([1-9][0-9]*)"


def parse_request(request: Request, v: Version, max_candidates: int) -> CandidateRequest:
    allowed = ["resources"]
    grouped = ["resources"]
    if v >= "1.16":
        allowed.append("limit")
    if v >= "1.17":
        allowed.append("required")
        grouped.append("required")
    if v >= "1.21":
        allowed.append("member_of")
        grouped.append("member_of")
    if v >= "1.25":
        allowed.append("group_policy")
    if v >= "1.31":
        allowed.append("in_tree")
        grouped.append("in_tree")
    if v >= "1.35":
        allowed.append("root_required")
    if v >= "1.36":
        allowed.append("same_subtree")
    patterns = []
    if v >= "1.25":
        patterns = [f"({'|'.join(grouped)}){_suffix_pattern(v)}"]
    query(request, allowed, patterns=patterns)
    params = request.query_params
    groups: dict[str, RequestGroup] = {}
    splitter = re.compile(f"^({'|'.join(_GROUPED)})(.*)$")
    for key in dict.fromkeys(k for k, _ in params.multi_items()):
        match = splitter.match(key)
        if not match or key in ("root_required",):
            continue
        kind, suffix = match.groups()
        if suffix and v < "1.25":
            continue
        group = groups.setdefault(suffix, RequestGroup(suffix))
        values = params.getlist(key)
        if kind == "resources":
            group.resources = parse_resources(values[-1], key)
        elif kind == "required":
            group.required, group.forbidden = parse_traits(values, v, key)
        elif kind == "member_of":
            group.member_of, group.forbidden_aggs = parse_member_of(values, v, key)
        elif kind == "in_tree":
            group.in_tree = normalize_uuid(values[-1])
    if not any(g.resources for g in groups.values()):
        raise bad_request(
            "At least one of 'resources' or 'resources{N}' is required."
            if v >= "1.25"
            else "Invalid query string parameters: 'resources' is a required property",
            "placement.query.missing_value",
        )
    for group in groups.values():
        if not group.resources and (v < "1.36" or group.suffix == ""):
            name = group.suffix
            raise bad_request(
                f"All traits parameters must be associated with resources. Found the "
                f"following orphaned traits keys: required{name}, member_of{name}, "
                f"in_tree{name}",
                "placement.query.bad_value",
            )
    req = CandidateRequest(groups=[groups[k] for k in sorted(groups, key=lambda s: (s != "", s))])
    policy = params.get("group_policy")
    if policy is not None and policy not in ("none", "isolate"):
        raise bad_request(
            f"Invalid query string parameters: '{policy}' is not one of ['none', 'isolate']",
            "placement.query.bad_value",
        )
    suffixed = [g for g in groups.values() if g.suffix]
    if len(suffixed) > 1 and policy is None:
        raise bad_request(
            'The "group_policy" parameter is required when specifying more '
            'than one "resources{N}" parameter.',
            "placement.query.missing_value",
        )
    req.group_policy = policy
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            limit = 0
        if limit < 1:
            raise bad_request(
                f"Invalid query string parameters: Failed validating 'pattern' "
                f"in schema['properties']['limit']: {params['limit']!r}",
                "placement.query.bad_value",
            )
        req.limit = min(limit, 2**31)
    if max_candidates > 0:
        req.limit = min(req.limit or max_candidates, max_candidates)
    if "root_required" in params:
        req.root_required, req.root_forbidden = parse_traits(
            params.getlist("root_required"), Version(1, 39) if v >= "1.39" else v, "root_required"
        )
    for value in params.getlist("same_subtree"):
        suffixes = [s.strip() for s in value.split(",")]
        unknown = [s for s in suffixes if s not in groups or not s]
        if unknown:
            raise bad_request(
                f"Real suffixes must be specified in same_subtree. "
                f"{', '.join(unknown)} not found in request groups.",
                "placement.query.bad_value",
            )
        req.same_subtree.append(suffixes)
    in_subtree = {s for suffixes in req.same_subtree for s in suffixes}
    for group in groups.values():
        if not group.resources and group.suffix not in in_subtree:
            raise bad_request(
                f"Resourceless suffixed group request should be specified in `same_subtree` "
                f"query param: bad group(s) - ['{group.suffix}'].",
                "placement.query.bad_value",
            )
    return req


def _render_requests(result: candidates.Result, mgr: Any, v: Version) -> list[dict[str, Any]]:
    nodes = result.nodes
    names = mgr.classes.by_id
    out = []
    listed, with_mappings = v < "1.12", v >= "1.34"
    rendered: dict[int, dict[str, int]] = {}  # by id(): many requests share one amounts dict

    def named(res: dict[int, int]) -> dict[str, int]:
        found = rendered.get(id(res))
        if found is None:
            found = rendered[id(res)] = {names[rc]: n for rc, n in res.items()}
        return found

    for alloc, mapping in result.requests:
        if listed:
            entry: dict[str, Any] = {
                "allocations": [
                    {
                        "resource_provider": {"uuid": nodes[rp].uuid},
                        "resources": {names[rc]: n for rc, n in res.items()},
                    }
                    for rp, res in alloc.items()
                ]
            }
        else:
            entry = {
                "allocations": {
                    nodes[rp].uuid: {"resources": named(res)} for rp, res in alloc.items()
                }
            }
            if with_mappings:
                entry["mappings"] = {
                    s: [nodes[rp].uuid for rp in rps] for s, rps in mapping.items()
                }
        out.append(entry)
    return out


@router.get("/allocation_candidates")
async def list_(request: Request, ctx: RequestContext = Caller) -> Response:
    mgr = manager_of(request)
    mgr.enforce(ctx, "placement:allocation_candidates:list")
    v = version(request)
    req = parse_request(request, v, mgr.conf.max_allocation_candidates)
    requested = {rc for g in req.groups for rc in g.resources}
    # no cyclic collections while the thousands of rows and candidates are built (collected
    # after the answer): with the whole cloud's objects in memory they cost more than the work
    with gc_paused():
        async with mgr.read() as conn:
            randomize = mgr.conf.randomize_allocation_candidates
            result = await candidates.compute(mgr, conn, req, randomize)
            provider_summaries = await summaries.provider_summaries(mgr, conn, result, requested, v)
        body = {
            "allocation_requests": _render_requests(result, mgr, v),
            "provider_summaries": provider_summaries,
        }
        return json(body, headers=cache_headers(v))
