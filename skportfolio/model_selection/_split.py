"""Walk-forward splitter: train on the past, test on the next rebalancing period."""

import numbers
import warnings

import numpy as np
from sklearn.model_selection import BaseCrossValidator


def _n_periods(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _check_int(value, name, minimum):
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_bool(value, name):
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


class WalkForward(BaseCrossValidator):
    """Walk-forward splits: a training window followed by the next test window.

    Each split trains on a window of past periods and tests on the
    ``test_size`` periods that follow it (the holding period between two
    rebalances); the next split moves both windows forward by ``test_size``,
    so the test windows tile the sample after the first training window
    without overlapping.

    Parameters
    ----------
    train_size : int
        Number of periods in the training window (rolling), or in the first
        training window (``expanding=True``). At least 1.
    test_size : int
        Number of periods in each test window, i.e. the number of periods
        between two rebalances (3 for quarterly rebalancing of monthly
        data). At least 1.
    expanding : bool, default=False
        If False the training window keeps ``train_size`` periods and rolls
        forward; if True it always starts at the first period and grows.
    gap : int, default=0
        Number of periods left out between the end of the training window
        and the start of the test window, for data that become available
        with a delay. The test windows still tile the sample: the gap
        shifts the training window back, it does not leave periods out of
        the test windows.
    allow_partial : bool, default=False
        If True, a last test window shorter than ``test_size`` covers the
        periods left after the last full one, so that the test windows reach
        the end of the sample (what a backtest wants). If False, every test
        window has ``test_size`` periods and trailing periods are left out,
        so that the test scores in a grid search are comparable.

    Raises
    ------
    ValueError
        At construction if a parameter is out of range; from ``split`` and
        ``get_n_splits`` if ``X`` is too short for one split.

    See Also
    --------
    sklearn.model_selection.TimeSeriesSplit : Splits anchored at the end of
        the sample.
    skportfolio.model_selection.backtest : Walk-forward backtest of a
        portfolio estimator.

    Notes
    -----
    Split :math:`k = 0, 1, \\dots` tests on the periods
    :math:`[s_k, s_k + h)` with :math:`s_k = T + g + k h` (``T`` =
    ``train_size``, ``h`` = ``test_size``, ``g`` = ``gap``) and trains on
    :math:`[s_k - g - T, s_k - g)` (rolling) or :math:`[0, s_k - g)`
    (expanding). One split needs :math:`T + g + h` periods (:math:`T + g + 1`
    with ``allow_partial=True``).

    Differences from :class:`sklearn.model_selection.TimeSeriesSplit`, which
    this class can replace anywhere a ``cv`` is accepted:

    * the number of splits follows from the data (``get_n_splits`` needs
      ``X``) instead of being a parameter;
    * the splits are anchored at the **start**: the first training window
      has exactly ``train_size`` periods and test windows follow until the
      data run out, whereas ``TimeSeriesSplit`` anchors its last test window
      at the end of the sample and gives the first training window whatever
      is left;
    * ``train_size`` is the exact training length of a rolling window
      (``TimeSeriesSplit``'s ``max_train_size`` is only a cap) and
      ``test_size`` is required;
    * ``gap`` has the same meaning (periods removed from the end of each
      training window before its test window);
    * a shorter last test window is available (``allow_partial``).

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.model_selection import WalkForward
    >>> X = np.zeros((10, 2))
    >>> cv = WalkForward(train_size=4, test_size=2)
    >>> cv.get_n_splits(X)
    3
    >>> for train, test in cv.split(X):
    ...     print(train, test)
    [0 1 2 3] [4 5]
    [2 3 4 5] [6 7]
    [4 5 6 7] [8 9]
    >>> cv = WalkForward(train_size=4, test_size=3, expanding=True, gap=1)
    >>> for train, test in cv.split(X):
    ...     print(train, test)
    [0 1 2 3] [5 6 7]
    >>> cv = WalkForward(train_size=4, test_size=3, gap=1, allow_partial=True)
    >>> for train, test in cv.split(X):
    ...     print(train, test)
    [0 1 2 3] [5 6 7]
    [3 4 5 6] [8 9]
    """

    def __init__(
        self, *, train_size, test_size, expanding=False, gap=0, allow_partial=False
    ):
        self.train_size = _check_int(train_size, "train_size", 1)
        self.test_size = _check_int(test_size, "test_size", 1)
        self.expanding = _check_bool(expanding, "expanding")
        self.gap = _check_int(gap, "gap", 0)
        self.allow_partial = _check_bool(allow_partial, "allow_partial")

    def split(self, X, y=None, groups=None):
        """Generate the training and test indices of each split, in time order.

        Parameters
        ----------
        X : array-like of shape (n_periods, n_features)
            Only its number of rows is used; rows must be in time order.
        y : array-like of shape (n_periods,), default=None
            Ignored, exists for API compatibility.
        groups : array-like of shape (n_periods,), default=None
            Ignored (with a warning), exists for API compatibility.

        Yields
        ------
        train : ndarray
            The training indices of the split.
        test : ndarray
            The test indices of the split.

        Raises
        ------
        ValueError
            If ``X`` has too few periods for one split.
        """
        if groups is not None:
            warnings.warn(
                "The groups parameter is ignored by WalkForward.",
                UserWarning,
                stacklevel=2,
            )
        n_periods = _n_periods(X)
        for start in self._test_starts(n_periods):
            train_end = start - self.gap
            train_start = 0 if self.expanding else train_end - self.train_size
            yield (
                np.arange(train_start, train_end),
                np.arange(start, min(start + self.test_size, n_periods)),
            )

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_periods, n_features)
            Required: the number of splits depends on the number of periods.
        y : object
            Ignored.
        groups : object
            Ignored.

        Returns
        -------
        int
            The number of splits, at least 1.

        Raises
        ------
        ValueError
            If ``X`` is None or has too few periods for one split.
        """
        if X is None:
            raise ValueError(
                "WalkForward.get_n_splits needs X: the number of splits depends "
                "on the number of periods."
            )
        return len(self._test_starts(_n_periods(X)))

    def _test_starts(self, n_periods):
        first = self.train_size + self.gap
        last_length = 1 if self.allow_partial else self.test_size
        starts = range(first, n_periods - last_length + 1, self.test_size)
        if len(starts) == 0:
            raise ValueError(
                f"X has {n_periods} periods, too few for one walk-forward split "
                f"with train_size={self.train_size}, gap={self.gap} and "
                f"test_size={self.test_size}: it needs at least "
                f"{first + last_length} (train_size + gap + "
                f"{'1' if self.allow_partial else 'test_size'})."
            )
        return starts
