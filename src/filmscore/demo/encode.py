"""Encoding the demo's media with ffmpeg, byte-for-byte reproducibly.

`filmscore.media` is the one *decoder* wrapper; this is the demo's encoder.
Every command runs single-threaded with the bitexact flags and no metadata
but what is given, so the same samples and frames give the same files.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import MediaError
from ..media import _tool

MP3_RATE = 44100  # soundtrack tracks and audio-only films
FILM_RATE = 48000  # the audio of video films, as in film production
BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]


def _meta(metadata: dict[str, str] | None) -> list[str]:
    out: list[str] = []
    for k, v in (metadata or {}).items():
        out += ["-metadata", f"{k}={v}"]
    return out


def _run(cmd: list[str], path: Path, stdin: bytes | None = None) -> None:
    res = subprocess.run(cmd, input=stdin, capture_output=True)
    if res.returncode != 0:
        msg = (res.stderr.decode("utf-8", "replace").strip().splitlines() or ["ffmpeg failed"])[-1]
        raise MediaError(path, f"ffmpeg could not encode it ({msg})",
                         "check that ffmpeg has libmp3lame, aac and libx264 (Debian/Ubuntu: apt-get install ffmpeg)")


def write_mp3(path: str | Path, audio: np.ndarray, sr: int, metadata: dict[str, str] | None = None,
              bitrate: str = "128k") -> Path:
    """Encode float32 stereo (n, 2) samples at `sr` to a 44.1 kHz stereo MP3."""
    path = Path(path)
    pcm = np.ascontiguousarray(audio, dtype="<f4").tobytes()
    cmd = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-y",
           "-f", "f32le", "-ar", str(sr), "-ac", "2", "-i", "pipe:0",
           "-ar", str(MP3_RATE), "-c:a", "libmp3lame", "-b:a", bitrate, "-compression_level", "7",
           "-threads", "1", *BITEXACT, *_meta(metadata), "-id3v2_version", "3", "-f", "mp3", str(path)]
    _run(cmd, path, pcm)
    return path


def write_mp4(path: str | Path, frames: Iterable[bytes], size: tuple[int, int], fps: int,
              audio: np.ndarray, sr: int, metadata: dict[str, str] | None = None, crf: int = 28) -> Path:
    """Encode raw yuv420p frames (chunks of bytes) and float32 stereo audio to an
    H.264 + AAC MP4 (48 kHz stereo). The audio goes through a temporary raw file
    beside `path`; the frames are piped."""
    path = Path(path)
    w, h = size
    with tempfile.NamedTemporaryFile(prefix=f".{path.stem}.", suffix=".f32", dir=path.parent) as tmp:
        tmp.write(np.ascontiguousarray(audio, dtype="<f4").tobytes())
        tmp.flush()
        cmd = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", str(fps), "-i", "pipe:0",
               "-f", "f32le", "-ar", str(sr), "-ac", "2", "-i", tmp.name,
               "-map", "0:v:0", "-map", "1:a:0",
               "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-g", str(4 * fps), "-pix_fmt", "yuv420p",
               "-c:a", "aac", "-aac_coder", "fast", "-b:a", "128k", "-ar", str(FILM_RATE),
               "-threads", "1", *BITEXACT, *_meta(metadata), "-f", "mp4", str(path)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stdin is not None and proc.stderr is not None
        try:
            for chunk in frames:
                proc.stdin.write(chunk)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read()
        rc = proc.wait()
        proc.stderr.close()
    if rc != 0:
        msg = (err.decode("utf-8", "replace").strip().splitlines() or ["ffmpeg failed"])[-1]
        raise MediaError(path, f"ffmpeg could not encode it ({msg})",
                         "check that ffmpeg has libx264 and aac (Debian/Ubuntu: apt-get install ffmpeg)")
    return path
