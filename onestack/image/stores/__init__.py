"""Image stores: where image data lives, behind one small interface.

A store is named by an id (Glance's multi-store ``enabled_backends``); several may be
configured, the first of :func:`stores_from_settings` being the default one. Drivers:
``file`` (:mod:`.filesystem`); the object storage service plugs in with :func:`register_driver`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Duplicate",
    "InvalidLocation",
    "NotFound",
    "StorageFull",
    "Store",
    "StoreError",
    "discard_from",
    "find_store",
    "register_driver",
    "stores_from_settings",
]


LOG = logging.getLogger(__name__)


class StoreError(Exception):
    """A store could not do what was asked (Glance answers 503 or 500 for these)."""


class NotFound(StoreError):
    """No data at that location."""


class Duplicate(StoreError):
    """The store already holds data for that image (409)."""


class StorageFull(StoreError):
    """No space left on the store's media (413, as Glance)."""


class InvalidLocation(StoreError, ValueError):
    """The location URL does not belong to this store (or is malformed)."""


@runtime_checkable
class Store(Protocol):
    """What the image service needs of a store."""

    name: str

    async def add(self, image_id: str, chunks: AsyncIterator[bytes]) -> tuple[str, int]:
        """Store the stream; returns (location URL, bytes written).

        Removes the partial data on any failure or cancellation; raises Duplicate when data for
        ``image_id`` is already there.
        """
        ...

    def get(
        self, location: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes (default: to the end) from ``offset``."""
        ...

    async def delete(self, location: str) -> None:
        """Remove the data; no error when it is already gone."""
        ...

    async def size(self, location: str) -> int:
        """Bytes stored at ``location``; NotFound when there are none."""
        ...

    async def holdings(self, idle: float) -> set[str]:
        """The image ids this store holds data for, whole or partial, untouched for ``idle``
        seconds (candidates for :meth:`discard` when nothing records them)."""
        ...

    async def discard(self, image_id: str) -> None:
        """Remove whatever this store holds for ``image_id``, whole or partial, that no
        location records (what a process that died mid-upload left behind)."""
        ...


async def discard_from(stores: Iterable[Store], image_id: str) -> None:
    """:meth:`Store.discard` on each store, best effort: a failure is logged, not raised."""
    for store in stores:
        try:
            await store.discard(image_id)
        except StoreError:
            LOG.warning(
                "image %s: could not remove data from store %s", image_id, store.name, exc_info=True
            )


StoreFactory = Callable[[str, Mapping[str, Any], Path], Store]
_DRIVERS: dict[str, StoreFactory] = {}
_STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DEFAULT_STORE_ID = "file"


def register_driver(name: str, factory: StoreFactory) -> None:
    """Make ``driver = name`` available; ``factory(store_id, options, data_dir)``."""
    _DRIVERS[name] = factory


def _file_factory(store_id: str, options: Mapping[str, Any], data_dir: Path) -> Store:
    from onestack.image.stores.filesystem import FilesystemStore

    default = data_dir / ("images" if store_id == DEFAULT_STORE_ID else f"images-{store_id}")
    path = Path(options.get("path") or options.get("filesystem_store_datadir") or default)
    kwargs = {}
    if options.get("chunk_size"):
        kwargs["chunk_size"] = int(options["chunk_size"])
    return FilesystemStore(store_id, path.expanduser(), **kwargs)


register_driver("file", _file_factory)


def _swift_factory(store_id: str, options: Mapping[str, Any], data_dir: Path) -> Store:
    from onestack.image.stores.swift import factory

    return factory(store_id, options, data_dir)


register_driver("swift", _swift_factory)
register_driver("object", _swift_factory)


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if hasattr(value, "model_dump"):
        return dict(value.model_dump())
    return dict(value)


def stores_from_settings(settings: Any, *, data_dir: Path | None = None) -> dict[str, Store]:
    """Build the configured stores, the default one first.

    ``settings`` is either the process :class:`Settings` (reads ``settings.image.stores``, each
    with a ``type`` (or ``driver``) and options, and ``settings.image.default_store``) or a
    plain mapping ``{"file": {"driver": "file", "path": ...}}`` whose first entry is the
    default. A file store without a path uses ``<data_dir>/images`` (store id ``file``) or
    ``<data_dir>/images-<id>``. Without any configuration: one ``file`` store.
    """
    default_id: str | None = None
    if isinstance(settings, Mapping):
        config = dict(settings)
        if data_dir is None:
            from onestack.common.config import DEFAULT_DATA_DIR

            data_dir = DEFAULT_DATA_DIR
    else:
        data_dir = Path(data_dir or settings.data_dir)
        image = getattr(settings, "image", None)
        raw = getattr(image, "stores", None) or getattr(image, "enabled_backends", None)
        config = _as_dict(raw)
        default_id = getattr(image, "default_store", None) or getattr(
            image, "default_backend", None
        )
    if not config:
        config = {DEFAULT_STORE_ID: {"driver": "file"}}

    stores: dict[str, Store] = {}
    for store_id, options in config.items():
        if not _STORE_ID.match(str(store_id)):
            raise ValueError(f"invalid image store id {store_id!r}")
        opts = _as_dict(options) if not isinstance(options, str) else {"driver": options}
        driver = opts.get("driver") or opts.get("type") or "file"
        if driver not in _DRIVERS:
            raise ValueError(
                f"image store {store_id!r}: unknown driver {driver!r} "
                f"(known: {', '.join(sorted(_DRIVERS))})"
            )
        stores[store_id] = _DRIVERS[driver](store_id, opts, data_dir)

    if default_id is not None:
        if default_id not in stores:
            raise ValueError(f"default image store {default_id!r} is not configured")
        stores = {default_id: stores[default_id], **stores}
    _check_distinct_paths(stores)
    return stores


def _check_distinct_paths(stores: Mapping[str, Store]) -> None:
    seen: dict[Path, str] = {}
    for store_id, store in stores.items():
        path = getattr(store, "path", None)
        if path is None:
            continue
        if path in seen:
            raise ValueError(f"image stores {seen[path]!r} and {store_id!r} share {path}")
        seen[path] = store_id


def find_store(stores: Mapping[str, Store], location: str, store_id: str | None = None) -> Store:
    """The store holding ``location`` (by its id when known, else the one that owns the URL)."""
    if store_id is not None:
        try:
            return stores[store_id]
        except KeyError:
            raise NotFound(f"image store {store_id!r} is not configured here") from None
    for store in stores.values():
        owns = getattr(store, "owns", None)
        if owns is not None and owns(location):
            return store
    raise InvalidLocation("no configured image store holds this location")
