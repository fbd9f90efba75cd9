"""What the book's chapters compute from records: an ablation's runs, floors and the gate."""

import pandas as pd

from studylib import chapters, floors, results


def write_run(root, ablation, setting, seed, metrics, dataset="synthetic"):
    folder = results.run_dir(root, ablation, dataset, setting, seed)
    results.write_record(
        folder,
        {"seed": seed, "profile": "smoke"},
        metrics,
        pd.DataFrame({"epoch": [1], "train_loss": [1.0]}),
        pd.DataFrame({"sample": [0], "nme": [0.1]}),
        {"device": "cpu"},
    )
    return folder


def pose(pckh, floor=None):
    return {"pckh": pckh, **({"floor": {"pckh": floor}} if floor is not None else {})}


def test_an_ablation_lists_its_settings_in_their_order_then_others(tmp_path):
    for setting in ("adm-r16", "zzz-extra", "odn"):
        write_run(tmp_path, "reduction_ratio", setting, 0, {"nme": 0.1, "nme_mean_shape": 0.3})
    write_run(
        tmp_path, "reduction_ratio", "odn", 0, {"nme": 0.1, "nme_mean_shape": 0.3}, dataset="300w"
    )
    found = chapters.ablation(tmp_path, "reduction_ratio")
    assert found.order == ["odn", "adm-r16", "zzz-extra"]
    assert len(found.all_runs) == 3 and found
    assert len(chapters.ablation(tmp_path, "reduction_ratio", "300w").all_runs) == 1
    assert not chapters.ablation(tmp_path, "reduction_ratio", "lsp")


def test_floor_table_counts_the_seeds_that_cleared_the_gate(tmp_path):
    margin = floors.POSE_MARGIN
    write_run(tmp_path, "freezing", "no-attention", 0, pose(10 + margin + 1, 10))
    write_run(tmp_path, "freezing", "no-attention", 1, pose(10 + margin - 1, 10))
    write_run(tmp_path, "freezing", "acnn-joint", 0, pose(60.0, 12))
    table = chapters.ablation(tmp_path, "freezing").floor_table()
    assert list(table.index) == ["no-attention", "acnn-joint"]
    assert table.loc["no-attention", "seeds cleared"] == "1 of 2"
    assert table.loc["acnn-joint", "seeds cleared"] == "1 of 1"
    assert table.loc["no-attention", "PCKh@0.5 (%), mean"] == 10 + margin
    assert table.loc["acnn-joint", "gate"] == 12 + margin


def test_face_floor_table_is_in_percent(tmp_path):
    write_run(tmp_path, "attention_order", "none", 0, {"nme": 0.1, "nme_mean_shape": 0.3})
    table = chapters.ablation(tmp_path, "attention_order").floor_table()
    assert table.loc["none", "NME (%), mean"] == 10.0
    assert table.loc["none", "mean shape (floor)"] == 30.0
    assert table.loc["none", "gate"] == 100 * floors.FACE_RATIO * 0.3
    assert table.loc["none", "seeds cleared"] == "1 of 1"


def test_records_without_floors_are_named_not_judged(tmp_path):
    write_run(tmp_path, "freezing", "acnn-joint", 0, pose(60.0))
    found = chapters.ablation(tmp_path, "freezing")
    assert "predate the floors" in found.floor_reading()
    assert found.floor_table().loc["acnn-joint", "constant pose (floor)"] == "not recorded"


def test_floor_reading_follows_the_gate(tmp_path):
    write_run(tmp_path, "freezing", "acnn-joint", 0, pose(60.0, 10))
    assert chapters.ablation(tmp_path, "freezing").floor_reading().startswith("Every run cleared")
    write_run(tmp_path, "freezing", "no-attention", 0, pose(12.0, 10))
    reading = chapters.ablation(tmp_path, "freezing").floor_reading()
    assert reading.startswith("Not every run cleared") and "no-attention seed 0" in reading
