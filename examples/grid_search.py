"""
Grid search judged by the worst domain
======================================

A grid search on UCI Adult (domain = sector of employment) that refits the candidate whose
worst domain is best.

A model that is good on average can still serve a small domain badly. This example
cross-validates four HAMUR configurations with folds stratified on domain x label
(``DomainStratifiedKFold``, so the small "other" domain is in every fold), scores each
with every per-domain scorer, and refits the one whose worst domain is best.

Run: ``python examples/grid_search.py`` (about 30 s on 2 CPU cores). With
``SKLEARN_HAMUR_EXAMPLES_FAST=1`` it uses 3,000 training rows and 2 epochs.
"""

import os

import pandas as pd
import torch
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_hamur import HAMURClassifier
from sklearn_hamur.datasets import load_adult
from sklearn_hamur.metrics import domain_scorers, domain_scores
from sklearn_hamur.model_selection import DomainStratifiedKFold

# One torch thread: on a busy 2-core machine, two threads that wait for each other
# can make training many times slower.
torch.set_num_threads(1)

FAST = os.environ.get("SKLEARN_HAMUR_EXAMPLES_FAST") == "1"

X, y = load_adult(return_X_y=True)
strata = X["domain"].astype(str) + "/" + y.astype(str)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=3_000 if FAST else 12_000, test_size=8_000, stratify=strata, random_state=0
)

# %%
# Four candidates, three folds stratified on domain x label, every per-domain scorer;
# ``refit="roc_auc_min"`` keeps the candidate with the best worst-domain AUC.

search = GridSearchCV(
    HAMURClassifier(
        adapter_rank=16,
        batch_size=1024,
        max_epochs=2 if FAST else 8,
        early_stopping=True,
        early_stopping_metric="auc_min",  # early stopping watches the worst domain too
        random_state=0,
    ),
    {"hidden_units": [(64, 32), (128, 64)], "lr": [1e-3, 5e-3]},
    cv=DomainStratifiedKFold(n_splits=3, shuffle=True, random_state=0),
    scoring=domain_scorers(),  # every per-domain scorer, by name
    refit="roc_auc_min",  # keep the candidate whose worst domain is best
)
search.fit(X_train, y_train)

# %%
# Cross-validated scores of the candidates, and the chosen model on the test rows.
columns = ["mean_test_roc_auc_min", "mean_test_roc_auc_mean", "mean_test_roc_auc_weighted"]
results = pd.DataFrame(search.cv_results_)
results["params"] = results["params"].map(lambda p: f"units={p['hidden_units']} lr={p['lr']}")
with pd.option_context("display.width", 120, "display.precision", 4):
    print("Cross-validated per-domain AUC (min = worst domain):")
    print(results.set_index("params")[columns].rename(columns=lambda c: c[10:]))
print(f"\nChosen: {search.best_params_}")

best = search.best_estimator_
proba = best.predict_proba(X_test)[:, 1]
print("\nTest AUC per domain of the chosen model:")
for domain, auc in domain_scores(y_test, proba, X_test["domain"]).items():
    print(f"  {domain:14s} {auc:.4f}  ({(X_test['domain'] == domain).sum()} rows)")
print(f"  worst domain   {search.scorer_['roc_auc_min'](best, X_test, y_test):.4f}")
