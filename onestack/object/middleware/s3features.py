"""S3 bucket versioning (over Swift's object versioning), object and bucket tagging and the
lifecycle configuration (stored as system metadata of the object or container)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from onestack.object import timestamps
from onestack.object.middleware import object_versioning
from onestack.object.proxy.base import authorize, container_acls
from onestack.object.proxy.http import Request, Response

if TYPE_CHECKING:
    from onestack.object.middleware.s3api import S3Controller

TAGGING = "X-Object-Sysmeta-S3-Tagging"
BUCKET_TAGGING = "x-container-sysmeta-s3-tagging"
LIFECYCLE = "x-container-sysmeta-s3-lifecycle"
MAX_BODY = 64 * 1024
LIFECYCLE_ACCOUNT, LIFECYCLE_CONTAINER = ".s3_lifecycle", "buckets"


def _s3() -> Any:
    from onestack.object.middleware import s3api

    return s3api


def _parse(raw: bytes) -> ET.Element:
    try:
        return ET.fromstring(raw)
    except ET.ParseError:
        raise _s3().S3Error(
            400, "MalformedXML", "The XML you provided was not well-formed"
        ) from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in elem if _local(c.tag) == name), None)


# -- versioning ------------------------------------------------------------------------------
async def put_versioning(ctl: S3Controller, req: Request, account: str, bucket: str) -> Response:
    s3 = _s3()
    root = _parse(await req.body(MAX_BODY))
    status = _child(root, "Status")
    if (
        _local(root.tag) != "VersioningConfiguration"
        or status is None
        or status.text
        not in (
            "Enabled",
            "Suspended",
        )
    ):
        raise s3.S3Error(400, "MalformedXML", "The XML you provided was not well-formed")
    value = "true" if status.text == "Enabled" else "false"
    await ctl.swift(req, "POST", account, bucket, headers={"x-versions-enabled": value})
    return Response(200)


def get_versioning(ctl: S3Controller, account: str, bucket: str) -> Response:
    s3 = _s3()
    state = object_versioning.state(ctl.storage.container_info(account, bucket))
    status = "" if state is None else f"<Status>{'Enabled' if state else 'Suspended'}</Status>"
    return s3.xml(f'<VersioningConfiguration xmlns="{s3.NS}">{status}</VersioningConfiguration>')


async def list_versions(ctl: S3Controller, req: Request, account: str, bucket: str) -> Response:
    s3 = _s3()
    p = req.params
    try:
        max_keys = min(int(p.get("max-keys", "1000")), 1000)
    except ValueError:
        raise s3.S3Error(400, "InvalidArgument", "Provided max-keys not an integer") from None
    if max_keys < 0:
        raise s3.S3Error(400, "InvalidArgument", "max-keys must be non-negative")
    prefix, key_marker = p.get("prefix", ""), p.get("key-marker", "")
    version_marker = p.get("version-id-marker") or None
    if version_marker is not None and not key_marker:
        raise s3.S3Error(
            400, "InvalidArgument", "A version-id marker cannot be specified without a key marker."
        )
    rows: list[dict[str, Any]] = []
    if object_versioning.state(ctl.storage.container_info(account, bucket)) is None:
        query = {
            "format": "json",
            "limit": str(max_keys + 1),
            "prefix": prefix,
            "marker": key_marker,
        }
        resp = await ctl.swift(req, "GET", account, bucket, params=query)
        rows = [
            {**r, "version_id": "null", "is_latest": True}
            for r in (orjson.loads(resp.body) if resp.status == 200 else [])
        ]
    else:
        query = {
            "format": "json",
            "versions": "",
            "limit": str(max_keys + 1),
            "prefix": prefix,
            "marker": key_marker,
        }
        if version_marker is not None:
            query["version_marker"] = version_marker
        resp = await ctl.swift(req, "GET", account, bucket, params=query)
        rows = orjson.loads(resp.body) if resp.status == 200 else []
    truncated = len(rows) > max_keys
    rows = rows[:max_keys]
    owner = account[5:]
    e = s3._e
    parts = []
    for row in rows:
        latest = "true" if row.get("is_latest") else "false"
        common = (
            f"<Key>{e(row['name'])}</Key><VersionId>{e(row['version_id'])}</VersionId>"
            f"<IsLatest>{latest}</IsLatest><LastModified>{row['last_modified'][:23]}Z"
            "</LastModified>"
        )
        owner_xml = f"<Owner><ID>{owner}</ID><DisplayName>{owner}</DisplayName></Owner>"
        if row["content_type"] == object_versioning.DELETE_MARKER:
            parts.append(f"<DeleteMarker>{common}{owner_xml}</DeleteMarker>")
        else:
            parts.append(
                f"<Version>{common}<ETag>&quot;{row.get('s3_etag') or row['hash']}&quot;</ETag>"
                f"<Size>{row['bytes']}</Size>{owner_xml}"
                "<StorageClass>STANDARD</StorageClass></Version>"
            )
    head = [
        f"<Name>{e(bucket)}</Name><Prefix>{e(prefix)}</Prefix>",
        f"<KeyMarker>{e(key_marker)}</KeyMarker>",
        f"<VersionIdMarker>{e(version_marker or '')}</VersionIdMarker>",
        f"<MaxKeys>{max_keys}</MaxKeys>",
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
    ]
    if truncated and rows:
        head.append(f"<NextKeyMarker>{e(rows[-1]['name'])}</NextKeyMarker>")
        head.append(f"<NextVersionIdMarker>{e(rows[-1]['version_id'])}</NextVersionIdMarker>")
    return s3.xml(
        f'<ListVersionsResult xmlns="{s3.NS}">{"".join(head)}{"".join(parts)}</ListVersionsResult>'
    )


# -- tagging ---------------------------------------------------------------------------------
def parse_tag_header(value: str) -> list[list[str]]:
    """``x-amz-tagging: k1=v1&k2=v2`` (URL-encoded)."""
    return _checked_tags([[k, v] for k, v in parse_qsl(value, keep_blank_values=True)])


def _checked_tags(tags: list[list[str]]) -> list[list[str]]:
    s3 = _s3()
    if len(tags) > 10:
        raise s3.S3Error(400, "BadRequest", "Object tags cannot be greater than 10")
    keys = [k for k, _ in tags]
    if len(set(keys)) != len(keys):
        raise s3.S3Error(400, "InvalidTag", "Cannot provide multiple Tags with the same key")
    for key, value in tags:
        if not key or len(key) > 128 or len(value) > 256:
            raise s3.S3Error(400, "InvalidTag", "The TagKey you have provided is invalid")
    return tags


def _tags_from_xml(raw: bytes) -> list[list[str]]:
    s3 = _s3()
    root = _parse(raw)
    tagset = _child(root, "TagSet")
    if _local(root.tag) != "Tagging" or tagset is None:
        raise s3.S3Error(400, "MalformedXML", "The XML you provided was not well-formed")
    tags = []
    for tag in tagset:
        key, value = _child(tag, "Key"), _child(tag, "Value")
        if _local(tag.tag) != "Tag" or key is None:
            raise s3.S3Error(400, "MalformedXML", "The XML you provided was not well-formed")
        tags.append([key.text or "", (value.text or "") if value is not None else ""])
    return _checked_tags(tags)


def _tagging_xml(tags: list[list[str]]) -> Response:
    s3 = _s3()
    body = "".join(f"<Tag><Key>{s3._e(k)}</Key><Value>{s3._e(v)}</Value></Tag>" for k, v in tags)
    return s3.xml(f'<Tagging xmlns="{s3.NS}"><TagSet>{body}</TagSet></Tagging>')


def set_object_tags(
    ctl: S3Controller, account: str, bucket: str, key: str, tags: list[list[str]] | None
) -> bool:
    """Replace the object's tags (None: remove them), keeping its metadata; False: no such
    object."""
    objects = ctl.proxy.objects
    found = objects.find(account, bucket, key)
    if found is None:
        return False
    metadata = {
        k: v
        for k, v in found.metadata.items()
        if k.lower().startswith("x-object-meta-")
        or k
        in (
            "Content-Type",
            "Content-Disposition",
            "Content-Encoding",
            "X-Delete-At",
            "X-Object-Manifest",
            "X-Symlink-Target",
        )
    }
    if tags:
        metadata[TAGGING] = orjson.dumps(tags).decode()
    else:
        metadata[TAGGING] = ""
    ts = timestamps.now()
    metadata["X-Timestamp"] = ts
    ctl.storage.write_marker(account, bucket, key, ts, ".meta", metadata)
    return True


def object_tags(metadata: dict[str, Any]) -> list[list[str]]:
    raw = metadata.get(TAGGING)
    return list(orjson.loads(raw)) if raw else []


async def object_tagging(
    ctl: S3Controller, req: Request, account: str, bucket: str, key: str
) -> Response:
    s3 = _s3()
    await ctl._bucket_info(req, account, bucket)
    info = ctl.storage.container_info(account, bucket)
    sub = req.derive("GET" if req.method == "GET" else "POST")
    authorize(sub, account, container_acls(info.metadata) if info else None, "object")
    found = ctl.proxy.objects.find(account, bucket, key)
    if found is None:
        raise s3.S3Error(404, "NoSuchKey", "The specified key does not exist.")
    if req.method == "GET":
        return _tagging_xml(object_tags(found.metadata))
    if req.method == "PUT":
        set_object_tags(ctl, account, bucket, key, _tags_from_xml(await req.body(MAX_BODY)))
        return Response(200)
    if req.method == "DELETE":
        set_object_tags(ctl, account, bucket, key, None)
        return Response(204)
    raise s3.S3Error(405, "MethodNotAllowed", "The specified method is not allowed.")


# -- bucket tagging and lifecycle: container system metadata -----------------------------------
def _bucket_meta(ctl: S3Controller, account: str, bucket: str, name: str) -> str:
    info = ctl.storage.container_info(account, bucket)
    return str(info.metadata.get(name, "")) if info is not None else ""


def _set_bucket_meta(ctl: S3Controller, account: str, bucket: str, name: str, value: str) -> None:
    ctl.storage.post_container(account, bucket, {name: [value, timestamps.now()]})


async def bucket_tagging(ctl: S3Controller, req: Request, account: str, bucket: str) -> Response:
    s3 = _s3()
    await ctl._bucket_info(req, account, bucket)
    _authorize_owner(req)
    if req.method == "GET":
        raw = _bucket_meta(ctl, account, bucket, BUCKET_TAGGING)
        if not raw:
            raise s3.S3Error(404, "NoSuchTagSet", "The TagSet does not exist")
        return _tagging_xml(orjson.loads(raw))
    if req.method == "PUT":
        tags = _tags_from_xml(await req.body(MAX_BODY))
        _set_bucket_meta(ctl, account, bucket, BUCKET_TAGGING, orjson.dumps(tags).decode())
        return Response(200)
    if req.method == "DELETE":
        _set_bucket_meta(ctl, account, bucket, BUCKET_TAGGING, "")
        return Response(204)
    raise s3.S3Error(405, "MethodNotAllowed", "The specified method is not allowed.")


def _authorize_owner(req: Request) -> None:
    """Bucket configuration is the owner's (as Swift's container sysmeta is)."""
    if not req.environ.get("owner"):
        raise _s3().S3Error(403, "AccessDenied", "Access Denied")


def lifecycle_rules(raw: bytes) -> list[dict[str, Any]]:
    """The rules of a LifecycleConfiguration: ID, Status, prefix and Expiration Days/Date."""
    s3 = _s3()
    root = _parse(raw)
    if _local(root.tag) != "LifecycleConfiguration":
        raise s3.S3Error(400, "MalformedXML", "The XML you provided was not well-formed")
    rules = []
    for rule in root:
        if _local(rule.tag) != "Rule":
            raise s3.S3Error(400, "MalformedXML", "The XML you provided was not well-formed")
        status = _child(rule, "Status")
        if status is None or status.text not in ("Enabled", "Disabled"):
            raise s3.S3Error(400, "MalformedXML", "The XML you provided was not well-formed")
        prefix_elem = _child(rule, "Prefix")
        flt = _child(rule, "Filter")
        if flt is not None:
            prefix_elem = _child(flt, "Prefix")
        rule_id = _child(rule, "ID")
        entry: dict[str, Any] = {
            "id": (rule_id.text or "") if rule_id is not None else "",
            "status": status.text,
            "prefix": (prefix_elem.text or "") if prefix_elem is not None else "",
        }
        expiration = _child(rule, "Expiration")
        if expiration is not None:
            days = _child(expiration, "Days")
            if days is not None:
                try:
                    entry["days"] = int(days.text or "")
                except ValueError:
                    raise s3.S3Error(400, "MalformedXML", "Days must be an integer") from None
                if entry["days"] <= 0:
                    raise s3.S3Error(
                        400,
                        "InvalidArgument",
                        "'Days' for Expiration action must be a positive integer",
                    )
        rules.append(entry)
    if not rules or len(rules) > 1000:
        raise s3.S3Error(400, "MalformedXML", "The XML you provided was not well-formed")
    return rules


async def bucket_lifecycle(ctl: S3Controller, req: Request, account: str, bucket: str) -> Response:
    s3 = _s3()
    await ctl._bucket_info(req, account, bucket)
    _authorize_owner(req)
    if req.method == "GET":
        raw = _bucket_meta(ctl, account, bucket, LIFECYCLE)
        if not raw:
            raise s3.S3Error(
                404, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"
            )
        return s3.xml(orjson.loads(raw)["xml"])
    if req.method == "PUT":
        body = await req.body(MAX_BODY)
        rules = lifecycle_rules(body)
        text = body.decode("utf-8", "replace")
        if text.startswith("<?xml"):
            text = text.split("?>", 1)[1].lstrip()
        _set_bucket_meta(
            ctl, account, bucket, LIFECYCLE, orjson.dumps({"xml": text, "rules": rules}).decode()
        )
        _register(ctl, account, bucket, True)
        return Response(200)
    if req.method == "DELETE":
        _set_bucket_meta(ctl, account, bucket, LIFECYCLE, "")
        _register(ctl, account, bucket, False)
        return Response(204)
    raise s3.S3Error(405, "MethodNotAllowed", "The specified method is not allowed.")


def _register(ctl: S3Controller, account: str, bucket: str, present: bool) -> None:
    """The buckets with lifecycle rules, listed in a hidden account for the expirer."""
    storage, ts = ctl.storage, timestamps.now()
    if storage.container_info(LIFECYCLE_ACCOUNT, LIFECYCLE_CONTAINER) is None:
        if storage.account_info(LIFECYCLE_ACCOUNT) is None:
            storage.put_account(LIFECYCLE_ACCOUNT, ts)
        storage.put_container(LIFECYCLE_ACCOUNT, LIFECYCLE_CONTAINER, ts, {})
    storage.update_container_listing(
        LIFECYCLE_ACCOUNT,
        LIFECYCLE_CONTAINER,
        f"{account}/{bucket}",
        ts,
        0,
        "text/plain",
        "noetag",
        not present,
    )


def expired_by_lifecycle(metadata: dict[str, Any], name: str, created: str) -> bool:
    """Whether a bucket's lifecycle rules (its container metadata) expire this object now."""
    raw = metadata.get(LIFECYCLE)
    if not raw:
        return False
    age_days = (time.time() - float(created)) / 86400
    for rule in orjson.loads(raw)["rules"]:
        if (
            rule["status"] == "Enabled"
            and "days" in rule
            and name.startswith(rule["prefix"])
            and age_days >= rule["days"]
        ):
            return True
    return False
