"""DomainMetricsDisplay and TrainingHistoryDisplay draw with the Agg backend."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur.metrics import domain_scores
from sklearn_hamur.plot import DomainMetricsDisplay, TrainingHistoryDisplay

from .conftest import FAST, FAST_HAMUR, make_data

matplotlib.use("Agg")  # switches pyplot to the file-only backend


@pytest.fixture(autouse=True)
def single_thread_and_close_figures():
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)
    plt.close("all")


@pytest.fixture(scope="module")
def hamur():
    X, y = make_data(n=900)
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    clf = HAMURClassifier(
        **{**FAST_HAMUR, "early_stopping": True, "early_stopping_metric": "auc_min"}
    ).fit(X[:600], y[:600])
    torch.set_num_threads(n_threads)
    return clf, X[600:], y[600:]


def test_domain_metrics_display_draws_curves_and_bars(hamur, tmp_path):
    clf, X, y = hamur
    display = DomainMetricsDisplay.from_estimator(clf, X, y)
    assert matplotlib.get_backend().lower() == "agg"
    curves, bars = display.ax_
    assert display.figure_ is curves.figure is bars.figure
    expected = domain_scores(y, clf.predict_proba(X)[:, 1], X["domain"])
    assert display.roc_auc == pytest.approx(expected)
    assert display.overall_auc == pytest.approx(roc_auc_score(y, clf.predict_proba(X)[:, 1]))
    # The diagonal, all rows, and one ROC curve per domain, labelled with its AUC.
    assert len(curves.get_lines()) == 2 + 3
    labels = [text.get_text() for text in curves.get_legend().get_texts()]
    assert labels[1:] == [
        f"{d} (AUC {expected[d]:.3f}, n={(X['domain'] == d).sum()})" for d in expected
    ]
    heights = [patch.get_height() for patch in bars.patches]
    assert heights == pytest.approx(list(expected.values()))
    assert [t.get_text() for t in bars.get_xticklabels()] == ["d0", "d1", "d2"]
    display.figure_.savefig(tmp_path / "domains.png")
    assert (tmp_path / "domains.png").stat().st_size > 10_000


def test_domain_metrics_display_on_given_axes_with_a_one_class_domain():
    y = np.array([0, 1, 0, 1, 1, 1])
    score = np.array([0.2, 0.7, 0.4, 0.9, 0.5, 0.6])
    domains = np.array(["a", "a", "a", "a", "b", "b"])
    fig, axes = plt.subplots(1, 2)
    display = DomainMetricsDisplay.from_predictions(y, score, domains, name="scores", ax=axes)
    assert display.ax_[0] is axes[0] and display.ax_[1] is axes[1]
    assert np.isnan(display.roc_auc["b"]) and display.roc_auc["a"] == 1.0
    assert len(axes[0].get_lines()) == 2 + 1  # no curve for the one-class domain
    assert "undefined" in [text.get_text() for text in axes[1].texts]
    assert axes[0].get_title() == "scores: ROC per domain"
    # Redrawing elsewhere returns the display with the new axes.
    _, other = plt.subplots(1, 2)
    assert display.plot(ax=other).ax_[1] is other[1]
    with pytest.raises(ValueError, match="ax must be None or two matplotlib Axes"):
        display.plot(ax=axes[0])


def test_training_history_display_draws_losses_and_per_domain_aucs(hamur):
    clf, _, _ = hamur
    display = TrainingHistoryDisplay.from_estimator(clf)
    losses, aucs = display.ax_
    np.testing.assert_allclose(display.train_loss, clf.history_[:, "train_loss"])
    assert [line.get_label() for line in losses.get_lines()] == ["training", "validation"]
    labels = [line.get_label() for line in aucs.get_lines()]
    assert labels == ["all rows", "d0", "d1", "d2", "worst domain"]
    lines = {line.get_label(): line for line in aucs.get_lines()}
    np.testing.assert_allclose(lines["all rows"].get_ydata(), clf.history_[:, "valid_auc"])
    np.testing.assert_allclose(lines["worst domain"].get_ydata(), clf.history_[:, "valid_auc_min"])
    d1 = [epoch[1] for epoch in clf.history_[:, "valid_auc_per_domain"]]
    np.testing.assert_allclose(lines["d1"].get_ydata(), d1)


def test_training_history_display_of_a_saved_and_loaded_model(hamur, tmp_path):
    clf, _, _ = hamur
    clf.save(tmp_path / "model.safetensors")
    loaded = HAMURClassifier.load(tmp_path / "model.safetensors", device="cpu")
    per_domain = loaded.history_[-1]["valid_auc_per_domain"]
    assert list(per_domain) == [0, 1, 2]  # domain indices, as in the fitted model
    assert per_domain == clf.history_[-1]["valid_auc_per_domain"]
    expected = TrainingHistoryDisplay.from_estimator(clf).valid_auc_per_domain
    curves = TrainingHistoryDisplay.from_estimator(loaded).valid_auc_per_domain
    assert list(curves) == list(expected) == ["d0", "d1", "d2"]
    for domain, curve in expected.items():
        np.testing.assert_array_equal(curves[domain], curve)


def test_training_history_display_without_validation_split():
    X, y = make_data(n=300)
    clf = MultiDomainClassifier(**{**FAST, "early_stopping": False}).fit(X, y)
    display = TrainingHistoryDisplay.from_estimator(clf)
    assert display.valid_auc is None and len(display.ax_[0].get_lines()) == 1
    assert "no validation split" in display.ax_[1].texts[0].get_text()
    with pytest.raises(ValueError, match="needs a fitted sklearn-hamur model"):
        TrainingHistoryDisplay.from_estimator(MultiDomainClassifier())
