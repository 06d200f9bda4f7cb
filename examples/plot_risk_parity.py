"""
=====================================
Risk parity and risk contributions
=====================================

A portfolio's variance splits into one term per asset,
:math:`w_i (\\Sigma w)_i`, the asset's *risk contribution* (the contributions
sum to the variance because variance is homogeneous of degree two in the
weights). Equal weights do not give equal risk: volatile assets, and assets
correlated with the rest, take more than their share.

:class:`~skportfolio.RiskParity` chooses the long-only weights whose risk
contributions are equal (or proportional to a given *risk budget*). This
example compares the risk contributions of four portfolios of the 12
industries, then fits a portfolio with unequal budgets.
"""

# %%
# Four portfolios, one covariance
# -------------------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from skportfolio import EqualWeight, InverseVolatility, MinimumVariance, RiskParity
from skportfolio.datasets import load_industry_returns
from skportfolio.metrics import risk_contributions
from skportfolio.plotting import plot_risk_contributions

industries = load_industry_returns(start="2007")
covariance = industries.cov()

portfolios = {
    "Equal weight": EqualWeight(),
    "Inverse volatility": InverseVolatility(),
    "Risk parity": RiskParity(),
    "Minimum variance": MinimumVariance(),
}
weights = {name: est.fit(industries).weights_ for name, est in portfolios.items()}

# %%
# With equal weights, durables, manufacturing and finance carry about twice
# the risk of non-durables or utilities. Inverse-volatility weights, which
# ignore correlations, come closer to equal contributions; risk parity
# equalises them exactly. Minimum variance holds four defensive industries
# (non-durables, utilities, shops, health care), whose contributions equal
# their weights: at the minimum-variance portfolio every held asset has the
# same marginal risk. The dashed line marks 1/12.
fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True, layout="constrained")
for ax, (name, w) in zip(axes.flat, weights.items()):
    plot_risk_contributions(w, covariance, ax=ax)
    ax.axhline(1 / 12, color="black", linestyle="--", linewidth=0.8)
    ax.set_title(name)

# %%
# The fitted estimator reports its risk contributions, equal to 1/12 each:
risk_parity = portfolios["Risk parity"]
print(np.round(risk_parity.risk_contributions_, 6))

# %%
# Risk budgets
# ------------
# A risk budget states the share of the variance each asset should carry.
# Here the four defensive industries (non-durables, utilities, health care,
# telecoms) get twice the budget of the others.
defensive = ["NoDur", "Utils", "Hlth", "Telcm"]
budget = pd.Series(1.0, index=industries.columns)
budget[defensive] = 2.0
budget /= budget.sum()
budgeted = RiskParity(risk_budget=budget.to_numpy()).fit(industries)
table = pd.DataFrame(
    {
        "budget": budget,
        "risk contribution": risk_contributions(budgeted.weights_, covariance),
        "weight": budgeted.weights_,
    }
)
print(table.round(4))

# %%
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
plot_risk_contributions(budgeted.weights_, covariance, ax=ax)
ax.set_title("Risk budget: twice as much risk for defensive industries")
