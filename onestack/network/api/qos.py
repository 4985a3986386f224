"""/v2.0/qos/policies with their rules of each type, and /v2.0/qos/rule-types."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.network import qos
from onestack.network.api import Caller, crud_routes, json_body, protected_router
from onestack.network.errors import not_found
from onestack.network.manager import manager_of

router = protected_router()
crud_routes(
    router,
    qos.POLICIES,
    path="qos/policies",
    create=qos.create_policy,
    list_=qos.list_policies,
    show=qos.show_policy,
    update=qos.update_policy,
    delete=qos.delete_policy,
)


@router.get("/qos/rule-types")
async def rule_types(request: Request, ctx: RequestContext = Caller) -> Response:
    return json({"rule_types": [{"type": kind} for kind in qos.RULE_TYPES]})


@router.get("/qos/rule-types/{kind}")
async def rule_type(request: Request, kind: str, ctx: RequestContext = Caller) -> Response:
    if kind not in qos.RULE_TYPES:
        raise not_found("QosRuleTypeNotFound", "QoS rule type", kind)
    params = [
        {"parameter_name": name, "parameter_type": "range" if name != "direction" else "choices"}
        for name in qos.RULE_TYPES[kind][1]
    ]
    return json(
        {
            "rule_type": {
                "type": kind,
                "drivers": [{"name": "linuxbridge", "supported_parameters": params}],
            }
        }
    )


def _member(collection: str) -> str:
    return qos.BY_COLLECTION.get(collection, "qos") + "_rule"


@router.get("/qos/policies/{policy_id}/{collection}")
async def list_rules(
    request: Request, policy_id: str, collection: str, ctx: RequestContext = Caller
) -> Response:
    rules = await qos.list_rules(manager_of(request), ctx, policy_id, collection)
    return json({collection: rules})


@router.post("/qos/policies/{policy_id}/{collection}")
async def create_rule(
    request: Request, policy_id: str, collection: str, ctx: RequestContext = Caller
) -> Response:
    out = await qos.create_rule(
        manager_of(request), ctx, policy_id, collection, await json_body(request)
    )
    return json({_member(collection): out}, status=201)


@router.get("/qos/policies/{policy_id}/{collection}/{rule_id}")
async def show_rule(
    request: Request, policy_id: str, collection: str, rule_id: str, ctx: RequestContext = Caller
) -> Response:
    out = await qos.show_rule(manager_of(request), ctx, policy_id, collection, rule_id)
    return json({_member(collection): out})


@router.put("/qos/policies/{policy_id}/{collection}/{rule_id}")
async def update_rule(
    request: Request, policy_id: str, collection: str, rule_id: str, ctx: RequestContext = Caller
) -> Response:
    out = await qos.update_rule(
        manager_of(request), ctx, policy_id, collection, rule_id, await json_body(request)
    )
    return json({_member(collection): out})


@router.delete("/qos/policies/{policy_id}/{collection}/{rule_id}")
async def delete_rule(
    request: Request, policy_id: str, collection: str, rule_id: str, ctx: RequestContext = Caller
) -> Response:
    await qos.delete_rule(manager_of(request), ctx, policy_id, collection, rule_id)
    return no_content()
