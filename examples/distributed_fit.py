"""
Data-parallel training with torchrun
====================================

The same estimator, several processes: each trains on its shard of the rows with
PyTorch's DistributedDataParallel. This example is shown here without running (it needs
``torchrun``).

Launch (two processes on this machine; CPU uses gloo, GPUs use NCCL)::

    torchrun --standalone --nproc_per_node=2 examples/distributed_fit.py

On several machines, start the same command on each with ``--nnodes``, ``--node_rank``
and a shared ``--rdzv_endpoint=HOST:PORT`` (see ``torchrun --help``). Each process trains
on its shard of the rows with ``batch_size / world_size`` rows per step; rank 0 saves.
"""

import torch
import torch.distributed as dist
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_hamur import HAMURClassifier
from sklearn_hamur.datasets import load_adult

torch.set_num_threads(1)  # one thread per process on a small machine
X, y = load_adult(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
clf = HAMURClassifier(random_state=0, max_epochs=10).fit(X_train, y_train)
if dist.get_rank() == 0:
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    print(f"world size {dist.get_world_size()}: test AUC {auc:.4f}")
    clf.save("hamur_adult.safetensors")  # loads in any single process, CPU or GPU
dist.destroy_process_group()
