"""Run records (studylib.results): writing and reading them back, completion, plain JSON, the
results root, whether the code is dirty, and the provenance a record keeps."""

import json
from pathlib import Path

import pandas as pd
import pytest

from studylib import cpu_kernels, results


def write_run(root, setting, seed, value, config=None):
    folder = results.run_dir(root, "ablation", "synthetic", setting, seed)
    results.write_record(
        folder,
        config or {"seed": seed, "setting": setting},
        {"pckh": value, "table": {"Head": value}},
        pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5]}),
        pd.DataFrame({"sample": [0, 1], "err": [0.1, 0.2]}),
        {"device": "cpu"},
    )
    return folder


def test_record_round_trip(tmp_path):
    folder = write_run(tmp_path, "a", 0, 50.0)
    assert sorted(p.name for p in folder.iterdir()) == sorted(results.RECORD_FILES)
    assert results.is_complete(folder, {"seed": 0, "setting": "a"})
    assert not results.is_complete(folder, {"seed": 0, "setting": "b"})
    write_run(tmp_path, "a", 1, 60.0)
    write_run(tmp_path, "b", 0, 70.0)
    runs = results.find_runs(tmp_path, "ablation")
    metrics = results.load_metrics(runs)
    assert sorted(metrics["setting"] + metrics["seed"].astype(str)) == ["a0", "a1", "b0"]
    assert results.load_table(runs, "table")["Head"].sum() == 180.0
    history = results.load_csvs(runs, "history.csv")
    assert len(history) == 6 and list(history.columns[:4]) == [
        "ablation",
        "dataset",
        "setting",
        "seed",
    ]
    assert results.find_runs(tmp_path, dataset="lsp") == []


def test_a_run_without_metrics_is_not_complete(tmp_path):
    folder = write_run(tmp_path, "a", 0, 50.0)
    (folder / "metrics.json").unlink()
    assert not results.is_complete(folder, {"seed": 0, "setting": "a"})
    assert results.find_runs(tmp_path) == []


def test_run_dir_rejects_paths():
    with pytest.raises(ValueError, match="setting must be a plain folder name"):
        results.run_dir("r", "abl", "synthetic", "../x", 0)


def test_results_root_setting(tmp_path, monkeypatch):
    monkeypatch.delenv(results.RESULTS_ENV, raising=False)
    assert results.results_root("quick", tmp_path) == tmp_path
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path / "env"))
    assert results.results_root("smoke") == tmp_path / "env"


def test_records_are_plain_json(tmp_path):
    folder = write_run(tmp_path, "a", 0, 50.0, config={"seed": 0, "tuple": (1, 2)})
    assert json.loads((folder / "config.json").read_text())["tuple"] == [1, 2]
    assert results.is_complete(folder, {"seed": 0, "tuple": (1, 2)})


def test_rewritten_records_do_not_make_the_code_dirty(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "metrics.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert results.git_dirty(tmp_path) is False
    (tmp_path / "results" / "metrics.json").write_text('{"pckh": 1}')
    assert results.git_dirty(tmp_path) is False  # a study rewrote a committed record
    (tmp_path / "code.py").write_text("x = 2\n")
    assert results.git_dirty(tmp_path / "results") is True  # from any folder of the checkout


def test_provenance_records_the_kernel_settings():
    from studylib.results import provenance

    kernels = provenance("cpu", 1.0)["cpu_kernels"]
    assert {"choice", *cpu_kernels.CPU_KERNEL_VARIABLES} <= set(kernels)
    assert kernels["aten_capability"]
    assert "cpu_model" in kernels and "cpu_vector_isa" in kernels


def test_a_record_folder_is_shown_relative_to_the_project(tmp_path):
    inside = results.project_root() / "results" / "freezing" / "synthetic"
    assert results.shown_path(inside) == Path("results/freezing/synthetic")
    assert results.shown_path(tmp_path / "elsewhere") == tmp_path / "elsewhere"
