"""Files saved by an earlier version load, and predict as they did when saved."""

from pathlib import Path

import numpy as np
import pytest

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur.datasets import load_adult

SAVED = Path(__file__).parent / "data" / "saved_v1"
ESTIMATORS = {"HAMURClassifier": HAMURClassifier, "MultiDomainClassifier": MultiDomainClassifier}
NAMES = sorted(path.stem for path in SAVED.glob("*.safetensors"))


def test_every_backbone_has_a_saved_file():
    # 9 backbones, with and without adapters, written by tests/data/saved_v1/make_files.py.
    assert len(NAMES) == 18


@pytest.mark.parametrize("name", NAMES)
def test_file_saved_by_version_0_loads_with_equal_predictions(name):
    cls = ESTIMATORS[name.split("-")[0]]
    clf = cls.load(SAVED / f"{name}.safetensors", device="cpu")
    X = load_adult(return_X_y=True)[0][:200]
    expected = np.load(SAVED / "predictions.npz")[name]
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], expected, rtol=0, atol=1e-6)
