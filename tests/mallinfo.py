"""glibc heap statistics for the tests that check malloc settings in a fresh interpreter.

`PREAMBLE` is the start of a probe script: it binds ``mallinfo2``, ``malloc`` and
``free`` through ctypes and defines ``mapped_by(size)``, the bytes glibc mmaps to
serve one block of ``size`` (0 when the heap serves it, as after
``filmscore.malloc.keep_freed_memory``). `run_probe` runs a script in a new Python
process that imports this checkout's filmscore.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

import filmscore

PREAMBLE = r'''
import ctypes
libc = ctypes.CDLL("libc.so.6")
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def mapped_by(size):
    before = libc.mallinfo2().hblkhd
    p = libc.malloc(size)
    grown = libc.mallinfo2().hblkhd - before
    libc.free(p)
    return grown
'''


def require_mallinfo2() -> None:
    """Skip the calling test where the C library is not glibc >= 2.33."""
    try:
        ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        pytest.skip("not glibc >= 2.33 (no mallinfo2)")


def run_probe(body: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run PREAMBLE + `body` in a fresh interpreter on this checkout's filmscore; raise on failure."""
    src = str(Path(filmscore.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
           "FILMSCORE_NO_PROGRESS": "1"}
    out = subprocess.run([sys.executable, "-c", PREAMBLE + body, *args], capture_output=True, text=True, env=env,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out
