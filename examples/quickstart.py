"""
Quickstart: HAMUR, its backbone and scikit-learn baselines
==========================================================

HAMUR against the same backbone without adapters and two scikit-learn models, on UCI Adult.
The bundled UCI Adult census data (CC BY 4.0) has a natural domain column: the sector
of employment (private, government, self-employed, other). Every model is trained on the
same 80% of the rows and scored on the other 20%, overall and per domain.

Run: ``python examples/quickstart.py`` (about 55 s on 2 CPU cores). With
``SKLEARN_HAMUR_EXAMPLES_FAST=1`` (the documentation build in CI) it trains on 8,000 rows
for at most 3 epochs of batches of 512, so its numbers are lower than those in the README.
"""

import os
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur.datasets import load_adult

FAST = os.environ.get("SKLEARN_HAMUR_EXAMPLES_FAST") == "1"

# %%
# Data: one row per person, the sector of employment as the domain column. Every model
# gets the same stratified 80/20 split (stratified on domain x label, so every domain
# keeps its share of positives).
X, y = load_adult(return_X_y=True)
strata = X["domain"].astype(str) + "/" + y.astype(str)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, stratify=strata, random_state=0
)
if FAST:
    X_train, y_train = X_train.iloc[:8000], y_train[:8000]
categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
numeric = [c for c in X.columns if c not in categorical]

# %%
# The models: HAMUR and its backbone with their defaults (the reference MovieLens
# setting), logistic regression on one-hot features, and gradient-boosted trees.
neural = {"max_epochs": 3, "batch_size": 512, "early_stopping": True} if FAST else {}
models = {
    "HAMUR": HAMURClassifier(domain_col="domain", random_state=0, **neural),
    "MultiDomain (backbone)": MultiDomainClassifier(domain_col="domain", random_state=0, **neural),
    "LogisticRegression": make_pipeline(
        ColumnTransformer(
            [
                ("onehot", OneHotEncoder(handle_unknown="ignore"), categorical),
                ("scale", StandardScaler(), numeric),
            ]
        ),
        LogisticRegression(max_iter=2000),
    ),
    "HistGradientBoosting": HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=0
    ),
}


# %%
# Fit every model on the training rows; score the test rows overall and per domain.


def as_category(frame):
    """HistGradientBoosting reads categorical columns from the category dtype."""
    return frame.astype({c: "category" for c in categorical})


rows = []
for name, model in models.items():
    fit_X, test_X = (
        (as_category(X_train), as_category(X_test)) if "Hist" in name else (X_train, X_test)
    )
    start = time.perf_counter()
    model.fit(fit_X, y_train)
    seconds = time.perf_counter() - start
    proba = model.predict_proba(test_X)[:, 1]
    row = {
        "model": name,
        "fit s": seconds,
        "AUC": roc_auc_score(y_test, proba),
        "logloss": log_loss(y_test, proba),
    }
    for domain in sorted(X_test["domain"].unique()):
        mask = (X_test["domain"] == domain).to_numpy()
        row[f"AUC {domain}"] = roc_auc_score(y_test[mask], proba[mask])
        row[f"logloss {domain}"] = log_loss(y_test[mask], proba[mask], labels=[0, 1])
    rows.append(row)

table = pd.DataFrame(rows).set_index("model")
counts = X_test["domain"].value_counts().sort_index()
print(
    f"UCI Adult: {len(X_train)} training rows, {len(X_test)} test rows; test rows per domain: "
    + ", ".join(f"{d} {n}" for d, n in counts.items())
)
with pd.option_context("display.width", 200, "display.max_columns", None, "display.precision", 4):
    print(table[["fit s", "AUC", "logloss"]])
    print("\nPer-domain AUC:")
    print(table[[c for c in table.columns if c.startswith("AUC ")]])
    print("\nPer-domain log loss:")
    print(table[[c for c in table.columns if c.startswith("logloss ")]])
assert np.isfinite(table["AUC"]).all()
