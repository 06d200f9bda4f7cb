"""Validation shared by every metric: one return-series checker, reused everywhere."""

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class _Checked:
    """A validated series (or column-wise panel) of per-period values.

    ``values`` is always 2-d, one column per series, so every metric is
    written once, column-wise; ``wrap`` restores the caller's shape.
    """

    values: np.ndarray
    index: pd.Index | None
    columns: pd.Index | None
    is_1d: bool

    @property
    def n_periods(self):
        return self.values.shape[0]

    def wrap(self, per_column, name=None):
        """Float for 1-d input, Series for a DataFrame, ndarray otherwise."""
        if self.is_1d:
            return float(per_column[0])
        if self.columns is not None:
            return pd.Series(per_column, index=self.columns, name=name)
        return per_column


def check_returns(returns, *, name="returns", min_length=2):
    """Validate finite per-period values of shape (n,) or (n, n_series).

    Accepts lists, ndarrays, Series and DataFrames (2-d inputs are treated
    column-wise). Raises ValueError for non-numeric, NaN or infinite values,
    wrong dimensions, no column, or fewer than ``min_length`` rows.
    """
    index = returns.index if isinstance(returns, pd.Series | pd.DataFrame) else None
    columns = returns.columns if isinstance(returns, pd.DataFrame) else None
    try:
        values = np.array(returns, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if values.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-d or 2-d, got {values.ndim} dimensions")
    is_1d = values.ndim == 1
    if is_1d:
        values = values[:, np.newaxis]
    if values.shape[0] < min_length:
        raise ValueError(
            f"{name} needs at least {min_length} observations, got {values.shape[0]}"
        )
    if values.shape[1] == 0:
        raise ValueError(f"{name} has no column")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return _Checked(values, index, columns, is_1d)


def check_periods_per_year(periods_per_year, *, allow_none=False):
    """Return a positive finite float, or None when allowed."""
    if periods_per_year is None and allow_none:
        return None
    if (
        not isinstance(periods_per_year, numbers.Real)
        or isinstance(periods_per_year, bool)
        or not np.isfinite(periods_per_year)
        or periods_per_year <= 0
    ):
        expected = "a positive number or None" if allow_none else "a positive number"
        raise ValueError(
            f"periods_per_year must be {expected}, got {periods_per_year!r}"
        )
    return float(periods_per_year)


def annualization_factor(periods_per_year):
    """Multiplier turning a per-period mean/std ratio into an annual one."""
    return 1.0 if periods_per_year is None else np.sqrt(periods_per_year)


def check_companion(other, reference, *, name, allow_scalar):
    """Validate a per-period scalar or series matching ``reference`` row by row.

    Returns a float or an ``(n_periods, 1)`` column that broadcasts against
    ``reference.values``. Labelled inputs on both sides must share the index,
    so misaligned dates raise instead of being paired silently.
    """
    if np.ndim(other) == 0 and allow_scalar:
        return float(check_returns([other], name=name, min_length=1).values[0, 0])
    checked = check_returns(other, name=name, min_length=1)
    if not checked.is_1d or checked.n_periods != reference.n_periods:
        raise ValueError(
            f"{name} must be 1-d with {reference.n_periods} values like returns, "
            f"got shape {np.shape(other)}"
        )
    if (
        checked.index is not None
        and reference.index is not None
        and not checked.index.equals(reference.index)
    ):
        raise ValueError(f"{name} and returns have different indexes")
    return checked.values


def check_no_total_loss_below(values):
    """Compounding needs 1 + r >= 0: a loss beyond 100 % makes wealth negative."""
    if (values < -1.0).any():
        raise ValueError(
            "returns below -1 (losses beyond 100 %) make compounded wealth negative"
        )


# Decimal inputs such as 0.03 and 0.02 are not exact binary numbers, so
# 0.03 - 0.02 differs from 0.01 by about one ulp of the operands: a spread
# below a few ulps of the inputs' magnitude is rounding noise, not risk.
_NOISE_ULPS = 16 * np.finfo(np.float64).eps


def magnitude(*operands):
    """Per-column largest absolute value, summed over the operands of a difference."""
    return sum(np.abs(np.atleast_1d(op)).max(axis=0) for op in operands)


def ratio_or_nan(numerator, denominator, scale):
    """Element-wise ratio, NaN where the denominator is numerically zero.

    "Numerically zero" means at most 16 ulps of ``scale``, the magnitude of
    the inputs the denominator was computed from; no RuntimeWarning is raised.
    """
    undefined = np.asarray(denominator) <= _NOISE_ULPS * np.asarray(scale)
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=~undefined)
    return out


def check_option(value, name, allowed):
    """Raise ValueError unless ``value`` is one of the ``allowed`` strings."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
