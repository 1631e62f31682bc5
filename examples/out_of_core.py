"""
Out-of-core training: stream Parquet files through ``partial_fit``
==================================================================

Train on click logs that never sit in memory at once. The rows live in Parquet files on
disk and are read in record batches (``pyarrow.parquet.ParquetFile.iter_batches``):
one pass of :meth:`MultiDomainEncoder.partial_fit <sklearn_hamur.MultiDomainEncoder.partial_fit>`
learns the vocabularies, numeric statistics and domains of all the files, then each
epoch streams the files again through
:meth:`HAMURClassifier.partial_fit <sklearn_hamur.HAMURClassifier.partial_fit>`, one
batch at a time, and a held-out file is scored after every epoch. Memory holds one
batch, the encoder and the model, whatever the number of files.

Run: ``python examples/out_of_core.py`` (about 20 s on 2 CPU cores; needs pyarrow). With
``SKLEARN_HAMUR_EXAMPLES_FAST=1`` it writes fewer rows and trains 2 epochs.
"""

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
from sklearn.metrics import roc_auc_score

from sklearn_hamur import HAMURClassifier, MultiDomainEncoder

# One torch thread: on a busy 2-core machine, two threads that wait for each other
# can make training many times slower.
torch.set_num_threads(1)

FAST = os.environ.get("SKLEARN_HAMUR_EXAMPLES_FAST") == "1"
N_FILES, ROWS_PER_FILE, EPOCHS = (3, 10_000, 2) if FAST else (4, 25_000, 3)
BATCH_ROWS = 10_000  # rows read, encoded and trained on at a time

# %%
# Synthetic click logs
# --------------------
# Integer ids of several cardinalities, a price and three domains (the app, the web
# site, a partner); the click probability depends on the user, on the item (differently
# in each domain) and on the price. Each file is written in row groups of 5,000 rows.

ID_CARDINALITIES = {"user": 1_000, "item": 500, "shop": 300, "city": 80, "hour": 24}
DOMAINS = np.array(["app", "partner", "web"])
effects = np.random.default_rng(0)
USER_EFFECT = effects.normal(0.0, 0.8, ID_CARDINALITIES["user"])
ITEM_EFFECT = effects.normal(0.0, 1.0, (len(DOMAINS), ID_CARDINALITIES["item"]))


def write_clicks(path: Path, n_rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = {name: rng.integers(0, size, n_rows) for name, size in ID_CARDINALITIES.items()}
    domain = rng.integers(0, len(DOMAINS), n_rows)
    price = rng.lognormal(3.0, 0.5, n_rows)
    logit = USER_EFFECT[ids["user"]] + ITEM_EFFECT[domain, ids["item"]] - 0.02 * price
    click = (rng.random(n_rows) < 1 / (1 + np.exp(1.0 - logit))).astype(np.int8)
    frame = pd.DataFrame({"domain": DOMAINS[domain], **ids, "price": price, "click": click})
    frame.to_parquet(path, row_group_size=5_000, index=False)


folder = Path(tempfile.mkdtemp(prefix="clicks-"))
train_files = [folder / f"train-{i}.parquet" for i in range(N_FILES)]
for i, path in enumerate(train_files):
    write_clicks(path, ROWS_PER_FILE, seed=i + 1)
test_file = folder / "test.parquet"
write_clicks(test_file, ROWS_PER_FILE, seed=100)
print(f"{N_FILES} training files of {ROWS_PER_FILE:,} rows and a test file in {folder}")

# %%
# Streaming the files
# -------------------
# ``batches`` yields each record batch as a DataFrame and its labels. A progress bar
# counts the batches of an epoch: tqdm's when it is installed (skorch installs it),
# else a line per file.

try:
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover - tqdm comes with skorch
    tqdm = None


def batches(paths):
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            frame = batch.to_pandas()
            yield frame, frame.pop("click").to_numpy()


def progress(iterable, description: str):
    total = sum(-(-pq.ParquetFile(p).metadata.num_rows // BATCH_ROWS) for p in train_files)
    if tqdm is not None:
        return tqdm(iterable, total=total, desc=description, unit="batch", leave=False)
    print(f"{description}: {total} batches")
    return iterable


# %%
# First pass: the encoder
# -----------------------
# The ids are integers, which pandas reads as numbers: name them in
# ``categorical_cols``. ``min_frequency=2`` counts a category over all the batches, so
# ids seen once in the whole stream share the "unseen" embedding.

encoder = MultiDomainEncoder(categorical_cols=list(ID_CARDINALITIES), min_frequency=2)
for X_batch, _ in progress(batches(train_files), "encoder"):
    encoder.partial_fit(X_batch)
print("vocabulary sizes:", dict(zip(encoder.categorical_cols_, encoder.cardinalities_)))
print("domains:", encoder.domains_.tolist())

# %%
# Epochs of ``partial_fit``
# -------------------------
# The classifier takes the fitted encoder (and its parameters, which it shares); each
# ``partial_fit`` call is one pass over one batch, continuing the weights and Adam's
# state. ``classes`` names both labels on the first call, as in scikit-learn. After each
# epoch the test file is scored, streamed too.

clf = HAMURClassifier(
    encoder=encoder,
    **encoder.get_params(),
    hidden_units=(64, 32),
    adapter_rank=8,
    batch_size=1024,
    lr=3e-3,
    random_state=0,
)


def test_auc() -> float:
    scores, labels = [], []
    for X_batch, y_batch in batches([test_file]):
        scores.append(clf.predict_proba(X_batch)[:, 1])
        labels.append(y_batch)
    return roc_auc_score(np.concatenate(labels), np.concatenate(scores))


for epoch in range(1, EPOCHS + 1):
    for X_batch, y_batch in progress(batches(train_files), f"epoch {epoch}"):
        clf.partial_fit(X_batch, y_batch, classes=[0, 1])
    print(f"epoch {epoch}: test AUC {test_auc():.4f}")

# %%
# ``history_`` has one row per ``partial_fit`` call, and the model saves and loads like
# one trained by ``fit`` (``partial_fit`` after ``load`` continues it).
print(
    f"{len(clf.history_)} partial_fit calls; last train_loss {clf.history_[-1, 'train_loss']:.4f}"
)
shutil.rmtree(folder)  # the files were only for this example
