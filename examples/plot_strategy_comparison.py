"""
=========================================
Comparing allocation strategies
=========================================

Five ways to allocate across the 12 industries, compared in one walk-forward
backtest: every quarter, each strategy is re-estimated on the last five years
of monthly returns, bought at a cost of 10 basis points per unit of turnover,
and held (the weights drifting with the returns) until the next quarter.

* **Equal weight**: 1/N, no estimation at all.
* **Inverse volatility**: weights proportional to 1/volatility.
* **Risk parity**: equal contributions to the portfolio variance.
* **Minimum variance**: the least risky long-only portfolio.
* **Mean-variance**: expected return traded against variance with risk
  aversion 10.
"""

# %%
# The backtests
# -------------
import matplotlib.pyplot as plt

from skportfolio import (
    EqualWeight,
    InverseVolatility,
    MeanVariance,
    MinimumVariance,
    RiskParity,
)
from skportfolio.datasets import load_industry_returns
from skportfolio.model_selection import WalkForward, backtest, compare
from skportfolio.plotting import plot_cumulative_returns, plot_weights

industries = load_industry_returns(start="1970")
cv = WalkForward(train_size=60, test_size=3, allow_partial=True)
strategies = {
    "Equal weight": EqualWeight(),
    "Inverse volatility": InverseVolatility(),
    "Risk parity": RiskParity(),
    "Minimum variance": MinimumVariance(),
    "Mean-variance (λ = 10)": MeanVariance(risk_aversion=10),
}
results = {
    name: backtest(estimator, industries, cv=cv, transaction_cost=0.001)
    for name, estimator in strategies.items()
}

# %%
# Performance
# -----------
# Annualised figures of the net monthly returns, 1975-2017. The risk-based
# strategies line up by how much they use the covariance: equal weight is
# the most volatile, minimum variance the least, inverse volatility and risk
# parity in between. Mean-variance pays for its bets on estimated means with
# the highest turnover.
table = compare(results)
print(table.round(3).to_string())

# %%
fig, ax = plt.subplots(layout="constrained")
plot_cumulative_returns(
    {name: result.returns for name, result in results.items()},
    ax=ax,
    log_scale=True,
)
ax.set_title("Growth of 1, net of 10 bp costs")

# %%
# Weights through time
# --------------------
# Risk parity holds every industry, tilted towards the less volatile ones;
# minimum variance concentrates on a handful of defensive industries.
fig, axes = plt.subplots(2, 1, figsize=(8, 7), sharex=True, layout="constrained")
for ax, name in zip(axes, ["Risk parity", "Minimum variance"]):
    plot_weights(results[name].weights, ax=ax)
    ax.set_title(name)
