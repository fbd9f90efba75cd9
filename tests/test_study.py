"""The study runner (studylib.study): its notebooks, its real-data mode, its MPII check, the
titles of executed copies, and the refusal of a GPU profile without a GPU."""

import json
from pathlib import Path

import pytest

from helpers import require_real_data
from studylib import study
from studylib.data.real import DataNotFoundError


def test_every_experiment_notebook_is_registered_once():
    notebooks = sorted(p.stem for p in (Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
    assert sorted(study.NOTEBOOKS) == notebooks
    assert set(study.REAL) <= set(study.NOTEBOOKS)


def test_real_mode_without_data_names_the_setting(monkeypatch):
    monkeypatch.delenv("STUDYLIB_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="STUDYLIB_DATA"):
        study.main(["--real", "--lanes", "1"])


def test_unknown_notebook_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such notebook"):
        study.run_notebook("nonesuch", "smoke", False, tmp_path)


def test_mpii_check_record(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDYLIB_DATA", str(require_real_data("mpii")))
    path = study.write_mpii_check(tmp_path)
    check = json.loads(path.read_text())
    assert check["max_per_joint_difference"] < 1e-6
    assert check["table_ours"]["Total"] == pytest.approx(check["table_standard"]["Mean"])
    assert "git_commit" in check["provenance"]


def test_executed_copies_on_real_data_say_so_in_their_title(tmp_path):
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    path = tmp_path / "nb.ipynb"
    notebook = new_notebook(cells=[new_markdown_cell("# Freezing phases\n\nText.")])
    nbformat.write(notebook, path)
    study.name_dataset(path, "lsp")
    study.name_dataset(path, "lsp")  # idempotent
    assert nbformat.read(path, as_version=4).cells[0].source == "# Freezing phases (LSP)\n\nText."


def test_a_gpu_profile_without_a_gpu_is_refused_with_its_reason(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit):
        study.main(["--profile", "full"])
    assert "sized for a GPU" in capsys.readouterr().err


def test_the_study_runs_the_extras_only_when_asked():
    assert study.EXTRAS == ("heatmap_sigma",)
    trained, executed = study.chosen_notebooks(study.NOTEBOOKS)
    assert "heatmap_sigma" not in trained and "freezing_phases" in trained
    # ... but executes its notebook, which reads its records and links the shared ones anew
    assert executed == trained + ["heatmap_sigma"]
    trained, executed = study.chosen_notebooks(study.NOTEBOOKS, extras=True)
    assert trained == executed == list(study.NOTEBOOKS)
    only = study.chosen_notebooks(study.NOTEBOOKS, only=["heatmap_sigma"])
    assert only == (["heatmap_sigma"], ["heatmap_sigma"])
    real = study.chosen_notebooks(tuple(study.REAL))
    assert real[0] == real[1] == list(study.REAL)  # no extras among the real-data notebooks


def test_extras_whose_records_are_stale_are_trained_in_the_pool(tmp_path, monkeypatch):
    import pandas as pd

    from studylib import results

    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    trained, executed = study.chosen_notebooks(study.NOTEBOOKS)
    planned = study.EXPERIMENTS["heatmap_sigma"].runs("quick")
    stale = study.stale_extra_runs(executed, trained, "quick", {})
    assert [run.label for run in stale] == [run.label for run in planned]  # no records yet
    # A record of the run's current config is read, not trained; one of an older config is not.
    current, older = planned[0], planned[1]
    for run, config in ((current, current.config), (older, older.config.replace(lr_drops=(0.6,)))):
        results.write_record(
            run.folder(tmp_path),
            config.to_dict(),
            {"pckh": 50.0},
            pd.DataFrame({"epoch": [1]}),
            pd.DataFrame({"sample": [0]}),
            {"device": "cpu"},
        )
    stale = study.stale_extra_runs(executed, trained, "quick", {})
    assert current.label not in [run.label for run in stale]
    assert older.label in [run.label for run in stale]
    assert study.stale_extra_runs(executed, executed, "quick", {}) == []  # all trained anyway


def test_zero_lanes_is_refused_not_replaced_by_the_default(capsys):
    with pytest.raises(SystemExit):
        study.main(["--lanes", "0"])
    assert "--lanes must be >= 1, got 0" in capsys.readouterr().err
