"""``aws-chunked`` request bodies (``x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD``):
the body arrives as ``<hex size>;chunk-signature=<sig>\\r\\n<data>\\r\\n`` frames ending with an
empty one; each frame's signature chains from the previous one (the first from the request's
own signature) and is checked with the SigV4 signing key before its data goes on."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_HEADER = 4096


def signing_key(secret: str, scope: str) -> bytes:
    """SigV4's key for ``date/region/service/aws4_request``."""
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@dataclass
class ChunkSigner:
    """What a frame's signature is checked with."""

    key: bytes
    amz_date: str
    scope: str
    previous: str  # the request's signature, then each frame's

    def expected(self, data: bytes) -> str:
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                self.amz_date,
                self.scope,
                self.previous,
                EMPTY_SHA256,
                hashlib.sha256(data).hexdigest(),
            ]
        )
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


class ChunkedBodyError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def decoding_receive(receive: Any, signer: ChunkSigner) -> Any:
    """An ASGI ``receive`` that gives the frames' checked data (``more_body`` false after the
    final, empty frame); a bad frame or signature raises :class:`ChunkedBodyError`."""
    buffer = bytearray()
    state = {"need": -1, "ended": False, "done": False}  # need -1: reading a frame header

    def frames() -> tuple[bytes, bool]:
        out = bytearray()
        while True:
            if state["need"] < 0:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEADER:
                        raise ChunkedBodyError("InvalidChunkSizeError", "Bad aws-chunked frame")
                    return bytes(out), False
                header = bytes(buffer[:end]).decode("latin-1")
                del buffer[: end + 2]
                size_text, _, params = header.partition(";")
                name, _, sig = params.partition("=")
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ChunkedBodyError("InvalidChunkSizeError", "Bad chunk size") from None
                if name.strip() != "chunk-signature" or not sig.strip() or size < 0:
                    raise ChunkedBodyError("IncompleteBody", "A chunk has no signature")
                state["need"], state["sig"] = size, sig.strip()  # type: ignore[assignment]
            need = int(state["need"])
            if len(buffer) < need + 2:
                return bytes(out), False
            data = bytes(buffer[:need])
            if buffer[need : need + 2] != b"\r\n":
                raise ChunkedBodyError("IncompleteBody", "A chunk is longer than its size")
            del buffer[: need + 2]
            if not hmac.compare_digest(signer.expected(data), str(state["sig"])):
                raise ChunkedBodyError(
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided.",
                    403,
                )
            signer.previous = str(state["sig"])
            state["need"] = -1
            if need == 0:
                if buffer:
                    raise ChunkedBodyError("IncompleteBody", "Data after the final chunk")
                return bytes(out), True
            out += data

    async def receive_decoded() -> dict[str, Any]:
        while True:
            if state["done"]:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] != "http.request":
                return dict(message)
            buffer.extend(message.get("body", b""))
            data, final = frames()
            if final:
                state["done"] = True
            elif not message.get("more_body", False):
                raise ChunkedBodyError("IncompleteBody", "The body ended inside a chunk")
            if data or final:
                return {"type": "http.request", "body": data, "more_body": not final}

    return receive_decoded
