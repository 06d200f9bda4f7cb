"""WalkForward: indices checked against hand-written lists and TimeSeriesSplit."""

import statistics

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score

from skportfolio import MinimumVariance
from skportfolio.metrics import sharpe_scorer
from skportfolio.model_selection import WalkForward


def _splits(cv, n_periods):
    X = np.zeros((n_periods, 2))
    return [(list(train), list(test)) for train, test in cv.split(X)]


def test_rolling_window_by_hand():
    cv = WalkForward(train_size=3, test_size=2)
    assert _splits(cv, 9) == [
        ([0, 1, 2], [3, 4]),
        ([2, 3, 4], [5, 6]),
        ([4, 5, 6], [7, 8]),
    ]
    # Period 9 does not fill a test window and is left out ...
    assert _splits(cv, 10) == _splits(cv, 9)
    # ... unless a shorter last window is allowed.
    partial = WalkForward(train_size=3, test_size=2, allow_partial=True)
    assert _splits(partial, 10) == [*_splits(cv, 9), ([6, 7, 8], [9])]
    assert _splits(partial, 9) == _splits(cv, 9)


def test_expanding_window_by_hand():
    cv = WalkForward(train_size=2, test_size=3, expanding=True)
    assert _splits(cv, 9) == [
        ([0, 1], [2, 3, 4]),
        ([0, 1, 2, 3, 4], [5, 6, 7]),
    ]
    partial = WalkForward(train_size=2, test_size=3, expanding=True, allow_partial=True)
    assert _splits(partial, 9)[-1] == ([0, 1, 2, 3, 4, 5, 6, 7], [8])


def test_gap_shifts_the_training_window_back():
    cv = WalkForward(train_size=3, test_size=2, gap=2)
    assert _splits(cv, 10) == [
        ([0, 1, 2], [5, 6]),
        ([2, 3, 4], [7, 8]),
    ]
    expanding = WalkForward(train_size=3, test_size=2, gap=2, expanding=True)
    assert _splits(expanding, 10) == [
        ([0, 1, 2], [5, 6]),
        ([0, 1, 2, 3, 4], [7, 8]),
    ]
    partial = WalkForward(train_size=3, test_size=2, gap=2, allow_partial=True)
    assert _splits(partial, 10)[-1] == ([4, 5, 6], [9])


@pytest.mark.parametrize("expanding", [False, True])
@pytest.mark.parametrize(
    ("train_size", "test_size", "gap", "n_splits"),
    [(5, 1, 0, 4), (4, 3, 0, 3), (6, 2, 1, 5), (3, 4, 3, 2)],
)
def test_equals_time_series_split_when_both_tile_the_sample(
    expanding, train_size, test_size, gap, n_splits
):
    # TimeSeriesSplit anchors its last test window at the end of the sample;
    # with exactly train_size + gap + n_splits * test_size periods both
    # splitters start testing after train_size + gap periods.
    n_periods = train_size + gap + n_splits * test_size
    ours = WalkForward(
        train_size=train_size, test_size=test_size, gap=gap, expanding=expanding
    )
    theirs = TimeSeriesSplit(
        n_splits=n_splits,
        test_size=test_size,
        gap=gap,
        max_train_size=None if expanding else train_size,
    )
    assert _splits(ours, n_periods) == _splits(theirs, n_periods)
    assert ours.get_n_splits(np.zeros((n_periods, 1))) == n_splits


@pytest.mark.parametrize(
    "cv",
    [
        WalkForward(train_size=3, test_size=2),
        WalkForward(train_size=2, test_size=3, expanding=True, gap=1),
        WalkForward(train_size=4, test_size=5, allow_partial=True),
    ],
)
@pytest.mark.parametrize("n_periods", [10, 11, 23])
def test_get_n_splits_counts_split(cv, n_periods):
    X = np.zeros((n_periods, 2))
    assert cv.get_n_splits(X) == len(list(cv.split(X)))


def test_accepts_lists_and_dataframes():
    pd = pytest.importorskip("pandas")
    cv = WalkForward(train_size=2, test_size=1)
    rows = [[0.0, 0.0]] * 4
    frame = pd.DataFrame(rows, index=pd.date_range("2020-01-31", periods=4, freq="ME"))
    assert (
        _splits(cv, 4)
        == [(list(a), list(b)) for a, b in cv.split(rows)]
        == [(list(a), list(b)) for a, b in cv.split(frame)]
    )


@pytest.mark.parametrize(
    ("kwargs", "minimum"),
    [
        ({"train_size": 5, "test_size": 3}, 8),
        ({"train_size": 5, "test_size": 3, "gap": 2}, 10),
        ({"train_size": 5, "test_size": 3, "allow_partial": True}, 6),
        ({"train_size": 5, "test_size": 3, "expanding": True}, 8),
    ],
)
def test_too_short_for_one_split(kwargs, minimum):
    cv = WalkForward(**kwargs)
    assert cv.get_n_splits(np.zeros((minimum, 1))) == 1
    short = np.zeros((minimum - 1, 1))
    message = f"X has {minimum - 1} periods, too few .* needs at least {minimum}"
    with pytest.raises(ValueError, match=message):
        list(cv.split(short))
    with pytest.raises(ValueError, match=message):
        cv.get_n_splits(short)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"train_size": 0, "test_size": 1}, "train_size must be an integer >= 1"),
        ({"train_size": 2.0, "test_size": 1}, "train_size must be an integer"),
        ({"train_size": True, "test_size": 1}, "train_size must be an integer"),
        ({"train_size": 2, "test_size": 0}, "test_size must be an integer >= 1"),
        ({"train_size": 2, "test_size": 1, "gap": -1}, "gap must be an integer >= 0"),
        ({"train_size": 2, "test_size": 1, "expanding": 1}, "expanding must be"),
        ({"train_size": 2, "test_size": 1, "allow_partial": "no"}, "allow_partial"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WalkForward(**kwargs)


def test_parameters_are_required():
    with pytest.raises(TypeError):
        WalkForward(train_size=3)


def test_get_n_splits_needs_x():
    with pytest.raises(ValueError, match="needs X"):
        WalkForward(train_size=3, test_size=1).get_n_splits()


def test_groups_are_ignored_with_a_warning():
    cv = WalkForward(train_size=2, test_size=1)
    with pytest.warns(UserWarning, match="groups parameter is ignored"):
        splits = list(cv.split(np.zeros((4, 1)), groups=np.arange(4)))
    assert len(splits) == 2


def test_repr():
    assert repr(WalkForward(train_size=3, test_size=1, gap=2)) == (
        "WalkForward(allow_partial=False, expanding=False, gap=2, test_size=1,\n"
        "      train_size=3)"
    )


def _panel(seed=0, n_periods=70):
    rng = np.random.default_rng(seed)
    return rng.normal(0.008, 0.04, size=(n_periods, 4)) * [0.5, 1.0, 1.5, 2.0]


def test_grid_search_uses_the_hand_written_folds():
    X = _panel()
    grid = [0.3, 0.6, 1.0]
    cv = WalkForward(train_size=30, test_size=10, gap=2)
    search = GridSearchCV(
        MinimumVariance(), {"max_weights": grid}, cv=cv, scoring=sharpe_scorer
    ).fit(X)
    folds = [
        (range(0, 30), range(32, 42)),
        (range(10, 40), range(42, 52)),
        (range(20, 50), range(52, 62)),
    ]
    assert search.n_splits_ == 3
    means = []
    for max_weights in grid:
        scores = []
        for train, test in folds:
            weights = MinimumVariance(max_weights=max_weights).fit(X[train]).weights_
            returns = (X[test] @ weights).tolist()
            scores.append(statistics.fmean(returns) / statistics.stdev(returns))
        means.append(statistics.fmean(scores))
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], means, rtol=1e-10)
    assert search.best_params_ == {"max_weights": grid[int(np.argmax(means))]}


def test_cross_val_score_accepts_walk_forward():
    X = _panel(1)
    scores = cross_val_score(
        MinimumVariance(),
        X,
        cv=WalkForward(train_size=40, test_size=15, expanding=True),
    )
    assert scores.shape == (2,)
    weights = MinimumVariance().fit(X[:40]).weights_
    returns = (X[40:55] @ weights).tolist()
    assert scores[0] == pytest.approx(
        statistics.fmean(returns) / statistics.stdev(returns), rel=1e-10
    )
