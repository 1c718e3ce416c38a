"""Messages between a driver and its parties: a JSON header and binary blobs, never pickle.

    frame = MAGIC, u64 header length, header (UTF-8 JSON), u32 blob count, (u64 length, bytes)*

The header refers to blobs by index (e.g. a share's serialized `ValueMeta` and
chunks), so shares travel as bytes, not base64. Reading a frame checks every length
against what is left and against a limit, and names what is wrong.
"""

from __future__ import annotations

import json
import struct
from typing import IO, Any

from spu import libspu

from ..diagnostics import DittoError

MAGIC = b"DITTO-WIRE/1\n"
MAX_FRAME = 2**36
"""64 GiB: larger than any plan and its shares, smaller than a corrupted length."""


def encode_message(header: dict[str, Any], blobs: list[bytes]) -> bytes:
    text = json.dumps(header).encode()
    parts = [MAGIC, struct.pack("<Q", len(text)), text, struct.pack("<I", len(blobs))]
    for blob in blobs:
        parts += [struct.pack("<Q", len(blob)), blob]
    return b"".join(parts)


def decode_message(data: bytes, where: str) -> tuple[dict[str, Any], list[bytes]]:
    view = memoryview(data)
    offset = 0

    def take(count: int, what: str) -> memoryview:
        nonlocal offset
        if count > len(view) - offset:
            raise DittoError(f"{where}: truncated message ({what})")
        chunk = view[offset : offset + count]
        offset += count
        return chunk

    if bytes(take(len(MAGIC), "magic")) != MAGIC:
        raise DittoError(f"{where}: not a ditto-compiler message")
    (length,) = struct.unpack("<Q", take(8, "header length"))
    try:
        header = json.loads(bytes(take(length, "header")).decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise DittoError(f"{where}: malformed message header: {e}") from None
    if not isinstance(header, dict):
        raise DittoError(f"{where}: malformed message header: not a JSON object")
    (count,) = struct.unpack("<I", take(4, "blob count"))
    blobs = []
    for index in range(count):
        (size,) = struct.unpack("<Q", take(8, f"blob {index} length"))
        blobs.append(bytes(take(size, f"blob {index}")))
    if offset != len(view):
        raise DittoError(f"{where}: {len(view) - offset} stray bytes after the message")
    return header, blobs


def write_frame(stream: IO[bytes], data: bytes) -> None:
    """`data` with its length in front (what `read_frame` reads)."""
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes], where: str, limit: int = MAX_FRAME) -> bytes | None:
    """One length-prefixed frame from `stream`; None if the stream ends cleanly before it."""
    prefix = stream.read(8)
    if not prefix:
        return None
    if len(prefix) != 8:
        raise DittoError(f"{where}: the stream ended inside a message's length")
    (length,) = struct.unpack("<Q", prefix)
    if length > limit:
        raise DittoError(f"{where}: a message of {length} bytes is over the limit of {limit}")
    data = stream.read(length)
    if len(data) != length:
        raise DittoError(f"{where}: the stream ended inside a message")
    return data


def write_message(stream: IO[bytes], header: dict[str, Any], blobs: list[bytes]) -> None:
    write_frame(stream, encode_message(header, blobs))


def read_message(stream: IO[bytes], where: str) -> tuple[dict[str, Any], list[bytes]]:
    """One length-prefixed message from `stream` (as `write_message` writes it)."""
    data = read_frame(stream, where)
    if data is None:
        raise DittoError(f"{where}: the stream ended before a message")
    return decode_message(data, where)


def share_to_wire(share: libspu.Share, blobs: list[bytes]) -> dict[str, Any]:
    """A share as header JSON, its bytes appended to `blobs`."""
    first = len(blobs)
    blobs.append(bytes(share.meta))
    blobs.extend(bytes(chunk) for chunk in share.share_chunks)
    return {"meta": first, "chunks": list(range(first + 1, len(blobs)))}


def share_from_wire(data: Any, blobs: list[bytes], where: str) -> libspu.Share:
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("meta"), int)
        or not isinstance(data.get("chunks"), list)
        or not all(isinstance(i, int) and 0 <= i < len(blobs) for i in [data["meta"], *data["chunks"]])
    ):
        raise DittoError(f"{where}: malformed share")
    share = libspu.Share()
    share.meta = blobs[data["meta"]]
    share.share_chunks = [blobs[i] for i in data["chunks"]]
    return share
