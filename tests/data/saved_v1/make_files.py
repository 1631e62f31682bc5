"""Write the model files that tests/test_saved_files.py loads (run once, at commit a6cf570).

Each file was saved by the code of that commit, before the backbone refactoring, so the
test shows that a model saved by an earlier version loads with the same predictions. The
predictions on the first 200 rows of ``load_adult()`` are stored beside the files.
Run from the repository root: ``python tests/data/saved_v1/make_files.py``.
"""

from pathlib import Path

import numpy as np

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur.datasets import load_adult

HERE = Path(__file__).parent
SMALL = dict(
    hidden_units=(8, 8),
    bottom_units=(8,),
    tower_units=(8, 8),
    expert_units=(8,),
    auxiliary_units=(4,),
    n_experts=2,
    d_embedding=4,
    batch_size=512,
    max_epochs=2,
    early_stopping=False,
    random_state=0,
    device="cpu",
)
BACKBONES = ("mlp", "wide_deep", "dcn", "dcn_v2", "deepfm", "shared_bottom", "mmoe", "ple", "star")

if __name__ == "__main__":
    X, y = load_adult(return_X_y=True)
    X_train, y_train = X[200:3200], y[200:3200]
    probabilities = {}
    for backbone in BACKBONES:
        for cls in (HAMURClassifier, MultiDomainClassifier):
            extra = {"adapter_rank": 3, "d_adapter": 4, "hyper_hidden_units": (8,)}
            params = {**SMALL, "backbone": backbone, **(extra if cls is HAMURClassifier else {})}
            clf = cls(**params).fit(X_train, y_train)
            name = f"{cls.__name__}-{backbone}"
            clf.save(HERE / f"{name}.safetensors")
            probabilities[name] = clf.predict_proba(X[:200])[:, 1]
    np.savez_compressed(HERE / "predictions.npz", **probabilities)
