"""The project's own ctypes binding of libchromaprint (the C library behind `fpcalc`).

Only the calls the matcher needs: a context, feeding 16-bit PCM, and the raw
fingerprint (one 32-bit item per 1365 samples at 11025 Hz). The library is
found by `ctypes.util.find_library` or by its soname (``libchromaprint.so.1``);
when it is missing the error says how to install it. Loading it changes nothing
else in the process (no other module's handle is touched).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

from ..errors import FilmscoreError, Problem

#: names tried after ctypes.util.find_library("chromaprint")
SONAMES = ("libchromaprint.so.1", "libchromaprint.so", "libchromaprint.1.dylib", "libchromaprint.dylib", "chromaprint.dll")

ALGORITHM_TEST2 = 1  # libchromaprint's default algorithm (CHROMAPRINT_ALGORITHM_TEST2)


@functools.lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    """libchromaprint with the signatures of the calls the matcher uses (loaded once)."""
    names = [n for n in (ctypes.util.find_library("chromaprint"),) if n] + list(SONAMES)
    lib = None
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        raise FilmscoreError([Problem("libchromaprint", f"not found (tried {', '.join(names)})",
                                      "install it: apt-get install libchromaprint1 (Debian/Ubuntu), "
                                      "brew install chromaprint (macOS)")], headline="Chromaprint library missing")
    vp, i = ctypes.c_void_p, ctypes.c_int
    lib.chromaprint_get_version.argtypes = ()
    lib.chromaprint_get_version.restype = ctypes.c_char_p
    lib.chromaprint_new.argtypes = (i,)
    lib.chromaprint_new.restype = vp
    lib.chromaprint_free.argtypes = (vp,)
    lib.chromaprint_free.restype = None
    lib.chromaprint_start.argtypes = (vp, i, i)
    lib.chromaprint_start.restype = i
    lib.chromaprint_feed.argtypes = (vp, ctypes.POINTER(ctypes.c_int16), i)
    lib.chromaprint_feed.restype = i
    lib.chromaprint_finish.argtypes = (vp,)
    lib.chromaprint_finish.restype = i
    lib.chromaprint_get_raw_fingerprint.argtypes = (vp, ctypes.POINTER(ctypes.POINTER(ctypes.c_uint32)),
                                                    ctypes.POINTER(i))
    lib.chromaprint_get_raw_fingerprint.restype = i
    lib.chromaprint_dealloc.argtypes = (vp,)
    lib.chromaprint_dealloc.restype = None
    return lib


def version() -> str:
    """libchromaprint's version string (part of the cue cache keys: another version, other prints)."""
    return library().chromaprint_get_version().decode()


__all__ = ["library", "version", "ALGORITHM_TEST2", "SONAMES"]
