"""Training length (`MILClassifier.schedule`): the paper's epochs, fixed optimiser steps, nested
inner cross-validation that never sees the held-out films."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from filmscore.errors import FilmscoreError
from filmscore.mil import MILClassifier, make_folds


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: more threads only contend. The count is given back after each test."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def bags_labels(n, seed=0, shift=1.0):
    """Genre 0 when the bag's first feature is high; genre 1 random (unlearnable)."""
    rng = np.random.default_rng(seed)
    y0 = np.arange(n) % 2
    Y = np.column_stack([y0, rng.integers(0, 2, n)])
    bags = [rng.normal(size=(int(rng.integers(2, 6)), 3)) + np.array([shift * (2 * y0[i] - 1), 0, 0])
            for i in range(n)]
    return bags, Y


def test_steps_keep_the_budget_whatever_the_corpus_size():
    for n, spe in ((40, 5), (120, 15)):  # batches of 8 films: ceil(n / 8) steps per epoch
        bags, Y = bags_labels(n)
        clf = MILClassifier(hidden=4, batch_size=8, schedule="steps", steps=60, show_progress=False)
        res = clf.cross_validate(bags, Y, make_folds(n, 4))
        assert clf.steps_per_epoch(bags, np.ones((1, n), bool)) == spe
        assert clf.training_["epochs"] == [round(60 / spe)] * 4 and len(res.history) == round(60 / spe)
        assert clf.training_["summary"].startswith("steps: 60 optimiser steps")
    paper = MILClassifier(hidden=4, batch_size=8, epochs=3, show_progress=False)
    paper.cross_validate(*bags_labels(40), make_folds(40, 4))
    assert paper.training_["epochs"] == [3] * 4 and paper.training_["schedule"] == "paper"


def test_nested_inner_folds_never_hold_the_outer_held_out_films():
    bags, Y = bags_labels(30)
    bags[3] = bags[3][:0]  # an empty bag: in no inner fold
    folds = make_folds(30, 5, seed=1)
    train = folds[None, :] != np.arange(5)[:, None]
    clf = MILClassifier(schedule="nested", inner_folds=3)
    inner_train, inner_val, owner = clf.inner_split(bags, train)
    assert inner_train.shape == (15, 30) and np.bincount(owner).tolist() == [3] * 5
    for m in range(15):
        held = folds == owner[m]
        assert not (inner_train[m] & held).any() and not (inner_val[m] & held).any()
        assert not (inner_train[m] & inner_val[m]).any() and not inner_val[m, 3] and not inner_train[m, 3]
    for f in range(5):  # each training film with cues is validated exactly once in its fold's inner CV
        v = inner_val[owner == f].sum(0)
        assert (v[train[f] & (np.arange(30) != 3)] == 1).all() and (v[~train[f]] == 0).all()


def test_nested_choice_and_model_ignore_the_held_out_film():
    """Poisoning a held-out film (garbage features, flipped labels) changes neither the epochs
    its fold chose nor that fold's model."""
    bags, Y = bags_labels(24, seed=2)
    folds = make_folds(24, 4, seed=0)
    kw = dict(hidden=4, batch_size=6, lr=3e-2, schedule="nested", nested_epochs=(1, 3, 12), inner_folds=2,
              show_progress=False)
    a = MILClassifier(**kw)
    ra = a.cross_validate(bags, Y, folds)
    poisoned = [b.copy() for b in bags]
    f0 = np.flatnonzero(folds == 0)
    Yp = Y.copy()
    for i in f0:
        poisoned[i] = poisoned[i] * 50 + 7
        Yp[i] = 1 - Yp[i]
    b = MILClassifier(**kw)
    rb = b.cross_validate(poisoned, Yp, folds)
    assert a.training_["epochs"][0] == b.training_["epochs"][0]
    others = [bags[i] for i in np.flatnonzero(folds != 0)]
    from filmscore.mil.data import pad_bags

    x, mask, _ = pad_bags(others)
    pa, pb = ra.models.predict_bags(x, mask)[0], rb.models.predict_bags(x, mask)[0]
    torch.testing.assert_close(pa, pb)


def test_nested_picks_the_longer_training_when_the_short_one_underfits():
    bags, Y = bags_labels(32, seed=3, shift=1.5)
    clf = MILClassifier(hidden=8, batch_size=8, lr=1e-2, schedule="nested", nested_epochs=(1, 40), inner_folds=2,
                        show_progress=False)
    res = clf.cross_validate(bags, Y, make_folds(32, 4))
    assert clf.training_["epochs"] == [40] * 4
    assert (res.pred[:, 0] == Y[:, 0]).mean() > 0.8
    assert "nested: epochs chosen per training fold by 2-fold inner CV" in clf.training_["summary"]


def test_bad_schedule_parameters():
    with pytest.raises(FilmscoreError, match="schedule"):
        MILClassifier(schedule="long").fit(*bags_labels(8))
    with pytest.raises(FilmscoreError, match="fold batching"):
        MILClassifier(schedule="nested", fold_batching=False).fit(*bags_labels(8))
    with pytest.raises(FilmscoreError, match="inner_folds"):
        MILClassifier(schedule="nested", inner_folds=1).fit(*bags_labels(8))
