"""ABY3 share words of SPU values, for moving secrets between rings.

Under ABY3 each party i holds two ring words per element, (s_i, s_{i+1}), with
x = s_0 + s_1 + s_2 mod 2^k. SPU exposes them as a `libspu.Share`: a serialized
`ValueMeta` (data type, visibility, shape, storage type such as
`aby3.AShr<FM64>`) and serialized `ValueChunk`s whose `content` is the words.

The local step of a ring conversion works on these words: a downcast reduces
each word mod 2^k' (after the value was truncated to the small ring's fraction
bits in the big ring), an upcast lifts each word to the wider ring (the wrap
that introduces is then removed by a protocol). Both keep every party's view
what it was: shares of the same secret, nothing revealed.
"""

from __future__ import annotations

import numpy as np
from spu import libspu

from ..diagnostics import DittoError

_WORD = {32: np.uint32, 64: np.uint64}


def arithmetic_ring(share: libspu.Share) -> int:
    """The ring width of an arithmetic ABY3 share; other storage (e.g. boolean shares) is refused."""
    meta = libspu.ValueMeta()
    meta.ParseFromString(share.meta)
    for k in _WORD:
        if meta.storage_type == f"aby3.AShr<FM{k}>":
            return k
    raise DittoError(f"expected an arithmetic ABY3 share, got storage {meta.storage_type}")


def share_words(share: libspu.Share) -> np.ndarray:
    """This party's words, shape (elements, 2): (s_i, s_{i+1})."""
    k = arithmetic_ring(share)
    content = b"".join(_chunk_content(c) for c in share.share_chunks)
    return np.frombuffer(content, dtype=_WORD[k]).reshape(-1, 2).copy()


def with_words(
    share: libspu.Share,
    words: np.ndarray,
    data_type: libspu.DataType | None = None,
    shape: tuple[int, ...] | None = None,
) -> libspu.Share:
    """A share like `share` holding `words` (whose dtype picks the ring), optionally retyped and reshaped."""
    k = {np.dtype(np.uint32): 32, np.dtype(np.uint64): 64}.get(words.dtype)
    if k is None:
        raise DittoError(f"share words must be uint32 or uint64, not {words.dtype}")
    meta = libspu.ValueMeta()
    meta.ParseFromString(share.meta)
    meta.storage_type = f"aby3.AShr<FM{k}>"
    if data_type is not None:
        meta.data_type = data_type
    if shape is not None:
        meta.shape = list(shape)
    return _share(meta, words)


def reduce_words(words: np.ndarray, k: int) -> np.ndarray:
    """Each word mod 2^k: the local part of a downcast."""
    return (words & np.uint64((1 << k) - 1)).astype(_WORD[k]) if k < 64 else words


def lift_words(words: np.ndarray, k: int) -> np.ndarray:
    """Each word zero-extended to 2^k: the local part of an upcast (the sum may now wrap 2^k' up to twice)."""
    return words.astype(_WORD[k])


def public_words(share: libspu.Share) -> tuple[int, np.ndarray]:
    """(ring width, raw values) of a public share: every party holds the encoded value itself."""
    meta = libspu.ValueMeta()
    meta.ParseFromString(share.meta)
    for k in _WORD:
        if meta.storage_type == f"Pub2k<FM{k}>":
            content = b"".join(_chunk_content(c) for c in share.share_chunks)
            return k, np.frombuffer(content, dtype=np.int32 if k == 32 else np.int64).copy()
    raise DittoError(f"expected a public share, got storage {meta.storage_type}")


def with_public_words(
    share: libspu.Share, raw: np.ndarray, k: int, data_type: libspu.DataType | None = None
) -> libspu.Share:
    """A public share like `share` holding the raw ring values `raw` in the 2^k ring."""
    meta = libspu.ValueMeta()
    meta.ParseFromString(share.meta)
    meta.storage_type = f"Pub2k<FM{k}>"
    if data_type is not None:
        meta.data_type = data_type
    return _share(meta, np.asarray(raw).astype(np.int32 if k == 32 else np.int64))


def _chunk_content(chunk_bytes: bytes) -> bytes:
    chunk = libspu.ValueChunk()
    chunk.ParseFromString(chunk_bytes)
    return chunk.content


def _share(meta: libspu.ValueMeta, words: np.ndarray) -> libspu.Share:
    chunk = libspu.ValueChunk()
    chunk.content = np.ascontiguousarray(words).tobytes()
    chunk.total_bytes = len(chunk.content)
    chunk.chunk_offset = 0
    out = libspu.Share()
    out.meta = meta.SerializeToString()
    out.share_chunks = [chunk.SerializeToString()]
    return out
