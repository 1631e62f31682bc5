"""Optuna: OptunaSearchCV over a pipeline, tune() with pruning, shared-storage workers,
and early stopping on the worst domain."""

import subprocess
import sys
import textwrap

import numpy as np
import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur.metrics import make_domain_scorer
from sklearn_hamur.model_selection import (
    DecodedParamsClassifier,
    DomainStratifiedKFold,
    OptunaPruning,
    tune,
)

from .conftest import FAST, FAST_HAMUR, make_data


@pytest.fixture(autouse=True)
def quiet_single_threaded():
    """Tiny models train faster on one thread (the test machine is shared); no trial logs."""
    n_threads, verbosity = torch.get_num_threads(), optuna.logging.get_verbosity()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    torch.set_num_threads(n_threads)
    optuna.logging.set_verbosity(verbosity)


def scaled_then(model):
    scale = ColumnTransformer(
        [("scale", StandardScaler(), ["price"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return Pipeline([("pre", scale), ("clf", model)])


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:.*optuna.terminator.*:FutureWarning")
def test_optuna_search_cv_over_a_pipeline_with_hamur():
    from optuna_integration import OptunaSearchCV

    X, y = make_data(n=600)
    pipe = scaled_then(DecodedParamsClassifier(HAMURClassifier(**FAST_HAMUR)))
    space = {
        "clf__estimator__hidden_units": CategoricalDistribution(["16-8", "8"]),
        "clf__estimator__lr": FloatDistribution(1e-3, 1e-1, log=True),
    }
    search = OptunaSearchCV(
        pipe,
        space,
        cv=DomainStratifiedKFold(3),
        scoring=make_domain_scorer("roc_auc", aggregate="min"),
        n_trials=3,
        random_state=0,
    ).fit(X, y)
    trials = search.study_.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    # Stored parameters are strings and numbers; the fitted model got the tuple.
    assert search.best_params_["clf__estimator__hidden_units"] in ("16-8", "8")
    model = search.best_estimator_[-1].estimator_
    assert (
        model.hidden_units
        == {"16-8": (16, 8), "8": (8,)}[search.best_params_["clf__estimator__hidden_units"]]
    )
    assert search.best_score_ == max(t.value for t in trials)
    assert 0.5 < search.best_score_ <= 1.0
    assert search.predict_proba(X).shape == (600, 2)


def test_pruning_callback_survives_clone_and_shares_the_trial():
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    callback = OptunaPruning(trial, monitor="valid_auc_min")
    clf = MultiDomainClassifier(
        **{**FAST, "early_stopping": True, "callbacks": [("pruning", callback)]}
    )
    copy = clone(clf)
    ((name, copied),) = copy.callbacks
    assert name == "pruning" and copied is not callback and copied.trial is trial
    assert copied.get_params() == callback.get_params()
    X, y = make_data(n=600)
    copy.fit(X, y)
    # Each epoch's worst-domain validation AUC was reported to the trial, step = epoch - 1.
    reported = study.trials[0].intermediate_values
    assert reported == pytest.approx(dict(enumerate(copy.history_[:, "valid_auc_min"])))


def test_pruning_callback_needs_a_validation_split():
    trial = optuna.create_study().ask()
    clf = MultiDomainClassifier(**{**FAST, "callbacks": [("pruning", OptunaPruning(trial))]})
    with pytest.raises(ValueError, match="monitor='valid_auc' is not in the history.*early_stop"):
        clf.fit(*make_data(n=200))


def test_pruning_callback_reports_losses_in_the_study_direction():
    X, y = make_data(n=600)
    for direction, sign in (("maximize", -1), ("minimize", 1)):
        study = optuna.create_study(direction=direction)
        trial = study.ask()
        callback = OptunaPruning(trial, monitor="valid_loss")
        clf = MultiDomainClassifier(
            **{**FAST, "early_stopping": True, "callbacks": [("pruning", callback)]}
        ).fit(X, y)
        reported = list(study.trials[0].intermediate_values.values())
        assert reported == pytest.approx([sign * v for v in clf.history_[:, "valid_loss"]])


def test_tune_prunes_a_hopeless_trial():
    """Trial 0 (lr=0.05) learns; trial 1 (lr=1e-6) stays at its initial weights, so its
    first epoch's validation AUC is below trial 0's and the median pruner stops it.
    2,000 rows: each fold's validation rows (100) are enough for one epoch of learning
    to show above the initial weights' chance AUC, whatever the random stream."""
    X, y = make_data(n=2000)
    storage = optuna.storages.InMemoryStorage()
    queue = optuna.create_study(storage=storage, study_name="pruning", direction="maximize")
    queue.enqueue_trial({"lr": 0.05})
    queue.enqueue_trial({"lr": 1e-6})
    best, study = tune(
        MultiDomainClassifier(**FAST),
        X,
        y,
        n_trials=2,
        param_distributions={"lr": FloatDistribution(1e-6, 0.1, log=True)},
        cv=2,
        storage=storage,
        study_name="pruning",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1),
    )
    good, hopeless = study.trials
    assert good.state == TrialState.COMPLETE and hopeless.state == TrialState.PRUNED
    # Trial 0 reported each epoch of both folds (steps 0-2, then 3-5); trial 1 was
    # stopped after its first epoch.
    assert sorted(good.intermediate_values) == list(range(2 * FAST["max_epochs"]))
    assert list(hopeless.intermediate_values) == [0]
    assert hopeless.intermediate_values[0] < good.intermediate_values[0]
    assert good.value == pytest.approx(
        np.mean([good.user_attrs["split0_test_score"], good.user_attrs["split1_test_score"]])
    )
    # The best estimator is refitted on all rows with the best parameters, without the
    # pruning callback, with the early stopping that pruning needed.
    assert best.lr == 0.05 and best.callbacks is None and best.early_stopping is True
    assert best.predict_proba(X).shape == (2000, 2)


def test_tune_default_space_through_a_pipeline():
    X, y = make_data(n=400)
    pipe = scaled_then(MultiDomainClassifier(**FAST))
    best, study = tune(
        pipe, X, y, n_trials=2, pruner=optuna.pruners.NopPruner(), random_state=0, refit=True
    )
    # MultiDomainClassifier has no adapters: the default space leaves them out.
    assert set(study.best_params) == {
        "clf__hidden_units",
        "clf__lr",
        "clf__weight_decay",
        "clf__dropout",
        "clf__batch_size",
        "clf__logistic_offset",
    }
    assert isinstance(study.best_params["clf__hidden_units"], str)
    assert best[-1].hidden_units == tuple(
        int(w) for w in study.best_params["clf__hidden_units"].split("-")
    )
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_tune_errors_are_clear():
    X, y = make_data(n=200)
    with pytest.raises(ValueError, match="early_stopping=False.*NopPruner"):
        tune(MultiDomainClassifier(**{**FAST, "early_stopping": False}), X, y, n_trials=1)
    with pytest.raises(ValueError, match="'adapter_rank' is not a parameter of MultiDomain"):
        tune(
            MultiDomainClassifier(**FAST),
            X,
            y,
            n_trials=1,
            param_distributions={"adapter_rank": CategoricalDistribution([2, 4])},
        )
    with pytest.raises(ValueError, match="warm_start=True"):
        tune(MultiDomainClassifier(**{**FAST, "warm_start": True}), X, y, n_trials=1)
    with pytest.raises(TypeError, match="tune needs an sklearn-hamur estimator"):
        tune(StandardScaler(), X, y, n_trials=1)


WORKER = textwrap.dedent(
    """
    import sys

    import torch

    torch.set_num_threads(1)
    import optuna
    import pandas as pd
    from optuna.distributions import FloatDistribution

    from sklearn_hamur import MultiDomainClassifier
    from sklearn_hamur.model_selection import tune

    journal, data, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    X, y = pd.read_pickle(data)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    tune(
        MultiDomainClassifier(hidden_units=(8,), max_epochs=2, batch_size=128, random_state=0),
        X,
        y,
        n_trials=2,
        param_distributions={"lr": FloatDistribution(1e-4, 0.1, log=True)},
        cv=2,
        storage=storage,
        study_name="shared",
        pruner=optuna.pruners.NopPruner(),
        refit=False,
        random_state=seed,
    )
    """
)


def test_two_worker_processes_share_one_journal_study(tmp_path):
    import pandas as pd

    X, y = make_data(n=300)
    pd.to_pickle((X, y), tmp_path / "data.pkl")
    journal = str(tmp_path / "study.log")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    study = optuna.create_study(storage=storage, study_name="shared", direction="maximize")
    lrs = [0.001, 0.003, 0.01, 0.03]
    for lr in lrs:
        study.enqueue_trial({"lr": lr})
    (tmp_path / "worker.py").write_text(WORKER)
    workers = [
        subprocess.Popen(
            [sys.executable, str(tmp_path / "worker.py"), journal, str(tmp_path / "data.pkl"), s],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for s in ("1", "2")
    ]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    # Each queued configuration ran exactly once, to completion, in one of the two workers.
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert sorted(t.params["lr"] for t in trials) == lrs
    ran_by = [t.user_attrs["worker"] for t in trials]
    assert len(set(ran_by)) == 2 and all(ran_by.count(w) == 2 for w in ran_by)
    assert all(0.0 <= t.value <= 1.0 for t in trials)


def test_early_stopping_on_the_worst_domain():
    """early_stopping_metric="auc_min" stops `patience` epochs after the best worst-domain
    validation AUC, which the history records each epoch next to the per-domain AUCs."""
    X, y = make_data(n=3000)
    clf = MultiDomainClassifier(
        **{
            **FAST,
            "early_stopping": True,
            "early_stopping_metric": "auc_min",
            "patience": 2,
            "max_epochs": 40,
            "lr": 0.05,
        }
    ).fit(X, y)
    worst = clf.history_[:, "valid_auc_min"]
    for per_domain, value in zip(clf.history_[:, "valid_auc_per_domain"], worst):
        assert sorted(per_domain) == [0, 1, 2] and value == min(per_domain.values())
    assert len(worst) < 40
    assert len(worst) == int(np.argmax(worst)) + 1 + 2
