"""What closes the gap to logistic regression on sparse id data? One variant at a time.

Each variant changes one thing in how the embeddings of the categorical ids are trained
(regularised, dropped, optimised, folded) or how long and at what learning rate the
model trains; everything else is the benchmark's protocol (``run.py``: the same seeded
80/10/10 splits, early stopping on the validation rows by AUC, patience 5, batch 4096).
Each variant is fitted on the same seeds as the ``base`` variant and compared with it
by the paired difference of test AUC.

Variants (``--variants``; each is a name from ``VARIANTS``):

- ``base``: the estimator's defaults.
- ``min_frequency=K``: ids seen fewer than K times in training share the unknown bucket.
- ``freq_l2=L``: a frequency-aware L2 penalty on the looked-up embeddings (DIN's
  mini-batch aware regularisation): each occurrence of id ``j`` in a batch adds
  ``L * ||e_j||^2 / n_j`` (``n_j`` its count in the training rows), so over an epoch
  every id is penalised about once, whatever its frequency, as in one-hot logistic
  regression's L2.
- ``emb_dropout=P``: during training each row's embedding of each field is zeroed with
  probability P (and the others scaled by 1 / (1 - P)).
- ``lazy_emb``: Adam without momentum for the embedding table (beta1 = 0), so ids absent
  from a batch are not moved by stale momentum (the dense-Adam drift of rare ids).
- ``emb_lr=F``: the embedding table's learning rate is F times the others'.
- ``adagrad_emb=LR``: the embedding table trained by Adagrad at learning rate LR (the
  classic CTR choice), the rest by Adam.
- ``lr_decay=G``: the learning rate multiplied by G after every epoch.
- ``warmup``: linear learning-rate warm-up over the first epoch, then ``lr_decay=0.7``.
- ``one_epoch=LR``: a single epoch at learning rate LR, no early stopping.
- ``backbone=NAME`` / ``batch_size=N``: another backbone (``wide_deep``: a first-order
  term beside the deep part) or batch size.
- ``wide_l2=L`` / ``wide_lr=F``: the same frequency-aware L2 on the wide part's per-id
  weights (``backbone=wide_deep``; ``L = 1 / (2 C)`` matches one-hot logistic
  regression's penalty), or the wide part's learning rate ``F`` times the others'.
- ``lr_init=C``: the wide part (``backbone=wide_deep``) starts at one-hot logistic
  regression's solution (``C``) on the training rows, then trains with the rest
  (``+wide_lr=0``: kept there).
- ``lr_offset=C``: the estimators' ``logistic_offset=C``: one-hot logistic regression
  (fitted on the training rows, then fixed) adds its logit to the network's, for any
  backbone: the network learns a residual.
- ``lr_stack=C``: the same with out-of-fold (5-fold) logits as the training rows' offsets.
- ``adapter_lr=F``: the adapters' and the hyper-network's learning rate F times the
  others' (as LoRA+ speeds up the zero-initialised factor).
- ``gamma_init=G``: the adapters' norm scale starts at G instead of 0 (0: the identity).
- ``hyper_ids=K``: the hyper-network's input without the fields of more than K ids
  (their embeddings zeroed there; the tower still sees them).
- ``set:NAME=VALUE`` / ``config:NAME=VALUE``: any estimator parameter (``set:n_adapters=2``,
  ``set:min_delta=0.001``), or any benchmark setting (``config:patience=10``).
- ``a+b``: variants ``a`` and ``b`` together.

Usage (from the repository root; runs append to a JSON-lines file, so two processes
can share the work and ``--report`` summarises what is there)::

    python benchmarks/sparse_ids.py --dataset douban --variants base freq_l2=1e-3 --seeds 3
    python benchmarks/sparse_ids.py --dataset douban --report
    python benchmarks/sparse_ids.py --study adapters --dataset adult --model hamur \
        --variants base set:n_adapters=2 adapter_lr=10 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import run
import torch
from _common import cpu_model, pipe_table, timestamp
from _models import epochs_of, neural_estimator
from skorch.callbacks import Callback

RESULTS = Path(__file__).resolve().parent / "results"


# -- the variants: skorch callbacks that change one aspect of training ---------------------


def _embedding_table(net):
    return run_module(net).embedding.embedding.weight


def run_module(net):
    from sklearn_hamur._distributed import plain_module

    return plain_module(net)


def _feature_table(net, part: str):
    """The embedding module of ``part``: the ids' embeddings, or the wide part's weights."""
    module = run_module(net)
    return module.embedding if part == "embedding" else module.wide.embedding


class FrequencyAwareL2(Callback):
    """Add the gradient of ``strength * sum over occurrences ||e_j||^2 / n_j``.

    ``part="wide"`` penalises the wide (first-order) part's per-id weights instead, the
    L2 of one-hot logistic regression.
    """

    def __init__(self, strength: float, part: str = "embedding") -> None:
        self.strength = strength
        self.part = part

    def on_train_begin(self, net, X=None, y=None, **kwargs) -> None:
        table = _feature_table(net, self.part)
        x_cat = X.X["x_cat"] + table.offsets
        counts = np.bincount(x_cat.reshape(-1).numpy(), minlength=table.embedding.num_embeddings)
        self.inverse_count_ = torch.as_tensor(1.0 / np.maximum(counts, 1), dtype=torch.float32)

    def on_grad_computed(self, net, named_parameters, batch=None, training=False, **kwargs) -> None:
        if not training:
            return
        table = _feature_table(net, self.part)
        weight = table.embedding.weight
        ids = (batch[0]["x_cat"].to(weight.device) + table.offsets).reshape(-1)
        rows = len(batch[0]["x_cat"])
        occurrences = torch.bincount(ids, minlength=weight.shape[0]).to(weight.dtype)
        scale = occurrences * self.inverse_count_.to(weight.device)
        # d/de of strength * sum_occ ||e||^2 / n, averaged over the batch's rows like the loss.
        weight.grad.add_(weight.detach() * (2 * self.strength / rows) * scale[:, None])


class EmbeddingDropout(Callback):
    """Zero whole field embeddings of training rows with probability ``p``."""

    def __init__(self, p: float) -> None:
        self.p = p

    def on_train_begin(self, net, **kwargs) -> None:
        table = run_module(net).embedding.embedding
        p = self.p

        def hook(module, inputs, output):
            if not module.training:
                return output
            keep = (torch.rand(output.shape[:-1], device=output.device) >= p).to(output.dtype)
            return output * keep.unsqueeze(-1) / (1 - p)

        self.handle_ = table.register_forward_hook(hook)

    def on_train_end(self, net, **kwargs) -> None:
        self.handle_.remove()


def _split_groups(net):
    """The optimizer's groups with the embedding table moved into a group of its own."""
    table = _embedding_table(net)
    groups = []
    for group in run_module(net).make_parameter_groups():
        params = [p for p in group["params"] if p is not table]
        groups.append({**group, "params": params})
    return groups, table


class EmbeddingOptimizer(Callback):
    """Rebuild Adam with the embedding table in its own group (betas / lr changed)."""

    def __init__(self, *, beta1: float | None = None, lr_factor: float = 1.0) -> None:
        self.beta1 = beta1
        self.lr_factor = lr_factor

    def on_train_begin(self, net, **kwargs) -> None:
        groups, table = _split_groups(net)
        emb = {"params": [table], "weight_decay": 0.0, "lr": net.lr * self.lr_factor}
        if self.beta1 is not None:
            emb["betas"] = (self.beta1, 0.999)
        net.optimizer_ = torch.optim.Adam(
            [*groups, emb], lr=net.lr, weight_decay=net.optimizer__weight_decay
        )


class WideOptimizer(Callback):
    """Rebuild Adam with the wide part's per-id weights in a group at ``lr * lr_factor``."""

    def __init__(self, lr_factor: float) -> None:
        self.lr_factor = lr_factor

    def on_train_begin(self, net, **kwargs) -> None:
        table = _feature_table(net, "wide").embedding.weight
        groups = []
        for group in run_module(net).make_parameter_groups():
            groups.append({**group, "params": [p for p in group["params"] if p is not table]})
        wide = {"params": [table], "weight_decay": 0.0, "lr": net.lr * self.lr_factor}
        net.optimizer_ = torch.optim.Adam(
            [*groups, wide], lr=net.lr, weight_decay=net.optimizer__weight_decay
        )


class TwoOptimizers:
    """Adam for the network, Adagrad for the embedding table, stepped together."""

    def __init__(self, adam, adagrad) -> None:
        self.adam, self.adagrad = adam, adagrad
        self.param_groups = adam.param_groups + adagrad.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.adam.zero_grad(set_to_none=set_to_none)
        self.adagrad.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        self.adam.step()
        self.adagrad.step()
        return loss

    def state_dict(self):
        return {"adam": self.adam.state_dict(), "adagrad": self.adagrad.state_dict()}

    def load_state_dict(self, state) -> None:
        self.adam.load_state_dict(state["adam"])
        self.adagrad.load_state_dict(state["adagrad"])


class AdagradEmbeddings(Callback):
    def __init__(self, lr: float) -> None:
        self.lr = lr

    def on_train_begin(self, net, **kwargs) -> None:
        groups, table = _split_groups(net)
        adam = torch.optim.Adam(groups, lr=net.lr, weight_decay=net.optimizer__weight_decay)
        net.optimizer_ = TwoOptimizers(adam, torch.optim.Adagrad([table], lr=self.lr))


class EpochLR(Callback):
    """Multiply the learning rate by ``decay`` after every epoch; optional warm-up."""

    def __init__(self, decay: float, warmup: bool = False) -> None:
        self.decay = decay
        self.warmup = warmup

    def on_train_begin(self, net, X=None, **kwargs) -> None:
        self.base_ = [group["lr"] for group in net.optimizer_.param_groups]
        self.epoch_ = 0
        self.step_ = 0
        self.warmup_steps_ = max(1, int(np.ceil(len(X) / net.batch_size)))

    def _set(self, net, factor: float) -> None:
        for group, base in zip(net.optimizer_.param_groups, self.base_):
            group["lr"] = base * factor

    def on_batch_begin(self, net, training=False, **kwargs) -> None:
        if training and self.warmup and self.epoch_ == 0:
            self.step_ += 1
            self._set(net, self.step_ / self.warmup_steps_)

    def on_epoch_end(self, net, **kwargs) -> None:
        self.epoch_ += 1
        self._set(net, self.decay**self.epoch_)


class AdapterOptimizer(Callback):
    """Rebuild Adam with the adapters and the hyper-network in a group at ``lr * lr_factor``."""

    def __init__(self, lr_factor: float) -> None:
        self.lr_factor = lr_factor

    def on_train_begin(self, net, **kwargs) -> None:
        module = run_module(net)
        adapted = {
            id(p)
            for name, p in module.named_parameters()
            if name.startswith(("adapters.", "hypernetwork."))
        }
        groups = []
        for group in module.make_parameter_groups():
            rest = [p for p in group["params"] if id(p) not in adapted]
            mine = [p for p in group["params"] if id(p) in adapted]
            groups.append({**group, "params": rest})
            groups.append({**group, "params": mine, "lr": net.lr * self.lr_factor})
        net.optimizer_ = torch.optim.Adam(
            groups, lr=net.lr, weight_decay=net.optimizer__weight_decay
        )


class AdapterScaleInit(Callback):
    """Start the adapters' norm scale (gamma) at ``value`` instead of 0."""

    def __init__(self, value: float) -> None:
        self.value = value

    def on_train_begin(self, net, **kwargs) -> None:
        with torch.no_grad():
            for adapter in getattr(run_module(net), "adapters", None) or []:
                adapter.domain_norm.weight.fill_(self.value)


class HyperInputWithoutIds(Callback):
    """The hyper-network sees no field of more than ``max_cardinality`` ids (zeroed).

    Its instance matrices then depend on the low-cardinality fields (gender, genre, ...)
    and the numbers only, not on memorised user or item ids.
    """

    def __init__(self, max_cardinality: int) -> None:
        self.max_cardinality = max_cardinality

    def on_train_begin(self, net, **kwargs) -> None:
        module = run_module(net)
        if module.hypernetwork is None:
            return
        keep = torch.ones(module.embedding.d_out)
        for j, cardinality in enumerate(module.cardinalities):
            if cardinality > self.max_cardinality:
                keep[j * module.d_embedding : (j + 1) * module.d_embedding] = 0.0
        self.handle_ = module.hypernetwork.register_forward_pre_hook(
            lambda _, inputs: (inputs[0] * keep.to(inputs[0].device), *inputs[1:])
        )


class LogisticInit(Callback):
    """Start the wide part at one-hot logistic regression's solution on the training rows.

    Its id and numeric weights become the wide part's, its intercept plus each domain's
    weight the bias of that domain's output head, so training starts from logistic
    regression plus the deep part's (small) initial output.
    """

    def __init__(self, C: float) -> None:
        self.C = C

    def on_train_begin(self, net, X=None, **kwargs) -> None:
        from sklearn_hamur._logistic_offset import fit_logistic_offset

        module = run_module(net)
        n_ids, n_domains = int(sum(module.cardinalities)), module.n_domains
        coef, intercept = fit_logistic_offset(
            X, cardinalities=module.cardinalities, n_domains=n_domains, C=self.C
        )
        with torch.no_grad():
            module.wide.embedding.embedding.weight[:, 0] = coef[:n_ids]
            module.heads.bias[:, 0] += coef[n_ids : n_ids + n_domains] + intercept
            if module.wide.numeric is not None:
                module.wide.numeric.weight[0] = coef[n_ids + n_domains :]


class OutOfFoldOffsets(Callback):
    """With ``logistic_offset=C``: out-of-fold offsets on the training rows (stacking).

    Each training row's offset is the logit of a logistic regression fitted on the other
    four fifths of the training rows, so the network fits honest residuals, not the
    in-sample ones of a model that has seen the row; other rows (validation, prediction)
    keep the model's offset, fitted on all training rows.
    """

    def __init__(self, C: float) -> None:
        self.C = C

    def on_train_begin(self, net, X=None, **kwargs) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import KFold, cross_val_predict

        from sklearn_hamur._logistic_offset import one_hot_design

        module = run_module(net)
        oof = cross_val_predict(
            LogisticRegression(C=self.C, max_iter=1000),
            one_hot_design(X, module.cardinalities, module.n_domains),
            X.y.numpy().astype(int),
            cv=KFold(5, shuffle=True, random_state=0),
            method="decision_function",
        )
        # Sliced with the rest of each training batch, then taken out before the forward.
        X.X["offset"] = torch.as_tensor(oof, dtype=torch.float32)
        given = {}

        def take_offset(_, args, kwargs):
            given["offset"] = kwargs.pop("offset", None)
            return args, kwargs

        def replace_offset(_, args, kwargs, output):
            if given["offset"] is None:
                return output
            full = module.linear_offset(kwargs["x_cat"], kwargs["x_num"], kwargs["domain"])
            return output + (given["offset"].to(output.device) - full).to(output.dtype)

        for handle in getattr(self, "handles_", []):
            handle.remove()
        self.handles_ = [
            module.register_forward_pre_hook(take_offset, with_kwargs=True),
            module.register_forward_hook(replace_offset, with_kwargs=True),
        ]


def _literal(value: str):
    import ast

    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def variant_settings(name: str) -> tuple[dict, list, dict]:
    """``(estimator params, extra callbacks, config overrides)`` of a variant name.

    ``a+b`` combines variants ``a`` and ``b``.
    """
    if "+" in name:
        params, callbacks, overrides = {}, [], {}
        for part in name.split("+"):
            p, c, o = variant_settings(part)
            params, callbacks, overrides = {**params, **p}, callbacks + c, {**overrides, **o}
        return params, callbacks, overrides
    key, _, value = name.partition("=")
    if key == "backbone":
        return {"backbone": value}, [], {}
    if key == "batch_size":
        return {}, [], {"batch_size": int(value)}
    if key == "base":
        return {}, [], {}
    if key == "min_frequency":
        return {"min_frequency": int(value)}, [], {}
    if key == "freq_l2":
        return {}, [("freq_l2", FrequencyAwareL2(float(value)))], {}
    if key == "wide_l2":
        return {}, [("wide_l2", FrequencyAwareL2(float(value), part="wide"))], {}
    if key == "emb_dropout":
        return {}, [("emb_dropout", EmbeddingDropout(float(value)))], {}
    if key == "lazy_emb":
        return {}, [("emb_opt", EmbeddingOptimizer(beta1=0.0))], {}
    if key == "emb_lr":
        return {}, [("emb_opt", EmbeddingOptimizer(lr_factor=float(value)))], {}
    if key == "adagrad_emb":
        return {}, [("emb_opt", AdagradEmbeddings(float(value)))], {}
    if key == "lr_decay":
        return {}, [("lr_decay", EpochLR(float(value)))], {}
    if key == "warmup":
        return {}, [("lr_decay", EpochLR(0.7, warmup=True))], {}
    if key == "one_epoch":
        return {"lr": float(value)}, [], {"max_epochs": 1}
    if key == "lr_init":
        return {}, [("lr_init", LogisticInit(float(value)))], {}
    if key == "lr_offset":  # the estimators' own option
        return {"logistic_offset": float(value)}, [], {}
    if key == "lr_stack":
        return {"logistic_offset": float(value)}, [("lr_stack", OutOfFoldOffsets(float(value)))], {}
    if key == "wide_lr":
        return {}, [("wide_opt", WideOptimizer(float(value)))], {}
    if key == "adapter_lr":
        return {}, [("adapter_opt", AdapterOptimizer(float(value)))], {}
    if key == "hyper_ids":
        return {}, [("hyper_ids", HyperInputWithoutIds(int(value)))], {}
    if key == "gamma_init":
        return {}, [("gamma_init", AdapterScaleInit(float(value)))], {}
    if key.startswith("set:"):
        # Any estimator parameter: ``set:n_adapters=2``, ``set:hidden_units=(256,128)``.
        return {key[4:]: _literal(value)}, [], {}
    if key.startswith("config:"):
        return {}, [], {key[7:]: _literal(value)}
    raise ValueError(f"unknown variant {name!r}")


def fit_variant(model: str, variant: str, config: dict, seed: int, data: dict) -> dict:
    params, callbacks, overrides = variant_settings(variant)
    config = {**config, **overrides}
    base = run.parse_model(model)[0]
    config[base] = {**config[base], **params}
    estimator = neural_estimator(
        model,
        config,
        seed,
        data["X_valid"],
        data["y_valid"],
        data["categorical"],
        data["numeric"],
    )
    if config["max_epochs"] == 1:
        # One epoch: nothing to stop; keep the benchmark's scoring for the record.
        estimator.set_params(callbacks=[estimator.callbacks[0]] + callbacks)
    else:
        estimator.set_params(callbacks=list(estimator.callbacks) + callbacks)
    start = time.perf_counter()
    estimator.fit(data["X_train"], data["y_train"], X_val=data["X_valid"], y_val=data["y_valid"])
    fit_s = time.perf_counter() - start
    proba = estimator.predict_proba(data["X_test"])[:, 1]
    from sklearn.metrics import roc_auc_score

    return {
        "model": model,
        "variant": variant,
        "seed": seed,
        "fit_s": fit_s,
        **epochs_of(estimator),
        "auc": float(roc_auc_score(data["y_test"], proba)),
    }


#: The results files' name: ``--study adapters`` keeps another study's runs apart.
STUDY = {"name": "sparse-ids"}
#: The report's title of each study.
STUDIES = {
    "sparse-ids": "Sparse-id variants",
    "adapters": "Adapter, early-stopping and wide-part variants",
    "blend-adapters": "Adapter sizes under the logistic blend (the default)",
}


def log_path(dataset: str) -> Path:
    return RESULTS / f"{STUDY['name']}-{dataset}.jsonl"


def reference_lines(dataset: str, seeds: list[int]) -> list[str]:
    """The committed benchmark's other models on the same seeds, for scale."""
    path = RESULTS / f"{dataset}.json"
    if not path.is_file():
        return []
    runs = json.loads(path.read_text())["runs"]
    cells = []
    for model in ("hamur", "mlp", "logreg", "hgb"):
        aucs = [r["auc"] for r in runs if r["model"] == model and r["seed"] in seeds]
        if len(aucs) == len(seeds):
            cells.append(f"`{model}` {np.mean(aucs):.4f}")
    if not cells:
        return []
    return [
        f"For scale, the committed benchmark ([{dataset}.md]({dataset}.md)) on the same "
        f"seeds: {', '.join(cells)} (`mlp` is the `base` model here, fitted again).",
        "",
    ]


def report(dataset: str) -> str:
    from scipy import stats

    runs = [json.loads(line) for line in log_path(dataset).read_text().splitlines() if line]
    lines = [
        f"# {STUDIES.get(STUDY['name'], 'Variants')}: {dataset}",
        "",
        "Test AUC of one change at a time to the model or its training "
        "(`benchmarks/sparse_ids.py`, which lists the variants), on the benchmark's seeded "
        "80/10/10 splits; the difference is the variant minus `base` (the same model at its "
        "defaults), paired by seed: mean ± std (seeds where the variant is higher / seeds), "
        "two-sided paired t-test p-value.",
        "",
    ]
    for model in dict.fromkeys(r["model"] for r in runs):
        mine = [r for r in runs if r["model"] == model]
        base = {r["seed"]: r["auc"] for r in mine if r["variant"] == "base"}
        rows = []
        for variant in dict.fromkeys(r["variant"] for r in mine):
            got = {r["seed"]: r for r in mine if r["variant"] == variant}
            seeds = sorted(set(got) & set(base))
            auc = np.array([got[s]["auc"] for s in sorted(got)])
            diff = np.array([got[s]["auc"] - base[s] for s in seeds])
            if variant == "base" or len(seeds) < 2:
                delta = "-"
            else:
                p = stats.ttest_rel([got[s]["auc"] for s in seeds], [base[s] for s in seeds]).pvalue
                delta = (
                    f"{diff.mean():+.4f} ± {diff.std(ddof=1):.4f} "
                    f"({int((diff > 0).sum())}/{len(seeds)}, p={p:.2f})"
                )
            epochs = np.mean([got[s]["best_epoch"] or np.nan for s in got])
            fit_s = np.mean([got[s]["fit_s"] for s in got])
            spread = f" ± {auc.std(ddof=1):.4f}" if len(auc) > 1 else ""
            rows.append(
                [
                    f"`{variant}`",
                    f"{auc.mean():.4f}{spread}",
                    delta,
                    f"{epochs:.1f}",
                    f"{fit_s:.0f}",
                ]
            )
        lines += [
            f"## {model}",
            "",
            pipe_table(["variant", "test AUC", "variant − base", "best epoch", "fit s"], rows),
            "",
        ]
    lines += reference_lines(dataset, sorted({r["seed"] for r in runs}))
    lines.append(f"Machine: {cpu_model()}, 1 thread per process; {timestamp()}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="douban", choices=run.DATASETS)
    parser.add_argument("--model", default="mlp", help="a run.py neural model name")
    parser.add_argument("--variants", nargs="*", default=["base"])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--data-dir", type=Path, default=run.DEFAULT_DATA_DIR)
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--study", default="sparse-ids", help="results file name prefix")
    args = parser.parse_args(argv)
    STUDY["name"] = args.study
    if args.report:
        text = report(args.dataset)
        (RESULTS / f"{args.study}-{args.dataset}.md").write_text(text)
        print(text)
        return
    torch.set_num_threads(1)
    config = run.validate_config({**run.DEFAULT_CONFIG, "dataset": args.dataset})
    dataset = run.prepare(config, args.data_dir)
    for seed in args.seeds:
        data = run.seed_data(dataset, config, seed)
        for variant in args.variants:
            result = fit_variant(args.model, variant, config, seed, data)
            print(json.dumps(result), flush=True)
            with log_path(args.dataset).open("a") as f:
                f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
