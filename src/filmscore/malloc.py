"""glibc malloc settings for training: keep freed memory for reuse.

Training a fold-batched model allocates and frees tens of activation tensors of
several MiB each per step. With glibc's defaults each such block comes from a
fresh ``mmap`` (or is trimmed back to the system when freed), so every step pays
page faults and zero-filling for memory it just gave back: on the 2-core
benchmark machine that was a fifth of the time of a training step in float32 and
two fifths in bfloat16 (docs/models.md, Speed). `keep_freed_memory` raises the mmap and trim
thresholds (``mallopt``) so freed blocks stay in the heap and are reused.

It changes the whole process (it cannot be undone: glibc's adaptive threshold does
not come back), costs at most `TRIM_THRESHOLD` of freed memory kept, and is a no-op
where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

#: blocks up to this size come from the heap, not from mmap (glibc's default: 128 KiB, adaptive)
MMAP_THRESHOLD = 256 << 20
#: freed memory at the top of the heap kept before it is returned to the system
TRIM_THRESHOLD = 1 << 30
#: extra memory requested whenever the heap grows
TOP_PAD = 64 << 20

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_done: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's malloc to keep and reuse freed blocks (once per process).

    Returns whether the settings are in effect (False where the C library has no
    ``mallopt``, for example on macOS or musl).
    """
    global _done
    if _done is not None:
        return _done
    _done = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.debug("no glibc mallopt here: malloc settings left as they are")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD), (_M_TOP_PAD, TOP_PAD)))
    if not ok:
        log.debug("mallopt refused a setting: malloc partly left as it was")
    _done = ok
    return ok


__all__ = ["keep_freed_memory", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "TOP_PAD"]
