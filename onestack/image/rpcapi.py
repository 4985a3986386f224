"""The typed RPC client of the image worker (topic ``image-worker``)."""

from __future__ import annotations

from onestack.common.context import RequestContext
from onestack.common.rpc import RPCClient, Transport

TOPIC = "image-worker"


class ImageWorkerAPI:
    """1.0: run_import."""

    def __init__(self, transport: Transport):
        self.client = RPCClient(transport, TOPIC, version="1.0")

    async def run_import(
        self,
        ctx: RequestContext,
        *,
        image_id: str,
        task_id: str,
        method: str,
        stores: list[str],
        uri: str | None,
        all_must: bool,
    ) -> None:
        """Hand a validated import (its task row already written) to any image worker."""
        await self.client.cast(
            ctx,
            "run_import",
            image_id=image_id,
            task_id=task_id,
            method=method,
            stores=stores,
            uri=uri,
            all_must=all_must,
        )
