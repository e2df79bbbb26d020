"""GccReading: GCC-PHAT of a track against a film at one alignment, over a window that can grow."""

import numpy as np
from scipy.fft import next_fast_len

from filmscore.cues.match import Alignment, GccReading
from filmscore.cues.settings import StampSettings

SR = 11025


class _Signals:
    """Film and track stand-ins: `pcm` / `span` read one array, zeros outside it (as the matcher's readers)."""

    def __init__(self, x: np.ndarray):
        self.x = x.astype(np.float32)

    def _read(self, a: int, b: int) -> np.ndarray:
        out = np.zeros(b - a, np.float32)
        lo, hi = max(a, 0), min(b, len(self.x))
        if hi > lo:
            out[lo - a:hi - a] = self.x[lo:hi]
        return out

    def pcm(self, ch: str, a: int, b: int) -> np.ndarray:
        return self._read(a, b)

    def span(self, ch: str, a: int, b: int, speed: float | None = None) -> np.ndarray:
        return self._read(a, b)


def _reference(film: np.ndarray, track: np.ndarray, lag: int, ts: int, te: int, S: int, n_fft: int,
               fmin: float, fmax: float) -> tuple[int, float]:
    """GCC-PHAT written out frame by frame with numpy's FFT in float64 (at the matcher's transform length, the
    first fast length from n_fft + 2 S): (tau, z)."""
    hop = n_fft // 2
    L = n_fft + 2 * S
    N = next_fast_len(L, real=True)
    n = 1 + (te - ts - n_fft) // hop
    f = np.fft.rfftfreq(N, 1 / SR)
    band = (f >= fmin) & (f <= fmax)
    acc = np.zeros(N // 2 + 1, complex)
    for i in range(n):
        t0 = ts + i * hop
        y = track[t0:t0 + n_fft] * np.hanning(n_fft)
        x = film[t0 + lag - S:t0 + lag - S + L]
        c = np.fft.rfft(x, N) * np.conj(np.fft.rfft(y, N))
        acc[band] += c[band] / (np.abs(c[band]) + 1e-12)
    r = np.fft.irfft(acc / n, N)[:2 * S + 1]
    k = int(np.argmax(r))
    bg = np.delete(r, np.arange(max(0, k - 32), k + 33))
    return k - S, float((r[k] - np.median(bg)) / bg.std())


def _film(seconds: float, lag: int, snr_db: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    track = rng.standard_normal(int(seconds * SR))
    film = np.zeros(len(track) + lag + SR)
    film[lag:lag + len(track)] = track
    film += rng.standard_normal(len(film)) * 10 ** (-snr_db / 20)
    return film, track


def test_reading_finds_the_delay_and_matches_a_frame_by_frame_reference():
    s = StampSettings()
    vs = s.verify
    true_lag = 3 * SR + 37
    film, track = _film(40.0, true_lag, snr_db=-12.0, seed=1)
    ts, te = 16 * SR, 24 * SR                      # the checked window: 8 s of track
    guess = true_lag - 37                          # the candidate's lag, 37 samples off
    r = GccReading(_Signals(film), _Signals(track), Alignment(1.0, guess), ts, te, ["mid"], s)
    al = r.best()
    assert al.lag == true_lag
    S = int(round(vs.search_seconds * SR))
    tau, z = _reference(film, track, guess, ts, te, S, vs.n_fft, vs.fmin, vs.fmax)
    assert guess + tau == true_lag
    assert abs(al.z - z) < 1e-4 * z               # float32 against float64


def test_a_grown_reading_is_the_reading_of_its_frames_and_its_z_grows_as_the_root_of_the_length():
    s = StampSettings()
    vs = s.verify
    true_lag = 2 * SR + 5
    film, track = _film(60.0, true_lag, snr_db=-24.0, seed=2)
    ts, te = 24 * SR, 32 * SR
    sig = (_Signals(film), _Signals(track))
    r = GccReading(*sig, Alignment(1.0, true_lag), ts, te, ["mid"], s)
    short = r.best()
    hop = vs.n_fft // 2
    assert (r.lo, r.hi) == (0, 1 + (te - ts - vs.n_fft) // hop) == (0, 9)
    r.grow(ts - 4 * SR, te + 4 * SR)
    # frames of the window's grid inside the longer span: 44100 // 8192 = 5 to the left, and up to
    # (16 s - 16384) // 8192 + 1 = 15 in all to the right of the window's start
    assert (r.lo, r.hi) == (-5, 15)
    grown = r.best()
    a, b = ts + r.lo * hop, ts + (r.hi - 1) * hop + vs.n_fft
    fresh = GccReading(*sig, Alignment(1.0, true_lag), a, b, ["mid"], s)
    assert (fresh.lo, fresh.hi) == (0, 20)
    once = fresh.best()
    assert grown.lag == once.lag == true_lag
    assert abs(grown.z - once.z) < 1e-4 * once.z
    # the same white noise throughout: 20 frames against 9, z about sqrt(20 / 9) times as high
    assert 1.2 < grown.z / short.z < 1.8
    # growing again inside what is read adds nothing
    r.grow(a, b)
    assert (r.lo, r.hi) == (-5, 15) and r.best().z == grown.z


def test_a_channel_silent_in_the_window_joins_where_the_grown_span_carries_it():
    s = StampSettings()
    true_lag = SR
    film, track = _film(40.0, true_lag, snr_db=-12.0, seed=3)
    quiet = track.copy()
    quiet[: 20 * SR] = 0.0                         # the side channel's track: silent until 20 s
    ts, te = 10 * SR, 18 * SR

    class Two(_Signals):
        def __init__(self, mid, side):
            self.m, self.s = _Signals(mid), _Signals(side)

        def pcm(self, ch, a, b):
            return (self.m if ch == "mid" else self.s).pcm(ch, a, b)

        def span(self, ch, a, b, speed=None):
            return (self.m if ch == "mid" else self.s).span(ch, a, b)

    r = GccReading(Two(film, film), Two(track, quiet), Alignment(1.0, true_lag), ts, te, ["mid", "side"], s)
    assert set(r.sums) == {"mid"}
    r.grow(ts - 4 * SR, te + 4 * SR)
    assert set(r.sums) == {"mid", "side"}
    assert r.best().lag == true_lag
