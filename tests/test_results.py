"""Run records: atomic files, completion, reading back."""

import json
import os

import pandas as pd
import pytest

from studylib import results
from studylib.io import atomic_path, read_json, write_json
from studylib.stats import mean_ci, paired_bootstrap


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


def test_failed_atomic_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "record.json"
    write_json(target, {"old": True})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"new": ')
        raise RuntimeError("killed mid-write")
    assert read_json(target) == {"old": True}
    assert os.listdir(tmp_path) == ["record.json"]


def test_malformed_json_names_the_file(tmp_path):
    bad = tmp_path / "metrics.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="metrics.json: malformed JSON"):
        read_json(bad)


def test_run_dir_rejects_paths():
    with pytest.raises(ValueError, match="setting must be a plain folder name"):
        results.run_dir("r", "abl", "synthetic", "../x", 0)


def test_results_root_setting(tmp_path, monkeypatch):
    monkeypatch.delenv(results.RESULTS_ENV, raising=False)
    assert results.results_root("quick", tmp_path) == tmp_path
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path / "env"))
    assert results.results_root("smoke") == tmp_path / "env"


def test_mean_ci_uses_student_t():
    interval = mean_ci([1.0, 2.0, 3.0])
    assert interval.estimate == 2.0
    assert interval.half_width == pytest.approx(4.302653 * 1.0 / 3**0.5, rel=1e-5)
    assert mean_ci([5.0]).format() == "5.0"
    assert interval.format() == "2.0 ± 2.5"


def test_paired_bootstrap_sees_a_consistent_difference():
    a = [0.5 + 0.01 * i for i in range(100)]
    b = [x - 0.1 for x in a]
    interval = paired_bootstrap(a, b)
    assert interval.estimate == pytest.approx(0.1)
    assert interval.excludes(0.0)
    noise = paired_bootstrap([1, -1] * 50, [0] * 100)
    assert not noise.excludes(0.0)


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


def test_record_provenance_groups_seeds_and_marks_dirty_code(tmp_path):
    from studylib import report

    for seed, dirty in ((0, False), (1, True)):
        folder = results.run_dir(tmp_path, "freezing", "synthetic", "acnn-A-B-C", seed)
        prov = {
            "git_commit": "0123456789abcdef",
            "git_dirty": dirty,
            "device_name": "cpu",
            "torch_version": "2.13.0",
            "wall_time_s": 60.0,
        }
        results.write_record(
            folder, {"profile": "quick"}, {"pckh": 1.0}, pd.DataFrame(), pd.DataFrame(), prov
        )
    table = report.record_provenance(results.find_runs(tmp_path))
    row = table.loc[("freezing", "synthetic", "acnn-A-B-C")]
    assert row["commit"] == "0123456789, 0123456789+dirty"
    assert (row["profile"], row["seeds"], row["minutes"]) == ("quick", 2, 2.0)
    assert report.record_provenance([]).empty
