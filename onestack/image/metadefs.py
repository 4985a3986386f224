"""Metadata definitions (``/v2/metadefs``): namespaces of property definitions, objects and
tags, and the resource types they apply to. Readers see public namespaces and their own;
admins write (Glance's defaults)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from onestack.common.context import RequestContext
from onestack.common.db import utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound
from onestack.image.models import (
    MetadefAssociation,
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefTag,
)
from onestack.image.schemas import PROPERTY_DEF
from onestack.image.views import iso

if TYPE_CHECKING:
    from onestack.image.manager import ImageManager

#: Resource types known from the start (their names are the other services' conventions).
RESOURCE_TYPES = (
    "OS::Glance::Image",
    "OS::Cinder::Volume",
    "OS::Nova::Flavor",
    "OS::Nova::Aggregate",
    "OS::Nova::Server",
    "OS::Trove::Instance",
    "OS::Glance::Metadef",
)
PROPERTY_TYPES = ("array", "boolean", "integer", "number", "object", "string", "null")
PROPERTY_KEYS = {
    "name",
    "title",
    "description",
    "type",
    "default",
    "minimum",
    "maximum",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "items",
    "uniqueItems",
    "minItems",
    "maxItems",
    "additionalItems",
    "readonly",
    "operators",
}
NAMESPACE_KEYS = {
    "namespace",
    "display_name",
    "description",
    "visibility",
    "protected",
    "owner",
    "properties",
    "objects",
    "tags",
    "resource_type_associations",
}
SORT_KEYS = ("created_at", "updated_at", "namespace", "display_name", "visibility")
NS_LINK = "/v2/metadefs/namespaces"


# -- validation ----------------------------------------------------------------------------


def _name(value: Any, what: str, max_length: int = 80) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"Invalid input: {what} must be a non-empty string.")
    if len(value) > max_length:
        raise BadRequest(f"Invalid input: {what} is longer than {max_length} characters.")
    return value


def _optional_str(value: Any, what: str, max_length: int | None = None) -> str | None:
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"Invalid input: {what} must be a string.")
    if value is not None and max_length is not None and len(value) > max_length:
        raise BadRequest(f"Invalid input: {what} is longer than {max_length} characters.")
    return value


@functools.cache
def _property_attributes() -> Any:
    """The optional attributes of a property definition, checked against the published schema
    (``type`` and ``name`` are checked by hand: ``type`` may also be "null"); built on first
    use, as jsonschema costs ~50 ms to import."""
    from jsonschema import Draft4Validator, FormatChecker

    return Draft4Validator(
        {
            "type": "object",
            "properties": {
                k: v for k, v in PROPERTY_DEF["properties"].items() if k not in ("name", "type")
            },
        },
        format_checker=FormatChecker(),
    )


def _check_property_attributes(body: dict[str, Any]) -> None:
    from jsonschema.exceptions import best_match

    present = {k: v for k, v in body.items() if v is not None}
    error = best_match(_property_attributes().iter_errors(present))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "property"
        rule = error.schema.get("type") or error.schema.get("format") or error.validator
        raise BadRequest(f"Invalid input: {where} does not match the property schema ({rule}).")


#: The collections a namespace body may carry, and the JSON type each must be.
_COLLECTIONS = {
    "properties": dict,
    "objects": list,
    "tags": list,
    "resource_type_associations": list,
}


def _check_collections(body: dict[str, Any]) -> None:
    for key, kind in _COLLECTIONS.items():
        value = body.get(key)
        if value is not None and not isinstance(value, kind):
            what = "an object" if kind is dict else "a list"
            raise BadRequest(f"Invalid input: {key} must be {what}.")


def check_property(body: Any, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """A property definition: (name, its schema without the name)."""
    if not isinstance(body, dict):
        raise BadRequest("A property definition must be a JSON object.")
    unknown = set(body) - PROPERTY_KEYS
    if unknown:
        raise BadRequest(f"Unknown attribute(s) for a property: {', '.join(sorted(unknown))}")
    prop_name = _name(body.get("name", name), "name")
    _name(body.get("title"), "title", 255)
    if body.get("type") not in PROPERTY_TYPES:
        raise BadRequest(
            f"Invalid property type {body.get('type')!r}; one of {', '.join(PROPERTY_TYPES)}."
        )
    _check_property_attributes(body)
    schema = {k: v for k, v in body.items() if k != "name" and v is not None}
    return prop_name, schema


def check_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("An object definition must be a JSON object.")
    unknown = set(body) - {
        "name",
        "description",
        "required",
        "properties",
        "schema",
        "self",
        "created_at",
        "updated_at",
    }
    if unknown:
        raise BadRequest(f"Unknown attribute(s) for an object: {', '.join(sorted(unknown))}")
    required = body.get("required")
    if required is not None and (
        not isinstance(required, list) or not all(isinstance(r, str) for r in required)
    ):
        raise BadRequest("Invalid input: required must be a list of property names.")
    props = body.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            raise BadRequest("Invalid input: properties must be an object.")
        props = dict(check_property(v, k) for k, v in props.items())
    return {
        "name": _name(body.get("name"), "name"),
        "description": _optional_str(body.get("description"), "description"),
        "required": required,
        "properties": props,
    }


# -- namespaces ----------------------------------------------------------------------------


def _target(ns: MetadefNamespace) -> dict[str, Any]:
    return {"project_id": ns.owner, "owner": ns.owner, "visibility": ns.visibility}


def _not_found(name: str) -> NotFound:
    return NotFound(f"Metadata definition namespace={name} was not found.")


def _visible(mgr: ImageManager, ctx: RequestContext, ns: MetadefNamespace) -> bool:
    return (
        mgr.is_admin(ctx)
        or ns.visibility == "public"
        or (ctx.project_id is not None and ns.owner == ctx.project_id)
    )


async def get_namespace(
    mgr: ImageManager, session: AsyncSession, ctx: RequestContext, name: str, rule: str
) -> MetadefNamespace:
    """The namespace if the caller may see it (404 otherwise) and ``rule`` allows (403)."""
    ns = (
        await session.execute(select(MetadefNamespace).where(MetadefNamespace.namespace == name))
    ).scalar_one_or_none()
    if ns is None or not _visible(mgr, ctx, ns):
        raise _not_found(name)
    if not mgr.policy.check(ctx, "get_metadef_namespace", _target(ns)):
        raise _not_found(name)
    mgr.enforce(ctx, rule, _target(ns))
    return ns


def namespace_view(ns: MetadefNamespace) -> dict[str, Any]:
    view: dict[str, Any] = {
        "namespace": ns.namespace,
        "visibility": ns.visibility,
        "protected": ns.protected,
        "owner": ns.owner,
        "created_at": iso(ns.created_at),
        "updated_at": iso(ns.updated_at),
        "schema": "/v2/schemas/metadefs/namespace",
        "self": f"{NS_LINK}/{ns.namespace}",
    }
    if ns.display_name is not None:
        view["display_name"] = ns.display_name
    if ns.description is not None:
        view["description"] = ns.description
    return view


def _namespace_fields(ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - NAMESPACE_KEYS - {"schema", "self", "created_at", "updated_at"}
    if unknown:
        raise BadRequest(f"Unknown attribute(s) for a namespace: {', '.join(sorted(unknown))}")
    visibility = body.get("visibility") or "private"
    if visibility not in ("public", "private"):
        raise BadRequest(f"Invalid visibility {visibility!r}; public or private.")
    protected = body.get("protected", False)
    if not isinstance(protected, bool):
        raise BadRequest("Invalid input: protected must be a boolean.")
    _check_collections(body)
    return {
        "namespace": _name(body.get("namespace"), "namespace"),
        "display_name": _optional_str(body.get("display_name"), "display_name", 80),
        "description": _optional_str(body.get("description"), "description", 500),
        "visibility": visibility,
        "protected": protected,
        "owner": _optional_str(body.get("owner"), "owner", 255) or ctx.project_id,
    }


def _contents(
    body: dict[str, Any],
) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]], list[str], list[Any]]:
    """The checked properties, objects, tag names and resource type associations of a
    namespace body (their JSON types were checked by :func:`_namespace_fields`)."""
    props = [check_property(v, k) for k, v in (body.get("properties") or {}).items()]
    objects = [check_object(o) for o in body.get("objects") or []]
    tags = [_tag_name(t) for t in body.get("tags") or []]
    assocs = body.get("resource_type_associations") or []
    for assoc in assocs:
        _check_association(assoc)
    return props, objects, tags, assocs


async def create_namespace(
    mgr: ImageManager, ctx: RequestContext, body: dict[str, Any]
) -> dict[str, Any]:
    fields = _namespace_fields(ctx, body)
    mgr.enforce(
        ctx,
        "add_metadef_namespace",
        {
            "project_id": fields["owner"],
            "owner": fields["owner"],
            "visibility": fields["visibility"],
        },
    )
    checked_props, objects, tags, assocs = _contents(body)
    try:
        async with mgr.write() as session:
            now = utcnow()
            ns = MetadefNamespace(**fields, created_at=now, updated_at=now)
            session.add(ns)
            await session.flush()
            for name, schema in checked_props:
                session.add(MetadefProperty(namespace_id=ns.id, name=name, schema=schema))
            for obj in objects:
                session.add(MetadefObject(namespace_id=ns.id, **obj))
            for tag in dict.fromkeys(tags):
                session.add(MetadefTag(namespace_id=ns.id, name=tag))
            for assoc in assocs:
                await _associate(session, ns, assoc)
            await session.flush()
            return await namespace_detail(session, ns, None)
    except Conflict:
        raise Conflict(
            f"Duplicate entry for namespace {fields['namespace']}, or of one of "
            "its properties, objects or tags."
        ) from None


async def namespace_detail(
    session: AsyncSession, ns: MetadefNamespace, resource_type: str | None
) -> dict[str, Any]:
    view = namespace_view(ns)
    objects = (
        (
            await session.execute(
                select(MetadefObject)
                .where(MetadefObject.namespace_id == ns.id)
                .order_by(MetadefObject.name)
            )
        )
        .scalars()
        .all()
    )
    if objects:
        view["objects"] = [object_view(ns, o) for o in objects]
    assocs = await _associations(session, ns)
    if assocs:
        view["resource_type_associations"] = assocs
    props = (
        (
            await session.execute(
                select(MetadefProperty)
                .where(MetadefProperty.namespace_id == ns.id)
                .order_by(MetadefProperty.name)
            )
        )
        .scalars()
        .all()
    )
    prefix = ""
    if resource_type:
        prefix = next((a.get("prefix") or "" for a in assocs if a["name"] == resource_type), "")
    if props:
        view["properties"] = {prefix + p.name: dict(p.schema) for p in props}
    tags = (
        (
            await session.execute(
                select(MetadefTag).where(MetadefTag.namespace_id == ns.id).order_by(MetadefTag.name)
            )
        )
        .scalars()
        .all()
    )
    if tags:
        view["tags"] = [{"name": t.name} for t in tags]
    return view


async def list_namespaces(
    mgr: ImageManager, ctx: RequestContext, params: Mapping[str, str]
) -> dict[str, Any]:
    mgr.enforce(ctx, "get_metadef_namespaces", {"project_id": ctx.project_id})
    stmt = select(MetadefNamespace)
    if not mgr.is_admin(ctx):
        stmt = stmt.where(
            (MetadefNamespace.visibility == "public") | (MetadefNamespace.owner == ctx.project_id)
        )
    visibility = params.get("visibility")
    if visibility is not None:
        if visibility not in ("public", "private"):
            raise BadRequest(f"Invalid visibility value: {visibility}")
        stmt = stmt.where(MetadefNamespace.visibility == visibility)
    if params.get("resource_types"):
        names = [n.strip() for n in params["resource_types"].split(",") if n.strip()]
        stmt = stmt.where(
            MetadefNamespace.id.in_(
                select(MetadefAssociation.namespace_id)
                .join(
                    MetadefResourceType,
                    MetadefResourceType.id == MetadefAssociation.resource_type_id,
                )
                .where(MetadefResourceType.name.in_(names))
            )
        )
    sort_key = params.get("sort_key", "created_at")
    sort_dir = params.get("sort_dir", "desc")
    if sort_key not in SORT_KEYS:
        raise BadRequest(f"Invalid sort key: {sort_key}")
    if sort_dir not in ("asc", "desc"):
        raise BadRequest(f"Invalid sort direction: {sort_dir}")
    limit = mgr.conf.limit_param_default
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise BadRequest("limit param must be an integer") from None
        if limit < 0:
            raise BadRequest("limit param must be positive")
    limit = min(limit, mgr.conf.api_limit_max)
    column = getattr(MetadefNamespace, sort_key)
    order = (
        [column.desc(), MetadefNamespace.id.desc()]
        if sort_dir == "desc"
        else [column.asc(), MetadefNamespace.id.asc()]
    )
    async with mgr.read() as session:
        rows = list((await session.execute(stmt.order_by(*order))).scalars())
        marker = params.get("marker")
        if marker:
            names = [ns.namespace for ns in rows]
            if marker not in names:
                raise NotFound(f"Metadata definition namespace={marker} was not found.")
            rows = rows[names.index(marker) + 1 :]
        page = rows[:limit]
        items = []
        for ns in page:
            view = namespace_view(ns)
            assocs = await _associations(session, ns)
            if assocs:
                view["resource_type_associations"] = assocs
            items.append(view)
    query = [(k, v) for k, v in params.items() if k != "marker"]
    body: dict[str, Any] = {
        "namespaces": items,
        "first": f"{NS_LINK}?{urlencode(query)}" if query else NS_LINK,
        "schema": "/v2/schemas/metadefs/namespaces",
    }
    if page and len(page) == limit and len(rows) > limit:
        body["next"] = f"{NS_LINK}?{urlencode([*query, ('marker', page[-1].namespace)])}"
    return body


async def update_namespace(
    mgr: ImageManager, ctx: RequestContext, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    try:
        async with mgr.write() as session:
            ns = await get_namespace(mgr, session, ctx, name, "modify_metadef_namespace")
            # Attributes left out keep their values (Glance resets visibility, protected and
            # owner to their create defaults, which turns a description edit into unsharing).
            current = {
                "visibility": ns.visibility,
                "protected": ns.protected,
                "owner": ns.owner,
                "namespace": ns.namespace,
                "display_name": ns.display_name,
                "description": ns.description,
            }
            fields = _namespace_fields(ctx, {**current, **body})
            _contents(body)  # checked as Glance's schema does, but PUT changes none of them
            for key, value in fields.items():
                setattr(ns, key, value)
            ns.updated_at = utcnow()
            await session.flush()
            return namespace_view(ns)
    except Conflict:
        raise Conflict(f"Duplicate entry for namespace {body.get('namespace')}.") from None


async def delete_namespace(mgr: ImageManager, ctx: RequestContext, name: str) -> None:
    async with mgr.write() as session:
        ns = await get_namespace(mgr, session, ctx, name, "delete_metadef_namespace")
        if ns.protected:
            raise Forbidden(f"Namespace {name} is protected and cannot be deleted.")
        await session.delete(ns)


async def delete_contents(mgr: ImageManager, ctx: RequestContext, name: str, kind: str) -> None:
    """DELETE .../properties | objects | tags: every one of a kind in the namespace."""
    model: Any
    model, rule = {
        "properties": (MetadefProperty, "remove_metadef_property"),
        "objects": (MetadefObject, "delete_metadef_object"),
        "tags": (MetadefTag, "delete_metadef_tags"),
    }[kind]
    async with mgr.write() as session:
        ns = await get_namespace(mgr, session, ctx, name, rule)
        if ns.protected:
            raise Forbidden(f"Namespace {name} is protected and cannot be changed.")
        await session.execute(delete(model).where(model.namespace_id == ns.id))


# -- properties ----------------------------------------------------------------------------


async def _find(session: AsyncSession, model: Any, ns: MetadefNamespace, name: str) -> Any:
    found = (
        await session.execute(select(model).where(model.namespace_id == ns.id, model.name == name))
    ).scalar_one_or_none()
    if found is None:
        kind = {MetadefProperty: "property", MetadefObject: "object", MetadefTag: "tag"}[model]
        raise NotFound(
            f"Metadata definition {kind} {name} was not found in namespace {ns.namespace}."
        )
    return found


def property_view(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": name, **schema}


async def list_properties(mgr: ImageManager, ctx: RequestContext, ns_name: str) -> dict[str, Any]:
    async with mgr.read() as session:
        ns = await get_namespace(mgr, session, ctx, ns_name, "get_metadef_properties")
        rows = (
            await session.execute(
                select(MetadefProperty)
                .where(MetadefProperty.namespace_id == ns.id)
                .order_by(MetadefProperty.name)
            )
        ).scalars()
        return {"properties": {p.name: dict(p.schema) for p in rows}}


async def get_property(
    mgr: ImageManager, ctx: RequestContext, ns_name: str, name: str, resource_type: str | None
) -> dict[str, Any]:
    async with mgr.read() as session:
        ns = await get_namespace(mgr, session, ctx, ns_name, "get_metadef_property")
        if resource_type:
            for assoc in await _associations(session, ns):
                prefix = assoc.get("prefix") or ""
                if assoc["name"] == resource_type and prefix and name.startswith(prefix):
                    name = name[len(prefix) :]
                    break
        prop = await _find(session, MetadefProperty, ns, name)
        return property_view(prop.name, prop.schema)


async def save_property(
    mgr: ImageManager, ctx: RequestContext, ns_name: str, body: Any, old_name: str | None = None
) -> dict[str, Any]:
    name, schema = check_property(body)
    try:
        async with mgr.write() as session:
            rule = "modify_metadef_property" if old_name else "add_metadef_property"
            ns = await get_namespace(mgr, session, ctx, ns_name, rule)
            if old_name is None:
                prop = MetadefProperty(namespace_id=ns.id, name=name, schema=schema)
                session.add(prop)
            else:
                prop = await _find(session, MetadefProperty, ns, old_name)
                prop.name, prop.schema, prop.updated_at = name, schema, utcnow()
            await session.flush()
    except Conflict:
        raise Conflict(f"A property named {name} already exists in namespace {ns_name}.") from None
    return property_view(name, schema)


async def delete_one(
    mgr: ImageManager, ctx: RequestContext, ns_name: str, model: Any, name: str, rule: str
) -> None:
    async with mgr.write() as session:
        ns = await get_namespace(mgr, session, ctx, ns_name, rule)
        await session.delete(await _find(session, model, ns, name))


# -- objects -------------------------------------------------------------------------------


def object_view(ns: MetadefNamespace, obj: MetadefObject) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": obj.name,
        "created_at": iso(obj.created_at),
        "updated_at": iso(obj.updated_at),
        "schema": "/v2/schemas/metadefs/object",
        "self": f"{NS_LINK}/{ns.namespace}/objects/{obj.name}",
        "required": obj.required or [],
        "properties": {k: dict(v) for k, v in (obj.properties or {}).items()},
    }
    if obj.description is not None:
        view["description"] = obj.description
    return view


async def list_objects(mgr: ImageManager, ctx: RequestContext, ns_name: str) -> dict[str, Any]:
    async with mgr.read() as session:
        ns = await get_namespace(mgr, session, ctx, ns_name, "get_metadef_objects")
        rows = (
            await session.execute(
                select(MetadefObject)
                .where(MetadefObject.namespace_id == ns.id)
                .order_by(MetadefObject.name)
            )
        ).scalars()
        return {
            "objects": [object_view(ns, o) for o in rows],
            "first": f"{NS_LINK}/{ns.namespace}/objects",
            "schema": "v2/schemas/metadefs/objects",
        }


async def get_object(
    mgr: ImageManager, ctx: RequestContext, ns_name: str, name: str
) -> dict[str, Any]:
    async with mgr.read() as session:
        ns = await get_namespace(mgr, session, ctx, ns_name, "get_metadef_object")
        return object_view(ns, await _find(session, MetadefObject, ns, name))


async def save_object(
    mgr: ImageManager, ctx: RequestContext, ns_name: str, body: Any, old_name: str | None = None
) -> dict[str, Any]:
    fields = check_object(body)
    try:
        async with mgr.write() as session:
            rule = "modify_metadef_object" if old_name else "add_metadef_object"
            ns = await get_namespace(mgr, session, ctx, ns_name, rule)
            if old_name is None:
                obj = MetadefObject(namespace_id=ns.id, **fields)
                session.add(obj)
            else:
                obj = await _find(session, MetadefObject, ns, old_name)
                for key, value in fields.items():
                    setattr(obj, key, value)
                obj.updated_at = utcnow()
            await session.flush()
            await session.refresh(obj)
            return object_view(ns, obj)
    except Conflict:
        raise Conflict(
            f"An object named {fields['name']} already exists in namespace {ns_name}."
        ) from None


# -- tags ----------------------------------------------------------------------------------


def _tag_name(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name")
    return _name(value, "tag name")


def tag_view(tag: MetadefTag) -> dict[str, Any]:
    return {"name": tag.name, "created_at": iso(tag.created_at), "updated_at": iso(tag.updated_at)}


async def list_tags(mgr: ImageManager, ctx: RequestContext, ns_name: str) -> dict[str, Any]:
    async with mgr.read() as session:
        ns = await get_namespace(mgr, session, ctx, ns_name, "get_metadef_tags")
        rows = (
            await session.execute(
                select(MetadefTag).where(MetadefTag.namespace_id == ns.id).order_by(MetadefTag.name)
            )
        ).scalars()
        return {"tags": [tag_view(t) for t in rows]}


async def get_tag(
    mgr: ImageManager, ctx: RequestContext, ns_name: str, name: str
) -> dict[str, Any]:
    async with mgr.read() as session:
        ns = await get_namespace(mgr, session, ctx, ns_name, "get_metadef_tag")
        return tag_view(await _find(session, MetadefTag, ns, name))


async def add_tag(
    mgr: ImageManager, ctx: RequestContext, ns_name: str, name: str
) -> dict[str, Any]:
    name = _name(name, "tag name")
    try:
        async with mgr.write() as session:
            ns = await get_namespace(mgr, session, ctx, ns_name, "add_metadef_tag")
            tag = MetadefTag(
                namespace_id=ns.id, name=name, created_at=utcnow(), updated_at=utcnow()
            )
            session.add(tag)
            await session.flush()
            return tag_view(tag)
    except Conflict:
        raise Conflict(
            f"A metadata tag named {name} already exists in namespace {ns_name}."
        ) from None


async def set_tags(
    mgr: ImageManager, ctx: RequestContext, ns_name: str, body: dict[str, Any], append: bool
) -> dict[str, Any]:
    raw = body.get("tags")
    if not isinstance(raw, list):
        raise BadRequest('Invalid input: tags must be a list of {"name": ...} objects.')
    names = [_tag_name(t) for t in raw]
    if len(set(names)) != len(names):
        raise Conflict("Duplicate tag names in the request.")
    async with mgr.write() as session:
        ns = await get_namespace(mgr, session, ctx, ns_name, "add_metadef_tags")
        existing = set(
            (
                await session.execute(
                    select(MetadefTag.name).where(MetadefTag.namespace_id == ns.id)
                )
            ).scalars()
        )
        if append:
            clash = existing & set(names)
            if clash:
                raise Conflict(f"Metadata tag(s) {', '.join(sorted(clash))} already exist.")
        else:
            await session.execute(delete(MetadefTag).where(MetadefTag.namespace_id == ns.id))
        for name in names:
            session.add(MetadefTag(namespace_id=ns.id, name=name))
    return {"tags": [{"name": n} for n in names]}


async def rename_tag(
    mgr: ImageManager, ctx: RequestContext, ns_name: str, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    new = _tag_name(body)
    try:
        async with mgr.write() as session:
            ns = await get_namespace(mgr, session, ctx, ns_name, "modify_metadef_tag")
            tag = await _find(session, MetadefTag, ns, name)
            tag.name, tag.updated_at = new, utcnow()
            await session.flush()
            return tag_view(tag)
    except Conflict:
        raise Conflict(f"A metadata tag named {new} already exists.") from None


# -- resource types ------------------------------------------------------------------------


async def seed_resource_types(mgr: ImageManager) -> None:
    """Add the resource types Glance knows (another process starting at once may win)."""
    with contextlib.suppress(Conflict):
        async with mgr.write() as session:
            known = set((await session.execute(select(MetadefResourceType.name))).scalars())
            for name in RESOURCE_TYPES:
                if name not in known:
                    session.add(MetadefResourceType(name=name, protected=True))


async def list_resource_types(mgr: ImageManager, ctx: RequestContext) -> dict[str, Any]:
    mgr.enforce(ctx, "list_metadef_resource_types", {"project_id": ctx.project_id})
    async with mgr.read() as session:
        rows = (
            await session.execute(select(MetadefResourceType).order_by(MetadefResourceType.name))
        ).scalars()
        return {
            "resource_types": [
                {"name": r.name, "created_at": iso(r.created_at), "updated_at": iso(r.updated_at)}
                for r in rows
            ]
        }


async def _associations(session: AsyncSession, ns: MetadefNamespace) -> list[dict[str, Any]]:
    stmt = (
        select(MetadefAssociation, MetadefResourceType.name)
        .join(MetadefResourceType, MetadefResourceType.id == MetadefAssociation.resource_type_id)
        .where(MetadefAssociation.namespace_id == ns.id)
        .order_by(MetadefResourceType.name)
    )
    out = []
    for assoc, name in (await session.execute(stmt)).all():
        view: dict[str, Any] = {
            "name": name,
            "created_at": iso(assoc.created_at),
            "updated_at": iso(assoc.updated_at),
        }
        if assoc.prefix is not None:
            view["prefix"] = assoc.prefix
        if assoc.properties_target is not None:
            view["properties_target"] = assoc.properties_target
        out.append(view)
    return out


def _check_association(body: Any) -> tuple[str, str | None, str | None]:
    """(resource type name, prefix, properties_target) of an association body."""
    if not isinstance(body, dict):
        raise BadRequest("A resource type association must be a JSON object.")
    return (
        _name(body.get("name"), "resource type name"),
        _optional_str(body.get("prefix"), "prefix", 80),
        _optional_str(body.get("properties_target"), "properties_target", 80),
    )


async def _associate(session: AsyncSession, ns: MetadefNamespace, body: Any) -> dict[str, Any]:
    name, prefix, target = _check_association(body)
    rtype = (
        await session.execute(select(MetadefResourceType).where(MetadefResourceType.name == name))
    ).scalar_one_or_none()
    if rtype is None:  # Glance creates a resource type on first association
        rtype = MetadefResourceType(name=name, protected=False)
        session.add(rtype)
        await session.flush()
    now = utcnow()
    try:
        async with session.begin_nested():
            session.add(
                MetadefAssociation(
                    namespace_id=ns.id,
                    resource_type_id=rtype.id,
                    prefix=prefix,
                    properties_target=target,
                    created_at=now,
                    updated_at=now,
                )
            )
    except IntegrityError:
        raise Conflict(
            f"Resource type {name} is already associated with namespace {ns.namespace}."
        ) from None
    view: dict[str, Any] = {"name": name, "created_at": iso(now), "updated_at": iso(now)}
    if prefix is not None:
        view["prefix"] = prefix
    if target is not None:
        view["properties_target"] = target
    return view


async def list_associations(mgr: ImageManager, ctx: RequestContext, ns_name: str) -> dict[str, Any]:
    async with mgr.read() as session:
        ns = await get_namespace(mgr, session, ctx, ns_name, "get_metadef_resource_type")
        return {"resource_type_associations": await _associations(session, ns)}


async def associate(
    mgr: ImageManager, ctx: RequestContext, ns_name: str, body: Any
) -> dict[str, Any]:
    async with mgr.write() as session:
        ns = await get_namespace(
            mgr, session, ctx, ns_name, "add_metadef_resource_type_association"
        )
        return await _associate(session, ns, body)


async def dissociate(mgr: ImageManager, ctx: RequestContext, ns_name: str, name: str) -> None:
    async with mgr.write() as session:
        ns = await get_namespace(
            mgr, session, ctx, ns_name, "remove_metadef_resource_type_association"
        )
        rtype_id = (
            await session.execute(
                select(MetadefResourceType.id).where(MetadefResourceType.name == name)
            )
        ).scalar_one_or_none()
        result = None
        if rtype_id is not None:
            result = await session.execute(
                delete(MetadefAssociation).where(
                    MetadefAssociation.namespace_id == ns.id,
                    MetadefAssociation.resource_type_id == rtype_id,
                )
            )
        if result is None or getattr(result, "rowcount", 0) == 0:
            raise NotFound(f"Resource type {name} is not associated with namespace {ns_name}.")
