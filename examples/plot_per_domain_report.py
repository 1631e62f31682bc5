"""
Per-domain report: HAMUR and its backbone, with plots
=====================================================

Prints the test AUC and log loss of each domain (sector of employment in UCI Adult) for
HAMURClassifier and MultiDomainClassifier, and draws two figures per model:
``<model>_domains.png`` (per-domain ROC curves and AUC bars, DomainMetricsDisplay)
and ``<model>_history.png`` (training/validation loss and the validation AUC of
every domain per epoch, TrainingHistoryDisplay).

Run: ``python examples/plot_per_domain_report.py [OUTPUT_DIR]`` (about 30 s on 2 CPU
cores; the figures go to OUTPUT_DIR, or to a new temporary directory). With
``SKLEARN_HAMUR_EXAMPLES_FAST=1`` it trains on 8,000 rows for at most 4 epochs
of batches of 512.
"""

import os
import sys
import tempfile
from functools import partial

import matplotlib
import pandas as pd
import torch
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur.datasets import load_adult
from sklearn_hamur.metrics import domain_scores
from sklearn_hamur.plot import DomainMetricsDisplay, TrainingHistoryDisplay

matplotlib.use("Agg")  # files only, no window
out_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="hamur-report-")
os.makedirs(out_dir, exist_ok=True)
# One torch thread: on a busy 2-core machine, two threads that wait for each other
# can make training many times slower.
torch.set_num_threads(1)

FAST = os.environ.get("SKLEARN_HAMUR_EXAMPLES_FAST") == "1"

# %%
# A stratified 80/20 split; early stopping holds out 10% of the training rows and
# watches the worst domain's validation AUC (``early_stopping_metric="auc_min"``).
X, y = load_adult(return_X_y=True)
strata = X["domain"].astype(str) + "/" + y.astype(str)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, stratify=strata, random_state=0
)

if FAST:
    X_train, y_train = X_train.iloc[:8000], y_train[:8000]

settings = dict(
    max_epochs=4 if FAST else 15,
    batch_size=512 if FAST else 4096,
    early_stopping=True,
    early_stopping_metric="auc_min",
    random_state=0,
)
models = {
    "hamur": HAMURClassifier(**settings),
    "backbone": MultiDomainClassifier(**settings),
}
counts = X_test["domain"].value_counts().sort_index()
table = pd.DataFrame({"test rows": [*counts, len(X_test)]}, index=[*counts.index, "(all rows)"])
# %%
# Train both models; for each, score every domain and draw the per-domain ROC curves and
# AUC bars (:class:`~sklearn_hamur.plot.DomainMetricsDisplay`) and the learning curves
# with each domain's validation AUC (:class:`~sklearn_hamur.plot.TrainingHistoryDisplay`).
for name, model in models.items():
    model.fit(X_train, y_train)
    proba = model.predict_proba(X_test)[:, 1]
    aucs = domain_scores(y_test, proba, X_test["domain"])
    losses = domain_scores(y_test, proba, X_test["domain"], partial(log_loss, labels=[0, 1]))
    table[f"AUC {name}"] = [*aucs.values(), roc_auc_score(y_test, proba)]
    table[f"log loss {name}"] = [*losses.values(), log_loss(y_test, proba)]
    domains_png = os.path.join(out_dir, f"{name}_domains.png")
    history_png = os.path.join(out_dir, f"{name}_history.png")
    DomainMetricsDisplay.from_estimator(model, X_test, y_test).figure_.savefig(domains_png)
    TrainingHistoryDisplay.from_estimator(model).figure_.savefig(history_png)
    # File names only: the folder is temporary unless one is given on the command line.
    saved = f"{os.path.basename(domains_png)} and {os.path.basename(history_png)}"
    print(f"{name}: {len(model.history_)} epochs; saved {saved}")

# %%
# The per-domain table: AUC and log loss of each model in each domain.
with pd.option_context("display.width", 200, "display.max_columns", None, "display.precision", 4):
    print(table)
