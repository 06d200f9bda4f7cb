"""
===================================================
Choosing the risk aversion by time-series CV
===================================================

:class:`~skportfolio.MeanVariance` maximises :math:`\\mu^\\top w -
\\frac{\\lambda}{2} w^\\top \\Sigma w`: a small risk aversion :math:`\\lambda`
chases the highest estimated mean, a large one tends to the minimum-variance
portfolio. Because the estimated means are noisy, the :math:`\\lambda` that
works best *out of sample* is an empirical question, which scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` answers like for any other
hyper-parameter, provided the splits respect time:
:class:`~sklearn.model_selection.TimeSeriesSplit` always tests on periods
after the training ones.
"""

# %%
# The efficient frontier and three risk aversions
# -----------------------------------------------
# On the training period (1949-2009), :func:`~skportfolio.efficient_frontier`
# traces the long-only frontier and each fitted ``MeanVariance`` reports its
# in-sample expected return and volatility (per month; annualised on the
# plot).
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from skportfolio import MeanVariance, MinimumVariance, efficient_frontier
from skportfolio.datasets import load_industry_returns
from skportfolio.plotting import plot_efficient_frontier

industries = load_industry_returns()
train, test = industries.loc[:"2009"], industries.loc["2010":]

frontier = efficient_frontier(train, n_points=50)
points = {}
for risk_aversion in [1, 10, 100]:
    fitted = MeanVariance(risk_aversion=risk_aversion).fit(train)
    points[f"λ = {risk_aversion}"] = (fitted.volatility_, fitted.expected_return_)

fig, ax = plt.subplots(layout="constrained")
plot_efficient_frontier(frontier, portfolios=points, periods_per_year=12, ax=ax)
ax.set_title("Long-only frontier of the 12 industries, 1949-2009")

# %%
# Grid search
# -----------
# Each of the ten splits fits on (up to) the last ten years and scores the
# following 66 months with the estimator's default score, the Sharpe ratio
# of the portfolio's returns.
search = GridSearchCV(
    MeanVariance(),
    {"risk_aversion": np.logspace(0, 3, 13)},
    cv=TimeSeriesSplit(n_splits=10, max_train_size=120),
)
search.fit(train)
print("best risk aversion:", round(search.best_params_["risk_aversion"], 1))

results = pd.DataFrame(search.cv_results_)
annual = np.sqrt(12)  # the scores are monthly Sharpe ratios
fig, ax = plt.subplots(layout="constrained")
risk_aversions = results["param_risk_aversion"].astype(float)
ax.semilogx(risk_aversions, annual * results["mean_test_score"], "o-")
ax.fill_between(
    risk_aversions,
    annual * (results["mean_test_score"] - results["std_test_score"]),
    annual * (results["mean_test_score"] + results["std_test_score"]),
    alpha=0.2,
    label="± one standard deviation across splits",
)
ax.set_xlabel("Risk aversion λ")
ax.set_ylabel("Annualised Sharpe ratio (test)")
ax.legend()

# %%
# The validation Sharpe ratio rises with the risk aversion and levels off
# from about λ = 30: the portfolios then differ little from the
# minimum-variance one. The spread across splits is much wider than the
# differences between the risk aversions: the estimated means add little that
# survives out of sample, a familiar finding (DeMiguel, Garlappi and Uppal,
# 2009).
#
# On the held-out years 2010-2017 the chosen portfolio is compared with a
# risk-seeking one and with the minimum-variance portfolio, all fitted on
# 1949-2009.
candidates = {
    "λ = 1": MeanVariance(risk_aversion=1).fit(train),
    "grid search": search.best_estimator_,
    "minimum variance": MinimumVariance().fit(train),
}
for name, estimator in candidates.items():
    print(f"{name:17s} Sharpe 2010-2017: {annual * estimator.score(test):.2f}")

# %%
# The selected risk aversion does as well as the minimum-variance portfolio
# and much better than λ = 1, which holds only the two industries with the
# highest mean return up to 2009, energy (41 %) and health care (59 %);
# energy then had the lowest return of the twelve in 2010-2017.
