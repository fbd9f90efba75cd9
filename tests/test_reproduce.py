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


def setting_with_seeds(face_record, root, setting, shifts, ablation="reduction_ratio"):
    """Copies of the tiny face record as seeds 0.. of ``setting`` (configs unchanged, so each
    re-runs as seed 0), with their NME shifted by ``shifts``; the folders."""
    return [
        copy_record(
            face_record,
            root,
            ablation,
            "synthetic",
            setting,
            seed=seed,
            metrics=lambda m, shift=shift: {**m, "nme": m["nme"] + shift},
        )
        for seed, shift in enumerate(shifts)
    ]


def test_a_rerun_is_judged_against_its_seeds_spread(face_record, tmp_path, capsys):
    root = tmp_path / "results"
    # The committed seeds spread around the re-run's value: it is inside, and identical to seed 0.
    near = setting_with_seeds(face_record, root, "adm-r8", [0.0, 0.002, -0.002])
    # Committed seeds far above it with a small spread: the re-run is outside.
    far = setting_with_seeds(face_record, root, "adm-r16", [0.05, 0.051, 0.049])
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    output = tmp_path / "check.json"
    args = ["--records", str(near[0]), str(far[0]), "--output", str(output), "--lanes", "1"]
    assert reproduce.main(args) == 1
    check = read_json(output)
    by_setting = {entry["setting"]: entry for entry in check["records"]}
    inside, outside = by_setting["adm-r8"], by_setting["adm-r16"]
    assert inside["within"] is True and inside["identical"] and inside["difference"] == {"nme": 0.0}
    assert outside["within"] is False and not outside["identical"]
    assert outside["difference"]["nme"] == pytest.approx(-0.05)
    # the seed SD is pooled over the ablation's settings: 2 + 2 degrees of freedom
    assert inside["interval"]["df"] == 4 and inside["interval"]["seeds"] == 3
    assert check["passed"] is False and check["summary"]["outside_interval"] == 1
    assert check["summary"]["identical"] == 1 and check["summary"]["within_interval"] == 1
    assert check["git_commit"] == reproduce_commit()
    assert check["machine"]["cpu_kernels"]["aten_capability"]
    assert {"time", "machine", "records", "summary", "ledgers"} <= set(check)
    printed = capsys.readouterr().out
    assert "adm-r16" in printed and "OUTSIDE" in printed and "FAILED" in printed
    assert "(-5.0000)" in printed  # NME printed in points
    # the re-runs went to a temporary root: the records are untouched
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert reproduce.main(["--records", str(near[0]), "--output", str(output)]) == 0
    assert read_json(output)["passed"] is True
    assert "1 of 1 re-runs fell inside" in reproduce.describe_last_check(output)
    table = reproduce.last_check_table(output)
    assert table["status"].iloc[0] == "inside, identical"


def test_a_changed_verdict_fails_the_check(face_record, tmp_path, monkeypatch, capsys):
    from studylib import ledger

    root = tmp_path / "results"
    near = setting_with_seeds(face_record, root, "adm-r8", [0.0, 0.002, -0.002])
    real_ledger = ledger.ledger

    def fake(where, *datasets):  # claim 7's verdict flips on the copy with the re-run in place
        table = real_ledger(where, *datasets)
        if "overlay-" in str(where):
            table.loc[7, "verdict"] = "replicated"
        return table

    monkeypatch.setattr(ledger, "ledger", fake)
    output = tmp_path / "check.json"
    assert reproduce.main(["--records", str(near[0]), "--output", str(output)]) == 1
    check = read_json(output)
    assert check["records"][0]["within"] is True
    assert check["ledgers"][0]["changed"] == ["7"]
    assert check["ledgers"][0]["datasets"] == ["synthetic", "synthetic"]
    assert "claim 7" in capsys.readouterr().out


def test_prediction_interval():
    interval = reproduce.prediction_interval([1.0, 2.0, 3.0])
    # mean 2, s 1, t(0.975, 2) = 4.303, sqrt(1 + 1/3)
    assert interval["low"] == pytest.approx(2 - 4.303 * 1.1547, abs=1e-3)
    assert interval["high"] == pytest.approx(2 + 4.303 * 1.1547, abs=1e-3)
    pooled = reproduce.prediction_interval([1.0, 2.0, 3.0], [[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]])
    assert pooled["df"] == 4 and pooled["seed_sd"] == pytest.approx(1.0)
    assert pooled["high"] - pooled["mean"] < interval["high"] - interval["mean"]
    assert reproduce.prediction_interval([1.0]) is None
    assert reproduce.prediction_interval([1.0], [[1.0], [2.0, 4.0]])["df"] == 1


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
    fake_pose_record(root, "tuning", "drops-0.9")  # validation records are not sampled
    sweep = root / "robustness" / "synthetic" / "pose-acnn" / "seed0"
    sweep.mkdir(parents=True)
    write_json(sweep / "config.json", {"track": "pose", "source": "x"})
    write_json(sweep / "metrics.json", {})

    found = reproduce.find_records(root)
    assert sweep not in found and len(found) == 11
    sample = reproduce.sample_records(found, per_stratum=2, seed=0)
    strata = [(f.parts[-4], f.parts[-3]) for f in sample]
    assert strata.count(("freezing", "synthetic")) == 2 and ("freezing", "lsp") in strata
    configs = [str(sorted(read_json(f / "config.json").items())) for f in sample]
    assert len(set(configs)) == len(configs)  # a linked run is drawn once
    assert reproduce.sample_records(found, 2, seed=0) == sample  # the sample is reproducible
    assert len(reproduce.sample_records(found, per_stratum=1)) == 3  # no tuning record

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


def test_last_check_for_the_book(tmp_path):
    missing = tmp_path / "none.json"
    assert "make reproduce" in reproduce.describe_last_check(missing)
    assert reproduce.last_check_table(missing).empty
    old = tmp_path / "old.json"
    write_json(old, {"time": "2025-01-01", "summary": {}, "records": []})
    assert "predates the statistical check" in reproduce.describe_last_check(old)


def test_the_kept_checks_are_listed_current_first(tmp_path):
    assert reproduce.check_files(tmp_path) == []
    for name in ("check-2026-12-01-amd.json", "last_check.json", "check-2026-12-07-intel.json"):
        write_json(tmp_path / name, {})
    assert [p.name for p in reproduce.check_files(tmp_path)] == [
        "last_check.json",
        "check-2026-12-07-intel.json",
        "check-2026-12-01-amd.json",
    ]
