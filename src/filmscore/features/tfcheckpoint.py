"""Read TensorFlow (V2, "tensor bundle") checkpoints with numpy alone: no TensorFlow, no pickle.

A checkpoint `PREFIX` is two or more files:

- `PREFIX.index`: an SSTable in LevelDB's table format. Blocks of prefix-
  compressed key/value entries (varint32 shared length, varint32 unshared
  length, varint32 value length, the unshared key bytes, the value), each
  block followed by a restart array (uint32s and their count) and a 5-byte
  trailer (compression type, masked CRC-32C of the block and the type byte);
  an index block whose values are BlockHandles (varint64 offset, varint64
  size) of the data blocks; a 48-byte footer (metaindex and index handles,
  zero padding, magic 0xdb4775248b80fb57). The key "" holds a
  BundleHeaderProto (num_shards, endianness, version); every other key is a
  variable name whose value is a BundleEntryProto (dtype, shape, shard_id,
  offset, size, masked CRC-32C of the bytes; `slices` for partitioned
  variables). TensorFlow writes the index uncompressed.
- `PREFIX.data-SSSSS-of-NNNNN`: the shards, each variable's raw bytes at
  `offset` (little-endian, C order, unless the header says otherwise).

Everything read is checked: the footer's magic, every block's checksum, every
tensor's size and checksum. A truncated or corrupt file raises
`filmscore.features.weights.WeightsCorrupt` naming the file and what is wrong.

The protobuf messages are decoded here by hand (only varint, fixed32/64 and
length-delimited fields occur), so no protobuf library is needed either.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .weights import WeightsCorrupt

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48  # two BlockHandles padded to 40 bytes, then the 8-byte magic
BLOCK_TRAILER_BYTES = 5  # compression type + masked crc32c
NO_COMPRESSION = 0
CRC_MASK_DELTA = 0xA282EAD8

# tensorflow/core/framework/types.proto -> numpy (the dtypes checkpoints of plain tensors use)
TF_DTYPES = {
    1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
    10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64,
}
TF_DTYPE_NAMES = {7: "string", 8: "complex64", 14: "bfloat16", 18: "complex128", 20: "resource", 21: "variant"}


# ---------------------------------------------------------------- CRC-32C (Castagnoli)

def _crc_table() -> np.ndarray:
    poly = 0x82F63B78  # reflected 0x1EDC6F41
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> np.uint32(1)) ^ np.uint32(poly), t >> np.uint32(1)).astype(np.uint32)
    return t


_CRC_TABLE = _crc_table()
_LANES = 4096


def _crc_bytes(crc: int, data: bytes) -> int:
    """Raw CRC-32C register update, one byte at a time (for short tails)."""
    table = _CRC_TABLE
    for b in data:
        crc = int(table[(crc ^ b) & 0xFF]) ^ (crc >> 8)
    return crc


def _zero_shift_tables(n_bytes: int) -> np.ndarray:
    """Four 256-entry tables T with shift(x) = T0[x & 255] ^ T1[x >> 8 & 255] ^ ...: the raw CRC register
    x advanced over `n_bytes` zero bytes (a linear map over GF(2))."""
    basis = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
    for _ in range(n_bytes):
        basis = _CRC_TABLE[basis & np.uint32(0xFF)] ^ (basis >> np.uint32(8))
    tables = np.zeros((4, 256), dtype=np.uint32)
    for k in range(4):
        for bit in range(8):
            sel = ((np.arange(256) >> bit) & 1).astype(bool)
            tables[k, sel] ^= basis[8 * k + bit]
    return tables


def crc32c(data: bytes | memoryview | np.ndarray) -> int:
    """CRC-32C (Castagnoli; iSCSI, LevelDB, TensorFlow) of `data`.

    Vectorised: the data is cut into 4096 lanes whose raw CRCs are computed
    side by side (one numpy step per byte position), then chained with the
    zero-shift operator of a lane's length; the tail goes byte by byte.
    """
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    n = buf.size
    crc = 0xFFFFFFFF
    lane = n // _LANES
    if lane >= 64:  # worth the setup (about 256 kB and up)
        block = buf[: lane * _LANES].reshape(_LANES, lane)
        regs = np.zeros(_LANES, dtype=np.uint32)
        regs[0] = crc  # the initial register enters through the first lane
        table = _CRC_TABLE
        for j in range(lane):
            regs = table[(regs ^ block[:, j]) & np.uint32(0xFF)] ^ (regs >> np.uint32(8))
        shift = _zero_shift_tables(lane)
        crc = int(regs[0])
        for r in regs[1:].tolist():
            crc = int(shift[0, crc & 0xFF] ^ shift[1, (crc >> 8) & 0xFF] ^ shift[2, (crc >> 16) & 0xFF]
                      ^ shift[3, crc >> 24]) ^ r
        buf = buf[lane * _LANES:]
    crc = _crc_bytes(crc, buf.tobytes())
    return crc ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """LevelDB's masked CRC, as stored in tables and in BundleEntryProto.crc32c."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + CRC_MASK_DELTA) & 0xFFFFFFFF


# ---------------------------------------------------------------- wire formats

class _Corrupt(Exception):
    """Internal: a malformed structure; turned into WeightsCorrupt naming the file."""


def _varint(buf: bytes, pos: int, end: int | None = None) -> tuple[int, int]:
    end = len(buf) if end is None else end
    result = shift = 0
    while True:
        if pos >= end:
            raise _Corrupt("a varint runs past the end of its record")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Corrupt("a varint is longer than 10 bytes")


def _proto_fields(buf: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of a protobuf message: ints for varint/fixed, bytes for length-delimited."""
    out = []
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire == 1:
            if pos + 8 > end:
                raise _Corrupt("a fixed64 field runs past the end of its message")
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos, end)
            if pos + n > end:
                raise _Corrupt("a length-delimited field runs past the end of its message")
            value = bytes(buf[pos:pos + n])
            pos += n
        elif wire == 5:
            if pos + 4 > end:
                raise _Corrupt("a fixed32 field runs past the end of its message")
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise _Corrupt(f"protobuf wire type {wire} (field {field}) is not valid here")
        out.append((field, wire, value))
    return out


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclass(frozen=True)
class BundleEntry:
    """Where one variable lies: BundleEntryProto."""

    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None  # masked, as stored
    sliced: bool

    @staticmethod
    def parse(value: bytes) -> "BundleEntry":
        dtype = shard = offset = size = 0
        crc = None
        shape: list[int] = []
        sliced = False
        for field, _, v in _proto_fields(value):
            if field == 1:
                dtype = int(v)
            elif field == 2:  # TensorShapeProto: repeated Dim dim = 2 (Dim: int64 size = 1)
                for f2, _, d in _proto_fields(v):
                    if f2 == 2:
                        sizes = [_int64(int(x)) for f3, _, x in _proto_fields(d) if f3 == 1]
                        shape.append(sizes[-1] if sizes else 0)
                    elif f2 == 3 and v:
                        raise _Corrupt("a tensor shape of unknown rank")
            elif field == 3:
                shard = int(v)
            elif field == 4:
                offset = _int64(int(v))
            elif field == 5:
                size = _int64(int(v))
            elif field == 6:
                crc = int(v)
            elif field == 7:
                sliced = True
        return BundleEntry(dtype, tuple(shape), shard, offset, size, crc, sliced)


@dataclass(frozen=True)
class BundleHeader:
    num_shards: int
    big_endian: bool

    @staticmethod
    def parse(value: bytes) -> "BundleHeader":
        shards, endianness = 1, 0
        for field, _, v in _proto_fields(value):
            if field == 1:
                shards = int(v)
            elif field == 2:
                endianness = int(v)
        return BundleHeader(shards, endianness == 1)


def _block(data: bytes, offset: int, size: int, what: str) -> bytes:
    """The contents of the block at (offset, size), its trailer's checksum verified."""
    end = offset + size + BLOCK_TRAILER_BYTES
    if offset < 0 or size < 4 or end > len(data) - FOOTER_BYTES:
        raise _Corrupt(f"the {what} block (offset {offset}, {size} bytes) lies outside the file ({len(data)} bytes)")
    contents = data[offset:offset + size]
    ctype = data[offset + size]
    stored = struct.unpack_from("<I", data, offset + size + 1)[0]
    if mask_crc(crc32c(contents + bytes([ctype]))) != stored:
        raise _Corrupt(f"the {what} block at offset {offset} fails its checksum")
    if ctype != NO_COMPRESSION:
        raise _Corrupt(f"the {what} block is compressed (type {ctype}); TensorFlow writes checkpoint indexes "
                       "uncompressed")
    return contents


def _block_entries(contents: bytes) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs of a block (prefix-compressed keys, restart array at the end)."""
    if len(contents) < 4:
        raise _Corrupt("a block shorter than its restart count")
    n_restarts = struct.unpack_from("<I", contents, len(contents) - 4)[0]
    limit = len(contents) - 4 - 4 * n_restarts
    if n_restarts < 1 or limit < 0:
        raise _Corrupt(f"a block's restart array ({n_restarts} entries) does not fit in it")
    out = []
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(contents, pos, limit)
        unshared, pos = _varint(contents, pos, limit)
        vlen, pos = _varint(contents, pos, limit)
        if shared > len(key) or pos + unshared + vlen > limit:
            raise _Corrupt("a block entry runs past the end of its block")
        key = key[:shared] + contents[pos:pos + unshared]
        pos += unshared
        out.append((key, contents[pos:pos + vlen]))
        pos += vlen
    return out


def read_index(index_path: str | Path) -> tuple[BundleHeader, dict[str, BundleEntry]]:
    """The header and the {variable name: BundleEntry} of a checkpoint's `.index` file."""
    index_path = Path(index_path)
    try:
        data = index_path.read_bytes()
    except OSError as e:
        raise WeightsCorrupt(index_path, f"cannot be read ({e.strerror or e})") from None
    try:
        if len(data) < FOOTER_BYTES:
            raise _Corrupt(f"is {len(data)} bytes, shorter than an SSTable footer ({FOOTER_BYTES}): truncated")
        footer = data[-FOOTER_BYTES:]
        if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
            raise _Corrupt("does not end with the SSTable magic number: truncated, or not a checkpoint index")
        _, pos = _varint(footer, 0, 40)  # metaindex handle (unused: no filters)
        _, pos = _varint(footer, pos, 40)
        idx_off, pos = _varint(footer, pos, 40)
        idx_size, pos = _varint(footer, pos, 40)
        header = None
        entries: dict[str, BundleEntry] = {}
        for _, handle in _block_entries(_block(data, idx_off, idx_size, "index")):
            off, p = _varint(handle, 0)
            size, _ = _varint(handle, p)
            for key, value in _block_entries(_block(data, off, size, "data")):
                if key == b"":
                    header = BundleHeader.parse(value)
                else:
                    try:
                        name = key.decode("utf-8")
                    except UnicodeDecodeError:
                        raise _Corrupt("a variable name is not UTF-8") from None
                    entries[name] = BundleEntry.parse(value)
        if header is None:
            raise _Corrupt("holds no bundle header (the entry with the empty key)")
    except _Corrupt as e:
        raise WeightsCorrupt(index_path, f"is not a readable TensorFlow checkpoint index: {e}") from None
    return header, entries


def checkpoint_files(prefix: str | Path) -> tuple[Path, list[Path]]:
    """The index and the data shards of checkpoint `prefix` (shard names per the header's num_shards)."""
    prefix = str(prefix)
    index = Path(prefix + ".index")
    header, _ = read_index(index)
    n = header.num_shards
    return index, [Path(f"{prefix}.data-{i:05d}-of-{n:05d}") for i in range(n)]


def read_checkpoint(prefix: str | Path, names=None) -> dict[str, np.ndarray]:
    """Variables of the checkpoint `prefix` (`prefix.index`, `prefix.data-*`) as numpy arrays.

    `names`: only these variables (all when None; a name not in the
    checkpoint is an error listing what it holds). A TensorFlow prefix may be a
    folder path ending in '/', as musicnn's (files `<folder>/.index`, ...).
    """
    prefix = str(prefix)
    index = Path(prefix + ".index")
    header, entries = read_index(index)
    if names is None:
        wanted = sorted(entries)
    else:
        wanted = list(names)
        missing = [n for n in wanted if n not in entries]
        if missing:
            more = " ..." if len(missing) > 4 else ""
            raise WeightsCorrupt(index, f"holds no variable {', '.join(missing[:4])}{more} "
                                        f"(it holds {', '.join(sorted(entries)[:6])} ...)")
    shards = [Path(f"{prefix}.data-{i:05d}-of-{header.num_shards:05d}") for i in range(header.num_shards)]
    blobs: dict[int, memoryview] = {}
    out: dict[str, np.ndarray] = {}
    order = ">" if header.big_endian else "<"
    for name in wanted:
        e = entries[name]
        if e.sliced:
            raise WeightsCorrupt(index, f"variable {name} is partitioned into slices, which this reader does not support")
        if e.dtype not in TF_DTYPES:
            kind = TF_DTYPE_NAMES.get(e.dtype, f"enum {e.dtype}")
            raise WeightsCorrupt(index, f"variable {name} has TensorFlow dtype {kind}, which this reader does not support")
        if not 0 <= e.shard_id < len(shards):
            raise WeightsCorrupt(index, f"variable {name} lies in shard {e.shard_id} of {len(shards)}")
        dtype = np.dtype(TF_DTYPES[e.dtype]).newbyteorder(order)
        count = int(np.prod(e.shape, dtype=np.int64)) if e.shape else 1
        if any(d < 0 for d in e.shape) or count * dtype.itemsize != e.size:
            raise WeightsCorrupt(index, f"variable {name}: shape {e.shape} of {dtype.name} needs "
                                        f"{count * dtype.itemsize} bytes, the index says {e.size}")
        if e.shard_id not in blobs:
            shard = shards[e.shard_id]
            try:
                blobs[e.shard_id] = memoryview(shard.read_bytes())
            except OSError as err:
                raise WeightsCorrupt(shard, f"cannot be read ({err.strerror or err}); it is the data of {index}") from None
        blob = blobs[e.shard_id]
        if e.offset < 0 or e.offset + e.size > len(blob):
            raise WeightsCorrupt(shards[e.shard_id], f"is {len(blob)} bytes, but variable {name} lies at bytes "
                                                     f"{e.offset}..{e.offset + e.size}: truncated")
        raw = blob[e.offset:e.offset + e.size]
        if e.crc32c is not None and mask_crc(crc32c(raw)) != e.crc32c:
            raise WeightsCorrupt(shards[e.shard_id], f"the bytes of variable {name} fail their checksum: corrupt")
        out[name] = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(e.shape)
    return out
