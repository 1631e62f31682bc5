"""
Quickstart: HAMUR, its backbone and scikit-learn baselines
==========================================================

HAMUR against the same backbone without adapters and two scikit-learn models, on UCI Adult,
in a few lines with :func:`sklearn_hamur.compare` and :func:`sklearn_hamur.make_baselines`.
The bundled UCI Adult census data (CC BY 4.0) has a natural domain column: the sector
of employment (``government``, ``other``, ``private``, ``self_employed``). Every model is
cross-validated on the same two folds (stratified on domain x label) and scored overall
and per domain, with its paired difference to HAMUR.

Run: ``python examples/quickstart.py`` (under a minute on 2 CPU cores). With
``SKLEARN_HAMUR_EXAMPLES_FAST=1`` (the documentation build in CI) it uses 6,000 rows and
at most 3 epochs, so its numbers are lower than those in the README.
"""

import os

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from sklearn_hamur import HAMURClassifier, compare, make_baselines, plot_comparison
from sklearn_hamur.datasets import load_adult

FAST = os.environ.get("SKLEARN_HAMUR_EXAMPLES_FAST") == "1"
# Small models train fastest on one thread; the table below states the count used.
torch.set_num_threads(1)

# %%
# Data: one row per person, the sector of employment as the domain column; a sample of
# 20,000 rows (stratified on domain x label) keeps the run under a minute. Each fold then
# trains on 10,000 rows, enough for ``early_stopping="auto"`` to hold out validation
# rows (below 10,000 rows it trains all ``max_epochs`` without stopping).
X, y = load_adult(return_X_y=True)
strata = X["domain"].astype(str) + "/" + y.astype(str)
X, _, y, _ = train_test_split(
    X, y, train_size=6_000 if FAST else 20_000, stratify=strata, random_state=0
)

# %%
# The models: HAMUR at its defaults, and the ready baselines: logistic regression on
# one-hot features, gradient-boosted trees, and HAMUR's backbone without adapters.
neural = {"max_epochs": 3, "batch_size": 512} if FAST else {}
baselines = make_baselines(X, random_state=0)
baselines["MultiDomainClassifier"].set_params(**neural)
models = {"HAMURClassifier": HAMURClassifier(random_state=0, **neural), **baselines}

# %%
# Two folds, every model on the same ones; ``*_diff`` is the model minus HAMUR, fold by
# fold (positive AUC differences favour the model).
# n_jobs=2: the (model, fold) fits run two at a time, each on one torch thread.
table = compare(models, X, y, cv=2, reference="HAMURClassifier", n_jobs=2)

overall = table.xs("all", level="domain")
columns = ["fit_time_mean", "roc_auc_mean", "roc_auc_std", "roc_auc_diff", "log_loss_mean"]
with pd.option_context("display.width", 200, "display.max_columns", None, "display.precision", 4):
    print(f"UCI Adult, {len(X)} rows, 2 folds, {torch.get_num_threads()} torch thread(s):")
    print(overall[columns])
    print("\nAUC per domain (mean over the folds):")
    print(table["roc_auc_mean"].unstack("domain").reindex(overall.index))

# %%
# The README's table, as markdown: overall and per-domain AUC.
auc = table["roc_auc_mean"].unstack("domain").reindex(overall.index)
print(
    "\n| model | fit s | AUC | log loss | " + " | ".join(f"AUC {d}" for d in auc.columns[1:]) + " |"
)
print("|---" * (4 + len(auc.columns) - 1) + "|")
for name in auc.index:
    cells = [f"{overall.loc[name, 'fit_time_mean']:.1f}", f"{auc.loc[name, 'all']:.4f}"]
    cells += [f"{overall.loc[name, 'log_loss_mean']:.4f}"]
    cells += [f"{auc.loc[name, d]:.4f}" for d in auc.columns[1:]]
    print(f"| {name} | " + " | ".join(cells) + " |")

# %%
# The per-domain AUCs as bars (the error bars: std over the folds).
ax = plot_comparison(table)
ax.set_title("UCI Adult: AUC per domain, 2 folds")
assert np.isfinite(overall["roc_auc_mean"]).all()
