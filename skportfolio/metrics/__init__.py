"""Portfolio performance metrics, weight diagnostics and scorers."""

from skportfolio.metrics._returns import (
    annualized_return,
    annualized_volatility,
    calmar_ratio,
    information_ratio,
    max_drawdown,
    sharpe_ratio,
    sortino_ratio,
    tracking_error,
)
from skportfolio.metrics._scorer import (
    get_portfolio_scorer,
    make_portfolio_scorer,
    make_utility_scorer,
    neg_max_drawdown_scorer,
    neg_variance_scorer,
    sharpe_scorer,
    sortino_scorer,
)
from skportfolio.metrics._weights import (
    portfolio_variance,
    risk_contributions,
    turnover,
)

__all__ = [
    "annualized_return",
    "annualized_volatility",
    "calmar_ratio",
    "get_portfolio_scorer",
    "information_ratio",
    "make_portfolio_scorer",
    "make_utility_scorer",
    "max_drawdown",
    "neg_max_drawdown_scorer",
    "neg_variance_scorer",
    "portfolio_variance",
    "risk_contributions",
    "sharpe_ratio",
    "sharpe_scorer",
    "sortino_ratio",
    "sortino_scorer",
    "tracking_error",
    "turnover",
]
