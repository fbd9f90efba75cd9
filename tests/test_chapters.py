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


def write_config_run(root, ablation, setting, seed, config, dataset="synthetic"):
    folder = results.run_dir(root, ablation, dataset, setting, seed)
    results.write_record(
        folder,
        config.to_dict(),
        {"pckh": 50.0},
        pd.DataFrame({"epoch": [1], "train_loss": [1.0]}),
        pd.DataFrame({"sample": [0], "pckh": [50.0]}),
        {"device": "cpu"},
    )


def test_budget_reading_states_each_budget_from_the_records(tmp_path):
    from studylib.config import FaceConfig, PoseConfig

    base = PoseConfig.from_profile("smoke", epochs=4)
    for seed in (0, 1):
        write_config_run(tmp_path, "freezing", "no-attention", seed, base.replace(seed=seed))
        phased = base.replace(seed=seed, attention="acnn", schedule="A-B-C")
        write_config_run(tmp_path, "freezing", "acnn-A-B-C", seed, phased)
    reading = chapters.ablation(tmp_path, "freezing").budget_reading()
    images = f"{base.num_train:,} training images at {base.image_size} px"
    assert reading == (
        f"no-attention: 4 epochs of {images} in batches of {base.batch_size}; acnn-A-B-C: "
        f"5 epochs (1 of them training the masks alone) of {images} in batches of "
        f"{base.batch_size} (seeds 0, 1)."
    )
    faces = FaceConfig.from_profile("smoke", epochs=3)
    write_config_run(tmp_path, "reduction_ratio", "odn", 2, faces.replace(variant="odn"))
    assert chapters.ablation(tmp_path, "reduction_ratio").budget_reading() == (
        f"3 epochs of {faces.num_train:,} training images at {faces.image_size} px in batches "
        f"of {faces.batch_size} (seed 2)."
    )
    assert chapters.budget_reading([]) == "No records."
