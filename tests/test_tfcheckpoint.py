"""The numpy reader of TensorFlow checkpoints against checkpoints this test writes byte by byte.

The writer below follows the formats' specifications (LevelDB's table format,
TensorFlow's tensor_bundle.proto) with its own varint, protobuf and CRC-32C
code, independent of the reader's parsing; the shipped musicnn checkpoints
are read in test_embed_musicnn.py.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from filmscore.features.tfcheckpoint import crc32c, mask_crc, read_checkpoint, read_index
from filmscore.features.weights import WeightsCorrupt


def _bit_step(crc: int) -> int:
    return (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)  # the reflected polynomial, one bit


def _byte_table() -> list[int]:
    table = []
    for b in range(256):
        for _ in range(8):
            b = _bit_step(b)
        table.append(b)
    return table


_TABLE = _byte_table()


def crc32c_bitwise(data: bytes) -> int:
    """CRC-32C straight from the definition: one byte at a time through a table of eight bit steps."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    c = crc32c_bitwise(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_varint(num: int, value: int) -> bytes:
    return varint(num << 3) + varint(value)


def field_bytes(num: int, value: bytes) -> bytes:
    return varint((num << 3) | 2) + varint(len(value)) + value


def field_fixed32(num: int, value: int) -> bytes:
    return varint((num << 3) | 5) + struct.pack("<I", value)


DTYPE_ENUM = {np.dtype(np.float32): 1, np.dtype(np.float64): 2, np.dtype(np.int32): 3, np.dtype(np.int64): 9,
              np.dtype(np.float16): 19}


def entry_proto(a: np.ndarray, offset: int) -> bytes:
    """BundleEntryProto: dtype=1, shape=2 (TensorShapeProto: dim=2 {size=1}), shard_id=3 (0: omitted), offset=4,
    size=5, crc32c=6 (fixed32, masked)."""
    shape = b"".join(field_bytes(2, field_varint(1, d)) for d in a.shape)
    raw = a.tobytes()
    return (field_varint(1, DTYPE_ENUM[a.dtype]) + field_bytes(2, shape) + (field_varint(4, offset) if offset else b"")
            + field_varint(5, len(raw)) + field_fixed32(6, masked(raw)))


def block(entries: list[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    """A LevelDB block: prefix-compressed entries, restart offsets, their count (no trailer)."""
    out, restarts, prev = bytearray(), [], b""
    for i, (key, value) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        out += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
        prev = key
    for r in restarts:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts))
    return bytes(out)


def write_checkpoint(prefix, variables: dict[str, np.ndarray], per_block: int = 2, restart_interval: int = 2) -> None:
    """PREFIX.index (an SSTable: data blocks of `per_block` entries, an index block, a footer) and
    PREFIX.data-00000-of-00001 (the tensors' bytes, 8-byte aligned as TF aligns them)."""
    data, offsets = bytearray(), {}
    for name in sorted(variables):
        offsets[name] = len(data)
        data += variables[name].tobytes()
        data += b"\0" * (-len(data) % 8)
    header = field_varint(1, 1) + field_bytes(3, field_varint(1, 1))  # num_shards 1, version {producer 1}
    kv = [(b"", header)] + [(n.encode(), entry_proto(variables[n], offsets[n])) for n in sorted(variables)]
    table, index_entries = bytearray(), []
    for i in range(0, len(kv), per_block):
        chunk = kv[i:i + per_block]
        contents = block(chunk, restart_interval)
        handle = varint(len(table)) + varint(len(contents))
        table += contents + b"\0" + struct.pack("<I", masked(contents + b"\0"))
        index_entries.append((chunk[-1][0] + b"\xff", handle))  # a separator >= the block's last key
    meta_off = len(table)
    meta = block([], 1)
    table += meta + b"\0" + struct.pack("<I", masked(meta + b"\0"))
    idx_off = len(table)
    idx = block(index_entries, 1)
    table += idx + b"\0" + struct.pack("<I", masked(idx + b"\0"))
    handles = varint(meta_off) + varint(len(meta)) + varint(idx_off) + varint(len(idx))
    table += handles + b"\0" * (40 - len(handles)) + struct.pack("<Q", 0xDB4775248B80FB57)
    with open(f"{prefix}.index", "wb") as f:
        f.write(table)
    with open(f"{prefix}.data-00000-of-00001", "wb") as f:
        f.write(data)


@pytest.fixture
def variables():
    rng = np.random.default_rng(3)
    return {
        "conv2d/kernel": rng.standard_normal((7, 38, 1, 4)).astype(np.float32),
        "conv2d/bias": rng.standard_normal(4).astype(np.float32),
        "conv2d/bias/Adam": np.zeros(4, np.float32),
        "batch_normalization/moving_mean": np.array([0.25], np.float32),
        "dense/kernel": rng.standard_normal((3, 2)).astype(np.float64),
        "global_step": np.array(12345, np.int64),
        "half": np.arange(5).astype(np.float16),
        "counts": np.arange(6, dtype=np.int32).reshape(2, 3),
    }


def test_crc32c_against_the_definition():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C
    assert crc32c(b"") == 0
    rng = np.random.default_rng(0)
    for n in (1, 7, 4096 * 64 - 1, 4096 * 64 + 13):  # short, and long enough for the lane split
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc32c(data) == crc32c_bitwise(data), n
    assert mask_crc(crc32c(b"abc")) == masked(b"abc")


def test_reads_a_hand_written_checkpoint(tmp_path, variables):
    prefix = tmp_path / "model.ckpt"
    write_checkpoint(prefix, variables)
    header, entries = read_index(f"{prefix}.index")
    assert header.num_shards == 1 and not header.big_endian
    assert set(entries) == set(variables)
    assert entries["conv2d/kernel"].shape == (7, 38, 1, 4)
    got = read_checkpoint(prefix)
    assert set(got) == set(variables)
    for k, v in variables.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
        np.testing.assert_array_equal(got[k], v)
    some = read_checkpoint(prefix, names=["conv2d/bias", "global_step"])
    assert set(some) == {"conv2d/bias", "global_step"} and int(some["global_step"]) == 12345
    with pytest.raises(WeightsCorrupt, match="no variable dense/bias"):
        read_checkpoint(prefix, names=["dense/bias"])


def test_one_block_and_restart_every_entry(tmp_path, variables):
    prefix = tmp_path / "one"
    write_checkpoint(prefix, variables, per_block=100, restart_interval=1)
    np.testing.assert_array_equal(read_checkpoint(prefix)["counts"], variables["counts"])


def test_truncated_or_corrupt_files_are_named(tmp_path, variables):
    prefix = tmp_path / "model.ckpt"
    write_checkpoint(prefix, variables)
    index, data = tmp_path / "model.ckpt.index", tmp_path / "model.ckpt.data-00000-of-00001"
    good_index, good_data = index.read_bytes(), data.read_bytes()

    index.write_bytes(good_index[:-10])  # cut inside the footer
    with pytest.raises(WeightsCorrupt, match="SSTable magic") as e:
        read_checkpoint(prefix)
    assert str(index) in e.value.render()

    bad = bytearray(good_index)
    bad[20] ^= 0x40  # a bit flipped inside the first data block
    index.write_bytes(bytes(bad))
    with pytest.raises(WeightsCorrupt, match="fails its checksum"):
        read_checkpoint(prefix)
    index.write_bytes(good_index)

    data.write_bytes(good_data[:-40])
    with pytest.raises(WeightsCorrupt, match="truncated") as e:
        read_checkpoint(prefix)
    assert str(data) in e.value.render()

    bad = bytearray(good_data)
    bad[3] ^= 0x01  # inside the first tensor (sorted: batch_normalization/moving_mean)
    data.write_bytes(bytes(bad))
    with pytest.raises(WeightsCorrupt, match="batch_normalization/moving_mean fail their checksum"):
        read_checkpoint(prefix)

    data.unlink()
    with pytest.raises(WeightsCorrupt, match="cannot be read"):
        read_checkpoint(prefix)
    (tmp_path / "empty.index").write_bytes(b"")
    with pytest.raises(WeightsCorrupt, match="truncated"):
        read_index(tmp_path / "empty.index")
