"""Is the demo corpus learnable, and not trivially? Prints macro F1 of simple
multiple-instance baselines on the true cues of a generated demo corpus.

    PYTHONPATH=src python bench/demo_learnability.py data/demo

Each true cue (cues_truth/) is cut from the *film* audio (dialogue, effects and
all), described by MFCC, chroma, spectral and onset statistics (librosa), and
averaged per film (Simple MI). Leave-one-film-out predictions of one binary
model per genre are scored by macro F1 and compared with the random guess by
class frequency (expected F1 computed from the label frequencies), as in the
paper's Table 4. A corpus is useful when the models beat the random guess
clearly but not perfectly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def cue_features(x: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    mf = librosa.feature.mfcc(y=x, sr=sr, n_mfcc=20)
    ch = librosa.feature.chroma_stft(y=x, sr=sr)
    cen = librosa.feature.spectral_centroid(y=x, sr=sr)
    flat = librosa.feature.spectral_flatness(y=x)
    rms = librosa.feature.rms(y=x)
    onset = librosa.onset.onset_strength(y=x, sr=sr)
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=sr)
    return np.concatenate([mf.mean(1), mf.std(1), ch.mean(1), ch.std(1), cen.mean(1), cen.std(1), flat.mean(1),
                           rms.mean(1), rms.std(1), [onset.mean(), onset.std()], tempo])


def main(root: Path) -> None:
    from sklearn.metrics import f1_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from filmscore import GENRES_DEFAULT
    from filmscore.log import progress
    from filmscore.media import decode_audio

    sr = 22050
    labels = pd.read_csv(root / "labels.csv").set_index("film_id").genres.str.split("|")
    films = list(labels.index)
    X = []
    for fid in progress(films, desc="films", total=len(films)):
        audio = decode_audio(next((root / "films").glob(f"{fid}.*")), sr)
        truth = pd.read_csv(root / "cues_truth" / f"{fid}.csv")
        feats = [cue_features(audio[int(r.start * sr): int(r.end * sr)], sr) for r in truth.itertuples()]
        X.append(np.mean(feats, axis=0))
    X = np.array(X)
    genres = list(GENRES_DEFAULT)
    Y = np.array([[g in labels[f] for g in genres] for f in films], dtype=int)
    freq = Y.mean(0)
    # random guess by class frequency: P = R = frequency, so F1 = frequency per genre
    print(f"films {len(films)}, genre frequencies {dict(zip(genres, np.round(freq, 2)))}")
    print(f"random guess by class frequency: expected macro F1 {freq.mean():.2f}")
    models = {"kNN (k=3) Simple MI": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(3)),
              "SVM (rbf, balanced) Simple MI": lambda: make_pipeline(StandardScaler(), SVC(class_weight="balanced"))}
    for name, make in models.items():
        P = np.zeros_like(Y)
        for i in range(len(films)):
            tr = np.arange(len(films)) != i
            for j in range(len(genres)):
                if Y[tr, j].min() == Y[tr, j].max():
                    P[i, j] = Y[tr, j][0]
                    continue
                P[i, j] = make().fit(X[tr], Y[tr, j]).predict(X[i: i + 1])[0]
        per = f1_score(Y, P, average=None, zero_division=0)
        print(f"{name}: macro F1 {per.mean():.2f}  per genre {dict(zip(genres, np.round(per, 2)))}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "data/demo"))
