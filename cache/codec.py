"""Plain, self-checking encodings for cache values (nothing is ever pickled or evaluated).

A stored value is a *frame*:

    MAGIC (4) | version u32 | codec (1) | kind length u8 | kind | payload length u64
    | checksum (32) | payload

The checksum is SHA-256 (hardware-accelerated on current CPUs, about twice BLAKE2b's speed)
over everything before it, the full store key the frame was written under, and the payload. So a truncated, bit-flipped or foreign frame, a frame written by another
format version or codec, and a frame moved from one key to another are all rejected by
`unframe` with `CorruptEntry`. The checksum guards against accidents and tampering that does not
recompute it; it is not a signature (a secret kept next to the data would add nothing), which is
why decoding never runs code whatever the bytes are.

Payload codecs:
- bytes: the payload itself.
- JSON: UTF-8 `json.dumps` text (strict JSON: no NaN/Infinity; tuples come back as lists).
- arrays: u32 count, then per array: u16 name length | UTF-8 name | u64 blob length | `.npy`
  blob. Only plain (non-object, non-structured) dtypes are accepted. Each blob's header is
  parsed as data (never evaluated) and checked against its length before its bytes are copied
  into a fresh array, or, when asked for views, read in place (a read-only array over the
  immutable payload, copied only where its data would be misaligned); nothing is unpickled.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import re
import struct

import numpy as np

from cache.errors import CorruptEntry
from decoding.errors import UsageError

MAGIC = b"TDC\x00"
BYTES, JSON, ARRAYS = b"b", b"j", b"a"

_HEAD = struct.Struct("<4sIcB")  # magic, version, codec, kind length
_LEN = struct.Struct("<Q")
_DIGEST = 32
_COUNT = struct.Struct("<I")
_NAME = struct.Struct("<H")
_NPY_MAGIC = b"\x93NUMPY"
_NPY_LEN = {1: struct.Struct("<H"), 2: struct.Struct("<I"), 3: struct.Struct("<I")}
# The header `np.save` writes for a plain dtype; anything else goes through numpy's parser.
_NPY_HEADER = re.compile(
    r"\{'descr': '([<>|=][A-Za-z][0-9]*)', 'fortran_order': (True|False), "
    r"'shape': \(((?:[0-9]+, )*[0-9]+,?)?\), \} *\n")


def frame(version: int, codec: bytes, kind: str, store_key: str, payload: bytes) -> bytes:
    """Wrap `payload` in a frame bound to `version`, `codec`, `kind` and `store_key`."""
    kind_b = kind.encode("ascii")
    head = _HEAD.pack(MAGIC, version, codec, len(kind_b)) + kind_b + _LEN.pack(len(payload))
    return head + _checksum(head, store_key, payload) + payload


def unframe(blob: object, version: int, codec: bytes, kind: str, store_key: str) -> memoryview:
    """The payload of `blob` (a view, not a copy), or CorruptEntry if it is not exactly what
    `frame` made for these."""
    if not isinstance(blob, bytes):
        raise CorruptEntry(f"value is {type(blob).__name__}, not bytes")
    if len(blob) < _HEAD.size:
        raise CorruptEntry("truncated header")
    magic, got_version, got_codec, kind_len = _HEAD.unpack_from(blob)
    if magic != MAGIC:
        raise CorruptEntry("bad magic")
    if got_version != version:
        raise CorruptEntry(f"format version {got_version}, expected {version}")
    if got_codec != codec:
        raise CorruptEntry(f"codec {got_codec!r}, expected {codec!r}")
    pos = _HEAD.size
    if blob[pos : pos + kind_len] != kind.encode("ascii"):
        raise CorruptEntry("kind mismatch")
    pos += kind_len
    if len(blob) < pos + _LEN.size + _DIGEST:
        raise CorruptEntry("truncated header")
    (size,) = _LEN.unpack_from(blob, pos)
    pos += _LEN.size
    view = memoryview(blob)
    head, digest, payload = view[:pos], view[pos : pos + _DIGEST], view[pos + _DIGEST :]
    if len(payload) != size:
        raise CorruptEntry(f"payload is {len(payload)} bytes, header says {size}")
    if digest != _checksum(head, store_key, payload):
        raise CorruptEntry("checksum mismatch")
    return payload


def _checksum(head: bytes | memoryview, store_key: str, payload: bytes | memoryview) -> bytes:
    h = hashlib.sha256(head)
    h.update(store_key.encode("utf-8", "surrogatepass"))
    h.update(payload)
    return h.digest()


def encode_json(value: object) -> bytes:
    """Strict JSON text of `value` (`UsageError` if it is not JSON-serializable)."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise UsageError(f"value is not JSON-serializable: {exc}") from None
    return text.encode()


def decode_json(payload: bytes | memoryview) -> object:
    """Inverse of `encode_json`; CorruptEntry on anything else."""
    try:
        return json.loads(str(payload, "utf-8"))
    except (ValueError, RecursionError) as exc:
        raise CorruptEntry(f"invalid JSON: {exc}") from None


def encode_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """The archive of `arrays`; `UsageError` for bad names, non-arrays, object/structured dtypes."""
    if not isinstance(arrays, dict):
        raise UsageError(f"arrays must be a dict of numpy arrays, not {type(arrays).__name__}")
    parts = [_COUNT.pack(len(arrays))]
    for name, arr in arrays.items():
        if not isinstance(name, str) or not name:
            raise UsageError(f"array names must be non-empty strings, got {name!r}")
        if not isinstance(arr, np.ndarray):
            raise UsageError(f"array {name!r} is {type(arr).__name__}, not a numpy array")
        if arr.dtype.hasobject or arr.dtype.names is not None:
            raise UsageError(f"array {name!r} has dtype {arr.dtype}; only plain dtypes are stored")
        name_b = name.encode("utf-8")
        if len(name_b) > 0xFFFF:
            raise UsageError(f"array name too long ({len(name_b)} bytes)")
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        blob = buf.getvalue()
        parts += [_NAME.pack(len(name_b)), name_b, _LEN.pack(len(blob)), blob]
    return b"".join(parts)


def decode_arrays(payload: bytes | memoryview, *, views: bool = False
                  ) -> dict[str, np.ndarray]:
    """Inverse of `encode_arrays`: fresh, writable arrays, or with `views` read-only arrays over
    `payload` itself (which must then be immutable: `bytes` or a view of them); CorruptEntry on
    anything else."""
    view = memoryview(payload)
    end = len(view)
    try:
        (count,) = _COUNT.unpack_from(view)
        pos = _COUNT.size
        out: dict[str, np.ndarray] = {}
        for _ in range(count):
            (name_len,) = _NAME.unpack_from(view, pos)
            pos += _NAME.size
            name = str(view[pos : pos + name_len], "utf-8")
            pos += name_len
            (blob_len,) = _LEN.unpack_from(view, pos)
            pos += _LEN.size
            stop = pos + blob_len
            if name in out or stop > end or not name:
                raise CorruptEntry("bad array archive entry")
            out[name] = _load_npy(view, pos, stop, views)
            pos = stop
    except (struct.error, UnicodeDecodeError) as exc:
        raise CorruptEntry(f"bad array archive: {exc}") from None
    if pos != end:
        raise CorruptEntry("trailing bytes after array archive")
    return out


def _load_npy(view: memoryview, start: int, stop: int, in_place: bool) -> np.ndarray:
    """The array of the `.npy` blob `view[start:stop]`, after checking that its header describes
    exactly its data: a fresh copy, or with `in_place` a read-only array over the data itself
    (a read-only copy where the data is misaligned for its dtype)."""
    try:
        dtype, order, shape, count, nbytes, offset = _npy_layout(view, start, stop)
        if offset + nbytes != stop:
            raise CorruptEntry(".npy header does not match its data length")
        array = np.frombuffer(view, dtype=dtype, count=count, offset=offset)
        if len(shape) != 1:
            array = array.reshape(shape, order=order)
        if not in_place:
            return array.copy(order="K")
        if not array.flags.aligned:
            array = array.copy(order="K")
        array.flags.writeable = False
        return array
    except CorruptEntry:
        raise
    except (ValueError, TypeError, OverflowError, EOFError, struct.error) as exc:
        raise CorruptEntry(f"bad .npy blob: {exc}") from None


def _layout(dtype: np.dtype, fortran: bool, shape: tuple[int, ...]
            ) -> tuple[np.dtype, str, tuple[int, ...], int, int]:
    """(dtype, order, shape, item count, data bytes) of an allowed dtype (plain, not object,
    structured or sub-array: CorruptEntry otherwise)."""
    if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None:
        raise CorruptEntry(f"disallowed dtype {dtype}")
    count = math.prod(shape)
    return dtype, "F" if fortran else "C", shape, count, count * dtype.itemsize


def _plain_header(header: bytes) -> tuple[np.dtype, bool, tuple[int, ...]] | None:
    """(dtype, Fortran order, shape) of a header as `np.save` writes it for a plain dtype, else
    None."""
    match = _NPY_HEADER.fullmatch(str(header, "latin-1"))
    if match is None:
        return None
    dims = match[3]  # "3, 4" or "3," (the regex allows digits, ", " and a last ","), or None
    shape = tuple(map(int, dims.rstrip(",").split(","))) if dims else ()
    return _dtype(match[1]), match[2] == "True", shape


# Every array of a record has its own shape, so most headers a process reads are new to
# `_remembered_layout`; their dtypes, a handful, are made once (a dtype is immutable).
_dtype = functools.lru_cache(maxsize=64)(np.dtype)


def _plain_layout(header: bytes) -> tuple[np.dtype, str, tuple[int, ...], int, int] | None:
    """`_layout` of a plain header (`_plain_header`), or None for another header."""
    plain = _plain_header(header)
    return None if plain is None else _layout(*plain)


# A plain header's layout is a pure function of its bytes and a store holds few distinct
# headers, so short ones (`np.save` writes 118 bytes for up to a few dimensions) are parsed and
# checked once; a long one, which only a foreign value could hold, is parsed each time and never
# kept. (A disallowed dtype raises, which the memo does not keep.)
_REMEMBERED_HEADER_BYTES = 246
_remembered_layout = functools.lru_cache(maxsize=1024)(_plain_layout)


def _npy_layout(view: memoryview, start: int, stop: int
                ) -> tuple[np.dtype, str, tuple[int, ...], int, int, int]:
    """(dtype, order "C" or "F", shape, item count, data bytes, data offset in `view`) of the
    `.npy` blob `view[start:stop]` whose dtype is allowed (CorruptEntry otherwise). The header
    `np.save` writes for plain dtypes is matched directly; any other is read by numpy's
    literal-only parser."""
    if stop - start < 10 or view[start : start + 6] != _NPY_MAGIC \
            or view[start + 6] not in _NPY_LEN or view[start + 7]:
        raise CorruptEntry("not a .npy blob (bad magic or version)")
    size = _NPY_LEN[view[start + 6]]
    (header_len,) = size.unpack_from(view, start + 8)
    offset = start + 8 + size.size + header_len
    if offset > stop:
        raise CorruptEntry("truncated .npy header")
    header = bytes(view[start + 8 + size.size : offset])
    layout = (_remembered_layout if header_len <= _REMEMBERED_HEADER_BYTES
              else _plain_layout)(header)
    if layout is not None:
        return (*layout, offset)
    fp = io.BytesIO(view[start:stop])
    fmt = np.lib.format
    version = fmt.read_magic(fp)
    if version not in ((1, 0), (2, 0)):
        raise CorruptEntry(f"unsupported .npy version {version}")
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, fortran, dtype = read(fp)
    return (*_layout(dtype, fortran, shape), start + fp.tell())
