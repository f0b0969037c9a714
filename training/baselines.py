"""The yardsticks every model is reported beside: the ops rule and logistic regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["SSI_RECENT_DAYS", "fit_logistic", "logistic_scores", "ops_rule_score"]

SCORE_BATCH_ROWS = 100_000
"""Rows per batch when the logistic baseline scores: its imputer adds a missing-flag column per
feature and its scaler a copy, which for a whole test window at once is a gigabyte more."""

SSI_RECENT_DAYS = 5
"""The ops rule's "SSI changed recently": the SSI in force took effect this many days ago."""


def ops_rule_score(rows: pd.DataFrame) -> np.ndarray:
    """How many of the ops desk's red flags a trade raises (0-3): unaffirmed at the cutoff,
    SSI changed in the last ``SSI_RECENT_DAYS`` days, or our delivery not covered by inventory.
    """
    unaffirmed = rows["affirmed_late"].fillna(0).to_numpy() == 1
    new_ssi = rows["ssi_age_days"].to_numpy(float) <= SSI_RECENT_DAYS
    short = (rows["is_sell"].to_numpy() == 1) & (rows["inventory_coverage"].to_numpy(float) < 1)
    flags: np.ndarray = unaffirmed.astype(float) + new_ssi + short
    return flags


def fit_logistic(x: pd.DataFrame, y: np.ndarray, seed: int = 7) -> Pipeline:
    """Logistic regression on the same features: median imputation with missing flags,
    standardised, L2-regularised. Infinities count as missing."""
    model = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(copy=False),  # scales the imputer's fresh output in place
        LogisticRegression(max_iter=1_000, C=0.5, random_state=seed),
    )
    return model.fit(_finite(x), y)


def logistic_scores(model: Pipeline, x: pd.DataFrame) -> np.ndarray:
    """The fitted baseline's probability of a fail for each row of ``x``, a batch at a time."""
    scores = np.empty(len(x))
    for start in range(0, len(x), SCORE_BATCH_ROWS):
        batch = x.iloc[start : start + SCORE_BATCH_ROWS]
        scores[start : start + len(batch)] = model.predict_proba(_finite(batch))[:, 1]
    return scores


def _finite(x: pd.DataFrame) -> pd.DataFrame:
    """One float32 copy of ``x`` (the type the model is trained on) with infinities as NaN."""
    values = x.to_numpy(dtype=np.float32, copy=True)
    values[np.isinf(values)] = np.nan
    return pd.DataFrame(values, columns=x.columns, index=x.index, copy=False)
