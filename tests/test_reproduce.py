"""The re-run check (python -m studylib.reproduce) on tiny records made here."""

from __future__ import annotations

import shutil

import pytest

from helpers import TINY_FACE
from studylib import reproduce
from studylib.config import FaceConfig, PoseConfig
from studylib.face import run_face
from studylib.io import read_json, write_json


@pytest.fixture(scope="module")
def face_record(tmp_path_factory):
    """One real tiny face run's record (trained once for the module)."""
    root = tmp_path_factory.mktemp("face-record")
    config = FaceConfig.from_profile("smoke", **TINY_FACE)
    return run_face(config, root, "reduction_ratio", "adm-r8", progress=False)


def copy_record(source, root, ablation, dataset, setting, seed=0, config=None, metrics=None):
    """A copy of ``source`` at ``root/ablation/dataset/setting/seed<k>`` with changes."""
    folder = root / ablation / dataset / setting / f"seed{seed}"
    shutil.copytree(source, folder)
    if config is not None:
        write_json(folder / "config.json", config(read_json(folder / "config.json")))
    if metrics is not None:
        write_json(folder / "metrics.json", metrics(read_json(folder / "metrics.json")))
    return folder


def fake_pose_record(root, ablation, setting, seed=0, dataset="synthetic", **changes):
    """A pose record that is never trained here (for sampling and planning)."""
    folder = root / ablation / dataset / setting / f"seed{seed}"
    folder.mkdir(parents=True)
    config = PoseConfig.from_profile("smoke", seed=seed, dataset=dataset).to_dict()
    write_json(folder / "config.json", {**config, **changes})
    write_json(folder / "metrics.json", {"pckh": 10.0, "pckh_auc": 0.1})
    write_json(folder / "provenance.json", {"device": "cpu", "cpu_threads": 1})
    return folder


def test_rerun_matches_its_record_and_reports_a_changed_one(face_record, tmp_path, capsys):
    root = tmp_path / "results"
    same = copy_record(face_record, root, "reduction_ratio", "synthetic", "adm-r8")
    shifted = copy_record(
        face_record,
        root,
        "attention_order",
        "synthetic",
        "channel-spatial",
        metrics=lambda m: {**m, "nme": m["nme"] + 0.01},
    )
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    output = tmp_path / "check.json"
    status = reproduce.main(["--records", str(same), str(shifted), "--output", str(output)])
    assert status == 1  # one record differs beyond the (zero) tolerance
    check = read_json(output)
    by_setting = {entry["setting"]: entry for entry in check["records"]}
    assert by_setting["adm-r8"]["difference"] == {"nme": 0.0}
    assert by_setting["channel-spatial"]["difference"]["nme"] == pytest.approx(-0.01)
    assert check["summary"]["identical"] == 1 and check["summary"]["beyond_tolerance"] == 1
    assert check["git_commit"] == reproduce_commit()
    assert check["machine"]["cpu_kernels"]["aten_capability"]
    assert {"time", "machine", "records", "summary"} <= set(check)
    printed = capsys.readouterr().out
    assert "adm-r8" in printed and "(-1.0000)" in printed  # NME printed in points
    # the re-runs went to a temporary root: the records are untouched
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert reproduce.main(["--records", str(same), "--output", str(output)]) == 0


def reproduce_commit():
    from studylib.results import git_commit

    return git_commit()


def test_dry_run_lists_the_stratified_sample(tmp_path, capsys):
    root = tmp_path / "results"
    for seed in range(3):
        fake_pose_record(root, "freezing", "no-attention", seed=seed)
        fake_pose_record(root, "freezing", "acnn-joint", seed=seed, attention="acnn")
        fake_pose_record(root, "baseline", "hourglass", seed=seed)  # the same runs, linked
    fake_pose_record(root, "freezing", "no-attention", dataset="lsp")
    sweep = root / "robustness" / "synthetic" / "pose-acnn" / "seed0"
    sweep.mkdir(parents=True)
    write_json(sweep / "config.json", {"track": "pose", "source": "x"})
    write_json(sweep / "metrics.json", {})

    found = reproduce.find_records(root)
    assert sweep not in found and len(found) == 10
    sample = reproduce.sample_records(found, per_stratum=2, seed=0)
    strata = [(f.parts[-4], f.parts[-3]) for f in sample]
    assert strata.count(("freezing", "synthetic")) == 2 and ("freezing", "lsp") in strata
    configs = [str(sorted(read_json(f / "config.json").items())) for f in sample]
    assert len(set(configs)) == len(configs)  # a linked run is drawn once
    assert reproduce.sample_records(found, 2, seed=0) == sample  # the sample is reproducible
    assert len(reproduce.sample_records(found, per_stratum=1)) == 3

    output = tmp_path / "check.json"
    status = reproduce.main(["--results", str(root), "--dry-run", "--output", str(output)])
    assert status == 0 and not output.exists()
    printed = capsys.readouterr().out
    assert "freezing/synthetic/" in printed and "baseline/synthetic/hourglass" in printed
    assert "needs lsp" in printed or "needs lspet" in printed or "pose on cpu" in printed


def test_old_configs_are_named_not_guessed(tmp_path, monkeypatch):
    monkeypatch.delenv("STUDYLIB_DATA", raising=False)
    root = tmp_path / "results"
    old = fake_pose_record(root, "freezing", "acnn-A-B", mask_phase_epochs=3)
    entry = reproduce.plan(old)
    assert "mask_phase_epochs" in entry["skip"] and "older code" in entry["skip"]
    config = read_json(old / "config.json")
    del config["mask_phase_epochs"], config["optimizer"], config["validation"]
    write_json(old / "config.json", config)
    entry = reproduce.plan(old)
    assert entry["skip"] is None
    assert entry["missing_parameters"] == ["optimizer", "validation"]
    real = fake_pose_record(root, "freezing", "no-attention", dataset="lsp")
    assert "STUDYLIB_DATA" in reproduce.plan(real)["skip"]
    with pytest.raises(ValueError, match="no longer has"):
        reproduce.rebuild_config("face", {"seed": 0, "odd_knob": 1})


def test_last_check_for_the_book(face_record, tmp_path):
    missing = tmp_path / "none.json"
    assert "make reproduce" in reproduce.describe_last_check(missing)
    assert reproduce.last_check_table(missing).empty
    root = tmp_path / "results"
    copy_record(face_record, root, "reduction_ratio", "synthetic", "adm-r8")
    check = {
        "time": "2025-01-01T00:00:00+00:00",
        "git_commit": "abc",
        "git_dirty": False,
        "machine": {"cpu_name": "AMD EPYC", "cpu_kernels": {"cpu_model": "AuthenticAMD x"}},
        "tolerance": 0.0,
        "summary": {
            "records": 2,
            "re_run": 1,
            "identical": 1,
            "beyond_tolerance": 0,
            "skipped": 1,
            "failed": 0,
            "largest_difference": 0.0,
            "from_other_commits": 0,
        },
        "records": [
            {
                **reproduce.plan(root / "reduction_ratio/synthetic/adm-r8/seed0"),
                "reproduced": {"nme": 0.2},
                "difference": {"nme": 0.0},
            },
            {
                **reproduce.plan(root / "reduction_ratio/synthetic/adm-r8/seed0"),
                "skip": "needs 300w under STUDYLIB_DATA",
            },
        ],
    }
    path = tmp_path / "check.json"
    write_json(path, check)
    text = reproduce.describe_last_check(path)
    assert "1 of 1" in text and "AMD EPYC" in text and "abc" in text
    table = reproduce.last_check_table(path)
    assert list(table["record"]) == ["reduction_ratio/synthetic/adm-r8/seed0"] * 2
    assert table["nme difference (points)"].iloc[0] == 0.0
    assert table["status"].iloc[1].startswith("skipped")
