"""The one decoder wrapper: every read of audio or media metadata goes through here.

ffprobe tells what a file holds; ffmpeg decodes audio straight to float32 PCM at
the rate and channel count asked for, either whole or streamed in blocks, so a
two-hour film never has to sit in memory at once. Video frames are read by
`filmscore.features.visual` through decord; its metadata still comes from here.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import MediaError

log = logging.getLogger(__name__)

AUDIO_EXTS = (".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aiff", ".aif", ".wv", ".ape",
              ".mka", ".ac3", ".eac3", ".dts", ".mp2", ".caf", ".w64")
VIDEO_EXTS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".vob", ".m2ts", ".mts",
              ".flv", ".ogv", ".3gp")
MEDIA_EXTS = AUDIO_EXTS + VIDEO_EXTS

_INSTALL_FIX = "install ffmpeg (Debian/Ubuntu: sudo apt-get install -y ffmpeg)"


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise MediaError(name, f"{name} not found on PATH", _INSTALL_FIX)
    return exe


@dataclass(frozen=True)
class AudioStream:
    codec: str
    sample_rate: int
    channels: int
    duration: float | None
    language: str = ""        # the stream's language tag (ISO 639, e.g. "eng"), "" when untagged
    channel_layout: str = ""  # ffmpeg's layout name ("stereo", "5.1", "5.1(side)", "7.1"), "" when unknown
    delay: float = 0.0        # seconds from the file's start (its earliest stream's) to this stream's first sample

    def describe(self, index: int) -> str:
        return f"{index}" + (f" [{self.language}]" if self.language else "") + \
            f" {self.channel_layout or str(self.channels) + ' ch'} {self.codec}"


@dataclass(frozen=True)
class VideoStream:
    codec: str
    width: int
    height: int
    fps: float
    duration: float | None


@dataclass(frozen=True)
class MediaInfo:
    path: str
    format: str
    duration: float
    audio: AudioStream | None
    video: VideoStream | None
    n_audio_streams: int = 0
    n_video_streams: int = 0
    extra: dict = field(default_factory=dict)
    audio_streams: tuple = ()  # every audio stream (AudioStream), in file order; `audio` is the first

    def audio_stream(self, stream: "int | str | None" = None) -> int:
        """The position among the audio streams of `stream`: an index (0 = the first), a language tag, or None (first).

        Raises MediaError naming the file and the audio streams it has when it has no such stream.
        """
        return select_audio_stream(self, stream)

    def as_dict(self) -> dict:
        return asdict(self)


def _fps(rate: str | None) -> float:
    if not rate or rate in ("0/0", "0"):
        return 0.0
    num, _, den = rate.partition("/")
    return float(num) / float(den or 1) if float(den or 1) else 0.0


def _float(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _delay(stream_start, file_start) -> float:
    """A stream's start on its file's timeline (the earliest stream's start, where a player's clock reads 0): a
    film whose audio starts after its picture (an mkv or a DVD's audio delayed against the video) plays its first
    sample this late."""
    a, f = _float(stream_start), _float(file_start)
    return max(0.0, a - f) if a is not None and f is not None else 0.0


def probe(path: str | Path) -> MediaInfo:
    """Describe a media file's container and first audio and video streams.

    Raises MediaError naming the file when it is missing or not media.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(path, "file not found", "check the path, or re-run `filmscore check` on the corpus")
    if path.stat().st_size == 0:
        raise MediaError(path, "is empty (0 bytes)", "replace it with the complete file (a download or copy that failed?)")
    cmd = [_tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        msg = (res.stderr.strip().splitlines() or ["ffprobe failed"])[-1]
        raise MediaError(path, f"not a readable media file ({msg})", "replace it with a valid audio or video file")
    data = json.loads(res.stdout or "{}")
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    # Cover art inside MP3s is reported as a video stream with attached_pic set: not video.
    videos = [
        s for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic", 0)
    ]
    audio = video = None
    astreams = tuple(AudioStream(
        codec=a.get("codec_name", "?"),
        sample_rate=int(a.get("sample_rate", 0) or 0),
        channels=int(a.get("channels", 0) or 0),
        duration=_float(a.get("duration")),
        language=str((a.get("tags") or {}).get("language", "") or "").lower(),
        channel_layout=str(a.get("channel_layout", "") or ""),
        delay=_delay(a.get("start_time"), fmt.get("start_time")),
    ) for a in audios)
    if astreams:
        audio = astreams[0]
    if videos:
        v = videos[0]
        video = VideoStream(
            codec=v.get("codec_name", "?"),
            width=int(v.get("width", 0) or 0),
            height=int(v.get("height", 0) or 0),
            fps=_fps(v.get("avg_frame_rate")) or _fps(v.get("r_frame_rate")),
            duration=_float(v.get("duration")),
        )
    duration = _float(fmt.get("duration")) or (audio.duration if audio else None) or (video.duration if video else None)
    if audio is None and video is None:
        raise MediaError(path, "holds no audio or video stream", "replace it with a valid audio or video file")
    if video is None and all(a.sample_rate <= 0 or a.channels <= 0 for a in astreams):
        # ffprobe takes a file's extension at its word: bytes that are not audio (a damaged copy, another format
        # under this name) give a stream with no sample rate and no channels, which nothing can decode
        raise MediaError(path, f"not a readable media file (its {astreams[0].codec} stream has no sample rate or "
                               "channels: damaged, or not what its extension says)",
                         "replace it with a valid audio or video file")
    return MediaInfo(
        path=str(path),
        format=fmt.get("format_name", "?"),
        duration=float(duration or 0.0),
        audio=audio,
        video=video,
        n_audio_streams=len(audios),
        n_video_streams=len(videos),
        audio_streams=astreams,
    )


def select_audio_stream(info: MediaInfo, stream: "int | str | None") -> int:
    """Resolve `stream` (an audio stream index, a language tag such as "eng" or "en", or None: the first) for a file.

    Raises MediaError naming the file and listing the audio streams it has.
    """
    have = list(info.audio_streams)
    listing = ", ".join(a.describe(i) for i, a in enumerate(have)) or "none"
    if stream is None:
        stream = 0
    if isinstance(stream, bool) or not isinstance(stream, (int, str)):
        raise MediaError(info.path, f"audio stream {stream!r} is neither an index nor a language tag",
                         f"set corpus.audio_stream to an index or a language tag; the file's audio streams: {listing}")
    if isinstance(stream, str) and stream.strip().isdigit():
        stream = int(stream)
    if isinstance(stream, int):
        if 0 <= stream < len(have):
            return stream
        raise MediaError(info.path, f"has no audio stream {stream} (its audio streams: {listing})",
                         "set corpus.audio_stream to one of these indices or language tags")
    tag = stream.strip().lower()
    for i, a in enumerate(have):
        if a.language and _lang_keys(a.language) & _lang_keys(tag):
            return i
    raise MediaError(info.path, f"has no audio stream in language {stream!r} (its audio streams: {listing})",
                     "set corpus.audio_stream to one of these indices or language tags")


_ISO639_1_TO_2 = {"en": "eng", "fr": "fre", "de": "ger", "es": "spa", "it": "ita", "ja": "jpn", "zh": "chi", "ru": "rus",
                  "pt": "por", "nl": "dut", "sv": "swe", "da": "dan", "no": "nor", "fi": "fin", "pl": "pol", "ko": "kor",
                  "cs": "cze", "hu": "hun", "tr": "tur", "el": "gre", "he": "heb", "ar": "ara", "hi": "hin"}
_ISO639_2T = {"fre": "fra", "ger": "deu", "chi": "zho", "dut": "nld", "cze": "ces", "gre": "ell"}  # B -> T codes


def _lang_keys(tag: str) -> set[str]:
    """A language tag and its equivalents: "fr", "fre" and "fra" name the same language."""
    tag = tag.strip().lower()
    keys = {tag}
    if tag in _ISO639_1_TO_2:
        keys.add(_ISO639_1_TO_2[tag])
    keys |= {two for two, b in _ISO639_1_TO_2.items() if b in keys or _ISO639_2T.get(b) in keys}
    keys |= {_ISO639_2T[b] for b in list(keys) if b in _ISO639_2T}
    keys |= {b for b, t in _ISO639_2T.items() if t in keys}
    return keys


_SAMPLE_FORMATS = {"float32": ("f32le", "pcm_f32le", "<f4"), "int16": ("s16le", "pcm_s16le", "<i2")}


def _ffmpeg_cmd(path: Path, sr: int, channels: int | None, start: float | None, duration: float | None,
                dtype: str = "float32", stream: int = 0) -> list[str]:
    cmd = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error"]
    if start:
        cmd += ["-ss", f"{start:.6f}"]
    cmd += ["-i", str(path)]
    if duration is not None:
        cmd += ["-t", f"{duration:.6f}"]
    fmt, codec, _ = _SAMPLE_FORMATS[dtype]
    cmd += ["-map", f"0:a:{int(stream)}", "-vn", "-sn", "-dn"] + (["-ac", str(channels)] if channels else [])
    cmd += ["-ar", str(sr), "-f", fmt, "-acodec", codec, "-"]
    return cmd


def _check_input(path: Path) -> None:
    if not path.is_file():
        raise MediaError(path, "file not found", "check the path, or re-run `filmscore check` on the corpus")


def stream_audio(
    path: str | Path,
    sr: int,
    channels: int = 1,
    block_seconds: float = 30.0,
    start: float | None = None,
    duration: float | None = None,
    strict: bool = True,
    dtype: str = "float32",
    stream: int = 0,
) -> Iterator[np.ndarray]:
    """Decode audio in blocks of `block_seconds`: arrays of shape (n,) or (n, channels).

    `stream`: which audio stream (0 = the first; `select_audio_stream` resolves
    an index or a language tag). `channels` 1 or 2 mixes down; more (the
    stream's own count, e.g. 6 for 5.1) keeps the channels as laid out, in
    ffmpeg's order (for 5.1: FL, FR, FC, LFE, BL/SL, BR/SR).

    `dtype` "float32" (in [-1, 1]) or "int16" (full scale 32767; half the pipe
    traffic, and what fingerprinters such as Chromaprint take as is).
    Memory stays bounded by one block whatever the file length. With `strict`,
    decoder errors (a truncated or corrupt stream) raise MediaError at the end.

    The samples lie on the file's timeline, as a player plays them: a stream
    that starts after the file's earliest stream (`AudioStream.delay`) is
    preceded by that much silence, so that second t of the audio is second t
    of the film's picture; `start` and `duration` are seconds of that timeline.
    """
    path = Path(path)
    _check_input(path)
    if not isinstance(channels, int) or not 1 <= channels <= 16:
        raise ValueError("channels must be 1 to 16")
    if dtype not in _SAMPLE_FORMATS:
        raise ValueError(f"dtype must be one of {sorted(_SAMPLE_FORMATS)}")
    np_dtype = np.dtype(_SAMPLE_FORMATS[dtype][2])
    frame_bytes = np_dtype.itemsize * channels
    block_bytes = max(1, int(block_seconds * sr)) * frame_bytes
    lead = max(0.0, _stream_delay(path, stream) - (start or 0.0))  # silence before the stream's first sample
    limit = None if duration is None else max(0, int(round(duration * sr))) * frame_bytes  # bytes at most
    proc = subprocess.Popen(
        _ffmpeg_cmd(path, sr, channels, start, duration, dtype, stream), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    pending = bytes(int(round(lead * sr)) * frame_bytes)  # zero bytes: 0.0 and 0 in either format
    if limit is not None:
        pending = pending[:limit]
        limit -= len(pending)
    try:
        while True:
            while len(pending) >= block_bytes:
                yield _to_array(pending[:block_bytes], channels, np_dtype)
                pending = pending[block_bytes:]
            chunk = proc.stdout.read(block_bytes - len(pending))
            if not chunk:
                break
            if limit is not None:  # `-t` ends the stream `duration` after `start`: the lead counts in it
                chunk = chunk[:max(0, limit)]
                limit -= len(chunk)
            pending += chunk
        usable = len(pending) - len(pending) % frame_bytes
        if usable:
            yield _to_array(pending[:usable], channels, np_dtype)
        err = proc.stderr.read().decode("utf-8", "replace").strip()
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    if rc != 0:
        last = (err.splitlines() or ["ffmpeg failed"])[-1]
        if "matches no streams" in err or "does not contain any stream" in err:
            raise MediaError(path, "has no audio stream" + (f" {stream}" if stream else ""),
                             "use a file with an audio track" + (" (or another corpus.audio_stream)" if stream else ""))
        raise MediaError(path, f"cannot be decoded ({last})", "replace it with a valid, complete audio or video file")
    # the raw PCM muxer's complaint about the input's timestamps (a DVD's AC3, a capture whose clock restarts) is
    # not the decoder's: every sample decoded is written, in order
    lines = [ln for ln in err.splitlines() if "non monotonically increasing dts" not in ln]
    if start and len(lines) == 1 and "Error while decoding stream" in lines[0]:
        # a seek into a packetised stream (a DVD's MPEG-PS, a broadcast's TS) lands inside a frame, whose rest is
        # not decodable: one such error, from the first packet, says nothing of the file
        lines = []
    err = "\n".join(lines)
    if strict and err:
        raise MediaError(path, f"decoded with errors, likely truncated or corrupt ({err.splitlines()[-1]})",
                         "re-export or re-download the file")


@functools.lru_cache(maxsize=256)
def _probed_delay(path: str, size: int, mtime_ns: int, stream: int) -> float:
    streams = probe(path).audio_streams  # a file that is not media is named as such here, not by ffmpeg's filters
    return streams[stream].delay if 0 <= stream < len(streams) else 0.0  # no such stream: ffmpeg's error names it


def _stream_delay(path: Path, stream: int) -> float:
    """`AudioStream.delay` of a file's audio stream (probed once per file version)."""
    st = path.stat()
    return _probed_delay(str(path), st.st_size, st.st_mtime_ns, int(stream))


def _to_array(buf: bytes, channels: int, dtype=np.dtype("<f4")) -> np.ndarray:
    x = np.frombuffer(buf, dtype=dtype).astype(dtype.newbyteorder("="))  # a writable copy in native order
    return x if channels == 1 else x.reshape(-1, channels)


def decode_audio(
    path: str | Path,
    sr: int,
    channels: int = 1,
    start: float | None = None,
    duration: float | None = None,
    strict: bool = True,
    dtype: str = "float32",
    stream: int = 0,
) -> np.ndarray:
    """Decode a whole file (or the span start..start+duration) to float32 in [-1, 1] (or int16, see stream_audio)."""
    blocks = list(stream_audio(path, sr, channels, block_seconds=60.0, start=start, duration=duration, strict=strict,
                               dtype=dtype, stream=stream))
    if not blocks:
        return np.zeros((0,) if channels == 1 else (0, channels), dtype=np.dtype(_SAMPLE_FORMATS[dtype][2]).newbyteorder("="))
    return np.concatenate(blocks, axis=0)


def is_media(path: str | Path) -> bool:
    return Path(path).suffix.lower() in MEDIA_EXTS
