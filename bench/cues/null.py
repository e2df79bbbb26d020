"""False alarms of the Score Stamper: the bench's films against their soundtracks reversed in time.

    PYTHONPATH=src:. python bench/cues/null.py                      # the films of the last bench/cues/run.py
    PYTHONPATH=src:. python bench/cues/null.py --films DIR --set fine.min_z=4.5
    PYTHONPATH=src:. python bench/cues/null.py --keep-one             # each film's main track as released

A track reversed in time keeps its spectrum, level and loudness curve but
shares no waveform and no succession of notes with the track, so every cue the
exact tier finds against it is a false alarm. Each film of DIR (the layout
bench/cues/run.py writes: films.json, films/<id>.m4a, soundtracks/<id>/) is
matched against its tracks reversed (decoded, reversed, written as 16-bit WAV
to a temporary folder); printed per film: its length, the cues found and the
seconds they claim; then the totals, as cues and seconds per hour of film.
`--set section.key=value` changes a setting of `cues` (StampSettings) as
params.yaml would, to measure a threshold's false alarms before it is set.
`--keep-one` keeps each film's track with the most true seconds (its truth
table) as released and reverses the others: the film's speed and treatment are
then verified by phase, as in a real film, so the readings that only run in a
film whose music is verified (its spectra, `cues.verify.spectrum_min_z`) are
exercised too; the kept track's cues are true and not counted.
The tolerant tier stays off (the default): its own decoys calibrate it.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import soundfile as sf  # noqa: E402
import yaml  # noqa: E402

from filmscore import config  # noqa: E402
from filmscore.cues.settings import StampSettings  # noqa: E402
from filmscore.cues.stamp import soundtrack_files, stamp_film  # noqa: E402
from filmscore.media import probe  # noqa: E402

log = logging.getLogger("bench.cues.null")


def with_settings(assignments: list[str]) -> StampSettings:
    """The default `cues` settings with each `section.key=value` (`cues.` implied, the value read as YAML) set,
    checked against the params schema as params.yaml is (unknown keys, types, ranges)."""
    params = {"cues": config.defaults("cues")}
    for a in assignments:
        key, eq, value = a.partition("=")
        if not eq or not key:
            raise SystemExit(f"--set {a!r}: expected section.key=value, e.g. fine.min_z=4.5")
        *path, leaf = key.removeprefix("cues.").split(".")
        node = params["cues"]
        for k in path:
            if not isinstance(node.get(k), dict):
                raise SystemExit(f"--set {a!r}: cues.{k} is not a section of cues "
                                 f"({', '.join(n for n, v in node.items() if isinstance(v, dict))})")
            node = node[k]
        node[leaf] = yaml.safe_load(value)
    problems = config.validate(params, sections=["cues"])
    if problems:
        raise SystemExit("--set: " + "; ".join(str(p) for p in problems))
    return StampSettings.from_params(params["cues"])


def reversed_soundtrack(src: Path, film_id: str, out: Path, keep: frozenset[str] = frozenset()) -> list[Path]:
    """Each track of `src` reversed in time, as WAV files under `out`; those named in `keep` (stems) as they are."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in soundtrack_files(src, film_id):
        if p.stem in keep:
            paths.append(p)
            continue
        x, sr = sf.read(p, dtype="float32", always_2d=True)
        q = out / f"{p.stem}.wav"
        sf.write(q, x[::-1], sr, subtype="PCM_16")
        paths.append(q)
    return paths


def main_track(truth: Path) -> str:
    """The track a bench film's truth table gives the most seconds."""
    t = pd.read_csv(truth)
    return str((t["end"] - t["start"]).groupby(t["track"]).sum().idxmax())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--films", type=Path, default=Path(".bench/films"), help="a bench/cues/run.py films folder")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="a cues setting")
    ap.add_argument("--keep-one", action="store_true",
                    help="keep each film's track with the most true seconds as released (its cues not counted)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    listing = args.films / "films.json"
    if not listing.is_file():
        raise SystemExit(f"{listing} not found: build the films first (PYTHONPATH=src:. python bench/cues/run.py)")
    s = with_settings(args.set)
    films = json.loads(listing.read_text())
    n_cues, claimed, seconds = 0, 0.0, 0.0
    t0 = time.process_time()
    print(f"{'film':<22}{'length s':>10}{'cues':>6}{'claimed s':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for f in films:
            fid = f["film_id"]
            film = args.films / "films" / f"{fid}.m4a"
            keep = frozenset([main_track(args.films / "truth" / f"{fid}.csv")] if args.keep_one else [])
            tracks = reversed_soundtrack(args.films / "soundtracks" / fid, fid, Path(tmp) / fid, keep)
            df = stamp_film(film, tracks, s, cache=None, film_id=fid)
            if keep:
                print(f"    kept as released: {', '.join(sorted(keep))} ({int(df['track'].isin(keep).sum())} cues)")
                df = df[~df["track"].isin(keep)]
            length = probe(film).duration
            got = float((df["end"] - df["start"]).sum()) if len(df) else 0.0
            print(f"{fid:<22}{length:>10.0f}{len(df):>6}{got:>11.1f}")
            for r in df.itertuples():
                print(f"    false cue: {r.track} {r.start:.1f}-{r.end:.1f} s, confidence {r.confidence:.2f}")
            n_cues, claimed, seconds = n_cues + len(df), claimed + got, seconds + length
    h = seconds / 3600
    print(f"\n{len(films)} films, {seconds / 60:.1f} min: {n_cues} false cues ({n_cues / h:.2f} per film hour), "
          f"{claimed:.1f} s claimed ({claimed / seconds:.2%} of the film time); "
          f"{time.process_time() - t0:.0f} CPU s in this process; settings changed: {args.set or 'none'}"
          + ("; each film's main track kept as released" if args.keep_one else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
