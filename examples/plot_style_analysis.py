"""
===========================================
Return-based style analysis of the market
===========================================

Return-based style analysis (Sharpe, 1992) explains the returns of a fund by
a portfolio of asset-class indices: a regression of the fund's returns on the
indices' returns whose coefficients are non-negative and sum to one, so that
they read as portfolio weights. With an intercept, the coefficients minimise
the *variance* of the residuals, the fund's tracking error against its style
portfolio.

:class:`~skportfolio.ConstrainedLinearRegression` fits it with
``positive=True, sum_to=1``. Here the "fund" is the US stock market and the
style indices are the 12 Fama-French industry portfolios shipped with
skportfolio.
"""

# %%
# The data
# --------
# Monthly decimal returns, January 1949 to March 2017. The market return is
# the excess market return plus the risk-free rate.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from skportfolio import ConstrainedLinearRegression
from skportfolio.datasets import load_industry_returns
from skportfolio.plotting import plot_weights

industries, factors = load_industry_returns(return_factors=True)
market = factors["MktRF"] + factors["RF"]
industries.tail(3)

# %%
# Style weights over the whole sample
# -----------------------------------
# The value-weighted market *is* a portfolio of the industries, so the style
# weights come out close to the industries' average market shares and the fit
# explains nearly all of the market's variance. The unconstrained regression
# agrees closely here, but nothing forces its coefficients to be positive or
# to sum to one.
style = ConstrainedLinearRegression(positive=True, sum_to=1).fit(industries, market)
ols = LinearRegression().fit(industries, market)
comparison = pd.DataFrame(
    {"style analysis": style.coef_, "unconstrained": ols.coef_},
    index=industries.columns,
)
print(comparison.round(3))
print(f"sums: {style.coef_.sum():.6f} and {ols.coef_.sum():.6f}")
print(
    f"R^2: {style.score(industries, market):.4f} and {ols.score(industries, market):.4f}"
)

# %%
# Rolling style weights
# ---------------------
# Refitting once a year on the last five years shows how the market's
# industry mix changed: a large energy share until the mid-1980s, business
# equipment (technology) growing into the 2000s, finance and health care
# gaining weight since the 1990s.
window = 60
ends = range(window, len(market) + 1, 12)
rolling = pd.DataFrame(
    [
        ConstrainedLinearRegression(positive=True, sum_to=1)
        .fit(industries.iloc[end - window : end], market.iloc[end - window : end])
        .coef_
        for end in ends
    ],
    index=industries.index[[end - 1 for end in ends]],
    columns=industries.columns,
)
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
plot_weights(rolling, ax=ax)
ax.set_title("Industry style weights of the US market (60-month windows)")

# %%
# When the constraints matter: finance on the other industries
# ------------------------------------------------------------
# The finance industry (``Money``) is not a portfolio of the other eleven.
# Over 2007-2017 the unconstrained regression hedges with short positions of
# about a quarter of the portfolio each in chemicals and utilities, and its
# coefficients do not sum to one, so they cannot be read as a style. The
# constrained fit keeps four industries, all long, for an R² a few points
# lower.
recent = industries.loc["2007":]
others, finance = recent.drop(columns="Money"), recent["Money"]
style_fin = ConstrainedLinearRegression(positive=True, sum_to=1).fit(others, finance)
ols_fin = LinearRegression().fit(others, finance)
comparison = pd.DataFrame(
    {"style analysis": style_fin.coef_, "unconstrained": ols_fin.coef_},
    index=others.columns,
)
print(comparison.round(3))
print(f"sums: {style_fin.coef_.sum():.6f} and {ols_fin.coef_.sum():.6f}")
print(
    f"R^2: {style_fin.score(others, finance):.3f} and {ols_fin.score(others, finance):.3f}"
)

# %%
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
positions = np.arange(len(comparison))
ax.bar(positions - 0.2, comparison["style analysis"], 0.4, label="style analysis")
ax.bar(positions + 0.2, comparison["unconstrained"], 0.4, label="unconstrained")
ax.axhline(0.0, color="black", linewidth=0.8)
ax.set_xticks(positions, comparison.index, rotation=45, ha="right")
ax.set_ylabel("Coefficient")
ax.set_title("Finance industry on the other industries, 2007-2017")
ax.legend()
