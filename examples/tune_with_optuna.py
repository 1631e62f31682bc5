"""
Tuning with Optuna and per-epoch pruning
========================================

Tune HAMUR with Optuna on UCI Adult, pruning hopeless trials epoch by epoch.

``tune`` cross-validates each trial's parameters with folds stratified on domain x
label and maximizes the mean per-domain AUC; while each fold trains, every epoch's
validation AUC is reported to Optuna and the median pruner stops trials that fall
behind. The study is kept in an Optuna journal file, so more worker processes can join
it: start this script again in other terminals with the same ``--storage`` and
``--study-name`` (on several machines, use a database URL such as
``postgresql://user:password@host/optuna``).

Run: ``python examples/tune_with_optuna.py`` (about 30 s on 2 CPU cores).
Options: ``--storage PATH_OR_URL``, ``--study-name NAME``, ``--n-trials N``. With
``SKLEARN_HAMUR_EXAMPLES_FAST=1`` it runs 3 trials of 2 epochs on 3,000 rows.
"""

import argparse
import os
import tempfile

import optuna
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.model_selection import train_test_split

from sklearn_hamur import HAMURClassifier
from sklearn_hamur.datasets import load_adult
from sklearn_hamur.metrics import domain_scores
from sklearn_hamur.model_selection import DomainStratifiedKFold, tune

FAST = os.environ.get("SKLEARN_HAMUR_EXAMPLES_FAST") == "1"

parser = argparse.ArgumentParser(description="Tune HAMUR with Optuna on UCI Adult.")
parser.add_argument("--storage", help="journal file path, or an SQL URL (default: a temp file)")
parser.add_argument("--study-name", default="hamur-adult")
parser.add_argument(
    "--n-trials", type=int, default=3 if FAST else 8, help="trials run by this process"
)
args = parser.parse_args()

# One torch thread: on a busy 2-core machine, two threads that wait for each other
# can make training many times slower.
torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)

temporary = args.storage is None
if temporary:
    args.storage = os.path.join(tempfile.mkdtemp(), "hamur-adult.log")
if "://" in args.storage:  # a database: sqlite:///..., postgresql://..., mysql://...
    storage = args.storage
else:  # a journal file, shared by processes on this machine (or on a shared disk)
    backend = optuna.storages.journal.JournalFileBackend(args.storage)
    storage = optuna.storages.JournalStorage(backend)
where = "a temporary journal file" if temporary else args.storage
print(f"study {args.study_name!r} in {where}")

# %%
# Data, and a small search space; each trial is cross-validated with two folds stratified
# on domain x label, and its per-epoch validation AUC is reported to the pruner.
X, y = load_adult(return_X_y=True)
strata = X["domain"].astype(str) + "/" + y.astype(str)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=3_000 if FAST else 10_000, test_size=8_000, stratify=strata, random_state=0
)

# A small space for a quick run; hamur_search_space() is the full default. Tuple
# parameters are strings ("64-32"), so the study can be stored; tune decodes them.
space = {
    "hidden_units": CategoricalDistribution(["64-32", "128-64"]),
    "adapter_rank": IntDistribution(8, 32, step=8),
    "lr": FloatDistribution(1e-4, 2e-2, log=True),
    "dropout": FloatDistribution(0.0, 0.4),
}
model = HAMURClassifier(batch_size=1024, max_epochs=2 if FAST else 6, random_state=0)
best, study = tune(
    model,
    X_train,
    y_train,
    n_trials=args.n_trials,
    param_distributions=space,
    cv=DomainStratifiedKFold(n_splits=2, shuffle=True, random_state=0),
    storage=storage,
    study_name=args.study_name,
    pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    random_state=None,  # each worker samples differently
)

# %%
# Every trial of the study (pruned ones included) and the refitted best model.
table = study.trials_dataframe(attrs=("number", "state", "value", "params", "user_attrs"))
shown = ["number", "state", "value", *[c for c in table.columns if c.startswith("params_")]]
print(table[shown].to_string(index=False, float_format="{:.4g}".format))
print(f"\nbest trial {study.best_trial.number}: {study.best_params}")

proba = best.predict_proba(X_test)[:, 1]
print("Test AUC per domain of the refitted best model:")
for domain, auc in domain_scores(y_test, proba, X_test["domain"]).items():
    print(f"  {domain:14s} {auc:.4f}")
