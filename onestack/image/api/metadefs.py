"""/v2/metadefs: namespaces, their properties, objects and tags; resource types."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from onestack.common.api import json, no_content
from onestack.common.context import RequestContext
from onestack.common.errors import NotFound
from onestack.image import metadefs
from onestack.image.api import protected_router
from onestack.image.api.common import Caller, json_object
from onestack.image.manager import manager_of
from onestack.image.models import MetadefObject, MetadefProperty, MetadefTag

router = protected_router()
NS = "/metadefs/namespaces/{namespace}"


@router.get("/metadefs/namespaces")
async def list_namespaces(request: Request, ctx: RequestContext = Caller) -> Response:
    return json(await metadefs.list_namespaces(manager_of(request), ctx, request.query_params))


@router.post("/metadefs/namespaces")
async def create_namespace(request: Request, ctx: RequestContext = Caller) -> Response:
    body = await json_object(request)
    return json(await metadefs.create_namespace(manager_of(request), ctx, body), status=201)


@router.get(NS)
async def show_namespace(
    request: Request, namespace: str, ctx: RequestContext = Caller
) -> Response:
    mgr = manager_of(request)
    async with mgr.read() as session:
        ns = await metadefs.get_namespace(mgr, session, ctx, namespace, "get_metadef_namespace")
        view = await metadefs.namespace_detail(
            session, ns, request.query_params.get("resource_type")
        )
    return json(view)


@router.put(NS)
async def update_namespace(
    request: Request, namespace: str, ctx: RequestContext = Caller
) -> Response:
    body = await json_object(request)
    return json(await metadefs.update_namespace(manager_of(request), ctx, namespace, body))


@router.delete(NS)
async def delete_namespace(
    request: Request, namespace: str, ctx: RequestContext = Caller
) -> Response:
    await metadefs.delete_namespace(manager_of(request), ctx, namespace)
    return no_content()


@router.delete(NS + "/{kind}")
async def delete_contents(
    request: Request, namespace: str, kind: str, ctx: RequestContext = Caller
) -> Response:
    if kind not in ("properties", "objects", "tags"):
        raise NotFound("The resource could not be found.")
    await metadefs.delete_contents(manager_of(request), ctx, namespace, kind)
    return no_content()


# properties


@router.get(NS + "/properties")
async def list_properties(
    request: Request, namespace: str, ctx: RequestContext = Caller
) -> Response:
    return json(await metadefs.list_properties(manager_of(request), ctx, namespace))


@router.post(NS + "/properties")
async def create_property(
    request: Request, namespace: str, ctx: RequestContext = Caller
) -> Response:
    body = await json_object(request)
    return json(await metadefs.save_property(manager_of(request), ctx, namespace, body), status=201)


@router.get(NS + "/properties/{name}")
async def show_property(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    return json(
        await metadefs.get_property(
            manager_of(request), ctx, namespace, name, request.query_params.get("resource_type")
        )
    )


@router.put(NS + "/properties/{name}")
async def update_property(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    body = await json_object(request)
    return json(await metadefs.save_property(manager_of(request), ctx, namespace, body, name))


@router.delete(NS + "/properties/{name}")
async def delete_property(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    await metadefs.delete_one(
        manager_of(request), ctx, namespace, MetadefProperty, name, "remove_metadef_property"
    )
    return no_content()


# objects


@router.get(NS + "/objects")
async def list_objects(request: Request, namespace: str, ctx: RequestContext = Caller) -> Response:
    return json(await metadefs.list_objects(manager_of(request), ctx, namespace))


@router.post(NS + "/objects")
async def create_object(request: Request, namespace: str, ctx: RequestContext = Caller) -> Response:
    body = await json_object(request)
    return json(await metadefs.save_object(manager_of(request), ctx, namespace, body), status=201)


@router.get(NS + "/objects/{name}")
async def show_object(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    return json(await metadefs.get_object(manager_of(request), ctx, namespace, name))


@router.put(NS + "/objects/{name}")
async def update_object(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    body = await json_object(request)
    return json(await metadefs.save_object(manager_of(request), ctx, namespace, body, name))


@router.delete(NS + "/objects/{name}")
async def delete_object(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    await metadefs.delete_one(
        manager_of(request), ctx, namespace, MetadefObject, name, "delete_metadef_object"
    )
    return no_content()


# tags


@router.get(NS + "/tags")
async def list_tags(request: Request, namespace: str, ctx: RequestContext = Caller) -> Response:
    return json(await metadefs.list_tags(manager_of(request), ctx, namespace))


@router.post(NS + "/tags")
async def set_tags(request: Request, namespace: str, ctx: RequestContext = Caller) -> Response:
    body = await json_object(request)
    append = request.headers.get("x-openstack-append", "false").lower() == "true"
    return json(
        await metadefs.set_tags(manager_of(request), ctx, namespace, body, append), status=201
    )


@router.get(NS + "/tags/{name}")
async def show_tag(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    return json(await metadefs.get_tag(manager_of(request), ctx, namespace, name))


@router.post(NS + "/tags/{name}")
async def create_tag(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    return json(await metadefs.add_tag(manager_of(request), ctx, namespace, name), status=201)


@router.put(NS + "/tags/{name}")
async def update_tag(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    body = await json_object(request)
    return json(await metadefs.rename_tag(manager_of(request), ctx, namespace, name, body))


@router.delete(NS + "/tags/{name}")
async def delete_tag(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    await metadefs.delete_one(
        manager_of(request), ctx, namespace, MetadefTag, name, "delete_metadef_tag"
    )
    return no_content()


# resource types


@router.get("/metadefs/resource_types")
async def list_resource_types(request: Request, ctx: RequestContext = Caller) -> Response:
    return json(await metadefs.list_resource_types(manager_of(request), ctx))


@router.get(NS + "/resource_types")
async def list_associations(
    request: Request, namespace: str, ctx: RequestContext = Caller
) -> Response:
    return json(await metadefs.list_associations(manager_of(request), ctx, namespace))


@router.post(NS + "/resource_types")
async def associate(request: Request, namespace: str, ctx: RequestContext = Caller) -> Response:
    body = await json_object(request)
    return json(await metadefs.associate(manager_of(request), ctx, namespace, body), status=201)


@router.delete(NS + "/resource_types/{name}")
async def dissociate(
    request: Request, namespace: str, name: str, ctx: RequestContext = Caller
) -> Response:
    await metadefs.dissociate(manager_of(request), ctx, namespace, name)
    return no_content()
