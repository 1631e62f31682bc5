"""The skorch net that trains the multi-domain modules."""

from __future__ import annotations

from collections.abc import Mapping

from skorch import NeuralNetBinaryClassifier
from skorch.callbacks import EpochTimer, PassthroughScoring, PrintLog
from skorch.utils import to_tensor

from ._data import MultiDomainDataset


class MultiDomainNet(NeuralNetBinaryClassifier):
    """``NeuralNetBinaryClassifier`` fed with whole batches and weighted by sample.

    - Data: a :class:`MultiDomainDataset` (or a mapping of arrays) iterated by
      :class:`~sklearn_hamur._data.BatchIterator`.
    - Loss: the criterion is built with ``reduction="none"`` and every row's loss is
      multiplied by its sample weight (when given) before averaging.
    - ``sample_weight`` rides in the input mapping and is removed before the module's
      ``forward(**X)``.
    """

    @property
    def _default_callbacks(self):
        # skorch's default also scores validation accuracy with a second pass; the
        # estimators add ValidationAUC, which reuses the validation outputs instead.
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("print_log", PrintLog(keys_ignored=["valid_auc_per_domain"])),
        ]

    def get_dataset(self, X, y=None):
        if isinstance(X, MultiDomainDataset):
            return X
        return MultiDomainDataset(X, y)

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping) and "sample_weight" in x:
            x = {key: value for key, value in x.items() if key != "sample_weight"}
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        loss = self.criterion_(y_pred, y_true)
        if isinstance(X, Mapping) and "sample_weight" in X:
            loss = loss * to_tensor(X["sample_weight"], device=self.device)
        return loss.mean()
