"""Synthetic media for the feature tests: films written with ffmpeg from numpy arrays."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np


def write_wav(path: Path, audio: np.ndarray, sr: int) -> Path:
    """16-bit PCM WAV; audio (n,) mono or (n, ch), floats in [-1, 1]."""
    a = np.asarray(audio, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    pcm = (np.clip(a, -1, 1) * 32767).round().astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(a.shape[1])
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return path


def write_video(path: Path, frames: np.ndarray, fps: int, audio: np.ndarray | None = None, sr: int = 22050,
                gop: int | None = None) -> Path:
    """H.264 MP4 from RGB uint8 frames (n, h, w, 3), with an AAC track when `audio` is given."""
    n, h, w, _ = frames.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["ffmpeg", "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps),
           "-i", "-"]
    wav = None
    if audio is not None:
        wav = write_wav(path.with_suffix(".tmp.wav"), audio, sr)
        cmd += ["-i", str(wav), "-c:a", "aac", "-b:a", "128k", "-shortest"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p", "-g", str(gop or fps),
            "-map", "0:v:0"] + (["-map", "1:a:0"] if wav else []) + [str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    if wav:
        wav.unlink()
    return path
