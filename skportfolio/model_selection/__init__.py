"""Walk-forward splitting and backtesting of portfolio estimators."""

from skportfolio.model_selection._backtest import (
    BacktestResult,
    backtest,
    compare,
    default_cv,
    fitted_weights,
    infer_periods_per_year,
)
from skportfolio.model_selection._split import WalkForward

__all__ = [
    "BacktestResult",
    "WalkForward",
    "backtest",
    "compare",
    "default_cv",
    "fitted_weights",
    "infer_periods_per_year",
]
