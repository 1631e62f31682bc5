"""Tests of benchmarks/run.py: config validation, the split, the comparison, one tiny run."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
RUN_SCRIPT = REPO_ROOT / "benchmarks" / "run.py"
SHARED_DATA = Path(os.environ.get("SKLEARN_HAMUR_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="module")
def run():
    """benchmarks/run.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("benchmark_run", RUN_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_from(run, tmp_path, content: dict, *flags: str) -> dict:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    return run.build_config(run.parse_args(["--config", str(path), *flags]))


def test_defaults_are_valid_and_flags_override_the_file(run, tmp_path):
    config = config_from(run, tmp_path, {"seeds": 2, "hamur": {"adapter_rank": 8}}, "--seeds", "3")
    assert config["seeds"] == 3
    assert config["hamur"] == {"adapter_rank": 8}
    assert config["logreg"]["C"] == run.DEFAULT_CONFIG["logreg"]["C"]
    assert run.validate_config(dict(run.DEFAULT_CONFIG)) is not None


def test_unknown_keys_are_rejected_with_a_suggestion(run, tmp_path):
    with pytest.raises(ValueError, match=r"unknown key 'max_epoch'.*Did you mean 'max_epochs'"):
        config_from(run, tmp_path, {"max_epoch": 3})
    with pytest.raises(ValueError) as info:
        config_from(
            run,
            tmp_path,
            {"hamur": {"adapter_rnk": 8}, "hgb": {"max_iters": 5}, "models": ["hamur", "xgb"]},
        )
    message = str(info.value)
    assert "unknown key 'adapter_rnk' in 'hamur'. Did you mean 'adapter_rank'?" in message
    assert "unknown key 'max_iters' in 'hgb'" in message
    assert "unknown key 'xgb' in models" in message


def test_bad_values_are_rejected(run, tmp_path):
    with pytest.raises(ValueError) as info:
        config_from(
            run, tmp_path, {"split": [0.8, 0.3, 0.1], "seeds": 0, "hamur": {"random_state": 1}}
        )
    message = str(info.value)
    assert "split must be three positive fractions summing to 1" in message
    assert "seeds must be an int >= 1; got 0" in message
    assert "unknown key 'random_state' in 'hamur'" in message  # the runner sets it


def test_split_is_random_disjoint_and_seeded(run):
    train, valid, test = run.split_rows(1_000, [0.8, 0.1, 0.1], seed=3)
    assert (len(train), len(valid), len(test)) == (800, 100, 100)
    assert len(np.unique(np.concatenate([train, valid, test]))) == 1_000
    again = run.split_rows(1_000, [0.8, 0.1, 0.1], seed=3)
    np.testing.assert_array_equal(train, again[0])
    assert not np.array_equal(train, run.split_rows(1_000, [0.8, 0.1, 0.1], seed=4)[0])
    rows = run.subsample_rows(1_000, 300, seed=0)
    assert len(rows) == 300 and np.all(np.diff(rows) > 0)


def test_paired_comparison_verdicts(run):
    def runs(model, aucs):
        return [
            {"model": model, "seed": s, "auc": a, "auc_per_domain": [a, math.nan]}
            for s, a in enumerate(aucs)
        ]

    hamur = runs("hamur", [0.80, 0.81, 0.82, 0.80, 0.81])
    better = runs("mlp", [0.70, 0.71, 0.70, 0.72, 0.70])
    noisy = runs("hgb", [0.79, 0.83, 0.80, 0.82, 0.80])
    win = run.paired_comparison(hamur + better, "mlp", n_domains=2)
    assert win["auc"]["verdict"] == "win" and win["auc"]["wins"] == 5
    assert win["auc"]["mean"] == pytest.approx(0.102)
    assert win["auc_per_domain"][1]["n"] == 0  # NaN AUCs (one class) are left out
    assert run.paired_comparison(hamur + noisy, "hgb", n_domains=2)["auc"]["verdict"] == "tie"
    loss = run.paired_comparison(runs("hamur", [0.69] * 5) + better, "mlp", n_domains=2)
    assert loss["auc"]["verdict"] == "loss"


@pytest.mark.skipif(
    not (SHARED_DATA / "movielens-100k").is_dir(), reason="shared MovieLens-100K not found"
)
def test_tiny_run_end_to_end_writes_json_markdown_and_png(tmp_path):
    config = {
        "dataset": "movielens-100k",
        "models": ["hamur", "logreg"],
        "seeds": 1,
        "max_epochs": 1,
        "subsample": 3_000,
        "logreg": {"C": [1.0]},
    }
    (tmp_path / "tiny.json").write_text(json.dumps(config))
    command = [
        sys.executable,
        str(RUN_SCRIPT),
        "--config",
        str(tmp_path / "tiny.json"),
        "--data-dir",
        str(SHARED_DATA),
        "--output-dir",
        str(tmp_path / "results"),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "[2/2 fits" in completed.stderr  # the progress lines (no terminal here)

    out = tmp_path / "results"
    results = json.loads((out / "movielens-100k.json").read_text())
    assert results["data"]["rows"] == 3_000
    assert results["data"]["domain_names"] == ["under 25", "25-34", "35 and over"]
    assert sum(results["data"]["rows_per_domain"]) == 3_000
    assert [(r["model"], r["seed"]) for r in results["runs"]] == [("hamur", 0), ("logreg", 0)]
    hamur = results["runs"][0]
    assert hamur["epochs"] == 1 and hamur["best_epoch"] == 1 and hamur["fit_s"] > 0
    # The validation rows reach the estimator, which chose its blend weight on them.
    assert 0.0 <= hamur["logistic_blend_weight"] <= 1.0
    for r in results["runs"]:
        assert 0.5 < r["auc"] < 1 and 0 < r["logloss"] < 1
        assert len(r["auc_per_domain"]) == 3 and len(r["logloss_per_domain"]) == 3
    assert set(results["summary"]) == {"hamur", "logreg"}
    assert results["summary"]["hamur"]["auc"]["mean"] == pytest.approx(hamur["auc"])
    assert results["hamur_vs"]["logreg"]["auc"]["verdict"] == "n/a (one seed)"

    markdown = (out / "movielens-100k.md").read_text()
    assert "| HAMURClassifier |" in markdown and "| LogisticRegression (one-hot) |" in markdown
    assert (
        "AUC 35 and over" in markdown and "![per-domain test AUC](movielens-100k.png)" in markdown
    )
    assert (out / "movielens-100k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_invalid_config_exits_with_the_message(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"sedes": 2}))
    command = [sys.executable, str(RUN_SCRIPT), "--config", str(tmp_path / "bad.json")]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1
    assert "unknown key 'sedes'" in completed.stderr and "Did you mean 'seeds'?" in completed.stderr


def test_backbone_model_names_are_validated(run, tmp_path):
    config = config_from(run, tmp_path, {"models": ["hamur", "mlp", "hamur:dcn", "mdc:dcn"]})
    # Plain "hamur" / "mlp" train the estimators' default backbone.
    default = ["shared_mlp", "shared_mlp", "dcn", "dcn"]
    assert [run.backbone_of(m, config) for m in config["models"]] == default
    assert run.parse_model("mdc:ple") == ("mlp", "ple")
    assert run.adapter_pairs(config["models"], config) == {
        "shared_mlp": ("hamur", "mlp"),
        "dcn": ("hamur:dcn", "mdc:dcn"),
    }
    with pytest.raises(ValueError) as info:
        # "mlp" is MultiDomainClassifier at its defaults: the default backbone, shared_mlp.
        models = ["hamur:dnc", "xyz:mlp", "mlp", "mdc:shared_mlp"]
        config_from(run, tmp_path, {"models": models})
    message = str(info.value)
    assert "unknown backbone 'dnc' in model 'hamur:dnc'. Did you mean hamur:dcn?" in message
    assert "Valid backbones: shared_mlp, mlp, wide_deep, dcn, dcn_v2, deepfm" in message
    assert "unknown model family 'xyz'" in message
    assert "models 'mlp' and 'mdc:shared_mlp' are the same model" in message
    with pytest.raises(ValueError, match="sets backbone 'mmoe'; drop one"):
        config_from(run, tmp_path, {"models": ["hamur:dcn"], "hamur": {"backbone": "mmoe"}})


@pytest.mark.skipif(
    not (SHARED_DATA / "movielens-100k").is_dir(), reason="shared MovieLens-100K not found"
)
def test_tiny_backbone_run_end_to_end_pairs_hamur_with_its_backbone(run, tmp_path):
    out = tmp_path / "results"
    command = [
        sys.executable,
        str(RUN_SCRIPT),
        "--models",
        "hamur:dcn,mdc:dcn",
        "--seeds",
        "1",
        "--max-epochs",
        "1",
        "--subsample",
        "2000",
        "--data-dir",
        str(SHARED_DATA),
        "--output-dir",
        str(out),
        "--name",
        "tiny-backbones",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads((out / "tiny-backbones.json").read_text())
    assert [r["model"] for r in results["runs"]] == ["hamur:dcn", "mdc:dcn"]
    assert all(r["epochs"] == 1 and len(r["auc_per_domain"]) == 3 for r in results["runs"])
    effect = results["adapter_effect"]["dcn"]
    assert (effect["hamur"], effect["no_adapter"]) == ("hamur:dcn", "mdc:dcn")
    runs = {r["model"]: r for r in results["runs"]}
    assert effect["auc"]["mean"] == pytest.approx(runs["hamur:dcn"]["auc"] - runs["mdc:dcn"]["auc"])
    assert results["hamur_vs"] == {}  # no plain "hamur" model
    assert not (out / "tiny-backbones.partial.json").exists()
    markdown = (out / "tiny-backbones.md").read_text()
    assert "| HAMURClassifier (dcn) |" in markdown and "| `dcn` |" in markdown
    assert "Adapters per backbone" in markdown

    # Result files of the same protocol (e.g. run in parallel) merge into one report.
    renamed = json.loads(json.dumps(results).replace("dcn", "mlp"))
    both = run.merge_results([results, renamed])
    assert both["config"]["models"] == ["hamur:dcn", "mdc:dcn", "hamur:mlp", "mdc:mlp"]
    assert set(both["adapter_effect"]) == {"dcn", "mlp"} and len(both["runs"]) == 4
    assert both["summary"]["mdc:mlp"]["auc"]["mean"] == pytest.approx(runs["mdc:dcn"]["auc"])
    with pytest.raises(ValueError, match="more than one results file"):
        run.merge_results([results, results])


def _paired_runs():
    spec = importlib.util.spec_from_file_location(
        "paired_runs", REPO_ROOT / "benchmarks" / "paired_runs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _results(aucs: dict, **config) -> dict:
    runs = [
        {"model": m, "seed": s, "auc": a, "logloss": 0.5 - a / 10, "auc_per_domain": [a]}
        for m, values in aucs.items()
        for s, a in enumerate(values)
    ]
    return {
        "dataset": "toy",
        "config": {"dataset": "toy", "split": [0.8, 0.1, 0.1], "models": list(aucs), **config},
        "data": {"rows": 10, "domain_names": ["a"]},
        "machine": {"date": "today"},
        "runs": runs,
    }


def test_paired_runs_pairs_each_model_with_itself_by_seed():
    paired = _paired_runs()
    before = _results({"hamur": [0.70, 0.71, 0.72], "logreg": [0.6, 0.6, 0.6]})
    after = _results({"hamur": [0.72, 0.731, 0.739, 0.9]})  # a fourth seed has no pair
    for run in after["runs"]:
        run["logistic_blend_weight"] = 0.25
    (row,) = paired.compare_runs(before, after)
    assert row[:3] == ["`hamur`", "0.7100", "0.7300"]  # means over the 3 paired seeds
    assert row[3].startswith("+0.0200 ± 0.0010 (3/3, p=") and row[3].endswith("win")
    assert row[4].endswith("win")  # lower log loss on every seed
    assert row[5] == "0.25 to 0.25"
    with pytest.raises(SystemExit, match="differ in their data or protocol"):
        paired.compare_runs(before, _results({"hamur": [0.7]}, patience=9))
