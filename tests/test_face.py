"""The face track (studylib.face): one run end to end, the loss, the metrics, the occlusion
statistics, parameter counts, and the analyses that read its records. FaceConfig's checks are
tested in test_config.py; the settings of the face ablations, in test_reduction_ratio.py.
"""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import studylib.run
from studylib import compare, face, results
from studylib.config import FaceConfig
from studylib.data.augment import NO_AUGMENT
from studylib.data.keypoints import FACE68
from studylib.experiments import reduction_ratio

#: A run small enough for a unit test (about a second on a CPU).
TINY = dict(num_train=32, num_test=8, epochs=1, width=8, rank=16, batch_size=16)


@pytest.fixture(scope="module")
def faces():
    """(train, test) synthetic faces of the smoke profile (cached for the session)."""
    return face.load_face_data(FaceConfig.from_profile("smoke"))


def test_run_writes_a_complete_record_and_is_skipped_the_second_time(tmp_path, monkeypatch):
    config = FaceConfig.from_profile("smoke", **TINY)
    folder = face.run_face(config, tmp_path, "reduction_ratio", "adm-r8", progress=False)
    assert folder == tmp_path / "reduction_ratio" / "synthetic" / "adm-r8" / "seed0"
    for name in results.RECORD_FILES:
        assert (folder / name).is_file(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("nme", "nme_visible", "nme_occluded", "auc_0.08", "failure_0.08"):
        assert np.isfinite(metrics[key]), key
    for part in ("jaw", "brows", "nose", "eyes", "mouth"):
        assert np.isfinite(metrics[f"nme_{part}"])
    model = face.build_model(config)
    assert metrics["parameters"] == sum(p.numel() for p in model.parameters())
    assert sum(metrics["module_parameters"].values()) == metrics["parameters"]
    assert metrics["module_parameters"]["distillation"] > 0
    per_sample = pd.read_csv(folder / "per_sample.csv")
    assert len(per_sample) == config.num_test
    assert per_sample.columns[:4].tolist() == ["sample", "nme", "nme_visible", "nme_occluded"]
    assert len(per_sample.columns) < 15  # no per-landmark columns
    assert np.isclose(per_sample["nme"].mean(), metrics["nme"])
    assert "occlusion_gap" in per_sample and "occlusion_prob_occluded" in metrics

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(studylib.run, "fit_run", no_training)  # the driver both tracks use
    assert face.run_face(config, tmp_path, "reduction_ratio", "adm-r8") == folder
    with pytest.raises(AssertionError, match="trained again"):
        face.run_face(config.replace(epochs=2), tmp_path, "reduction_ratio", "adm-r8")


@pytest.mark.parametrize("variant", ["resnet", "adm"])
def test_the_loss_decreases_over_a_few_steps(faces, variant):
    train, _ = faces
    config = FaceConfig.from_profile("smoke", variant=variant, width=8, rank=16)
    torch.manual_seed(0)
    model = face.build_model(config)
    face.init_mean_shape(model, train)
    task = face.FaceTask(torch.from_numpy(FACE68.flip_permutation()), 64, NO_AUGMENT)
    batch = {
        "images": torch.from_numpy(train.images[:16]),
        "joints": torch.from_numpy(train.joints[:16]),
        "valid": torch.from_numpy(train.valid[:16]),
    }
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    losses = []
    for _ in range(25):
        loss = task.loss(model, batch, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3]), losses


def test_perfect_and_shifted_predictions(faces):
    _, test = faces
    metrics, per_sample = face.face_metrics(test.joints.copy(), test)
    assert metrics["nme"] == 0 and metrics["nme_visible"] == 0 and metrics["nme_occluded"] == 0
    assert metrics["failure_0.08"] == 0 and metrics["auc_0.08"] == pytest.approx(1.0, abs=1e-3)
    assert (per_sample["nme"] == 0).all()
    shift = 1.5  # pixels, every landmark to the right
    shifted, per_sample = face.face_metrics(test.joints + [shift, 0.0], test)
    expected = shift / test.norms["interocular"]
    np.testing.assert_allclose(per_sample["nme"], expected, rtol=1e-5)
    np.testing.assert_allclose(per_sample["nme_eyes"], expected, rtol=1e-5)
    assert shifted["nme"] == pytest.approx(expected.mean(), rel=1e-5)


def test_occluded_nme_counts_only_occluded_landmarks(faces):
    _, test = faces
    pred = test.joints.copy()
    pred[test.occluded] += 3.0  # wrong on the occluded landmarks only
    metrics, per_sample = face.face_metrics(pred, test)
    assert test.occluded.any()
    assert metrics["nme_visible"] == 0 and metrics["nme_occluded"] > 0
    no_occluded = ~test.occluded.any(axis=1)
    assert per_sample.loc[no_occluded, "nme_occluded"].isna().all()


class _HalfOccluded(torch.nn.Module):
    """A stand-in model whose occlusion map is 1 on the image's left half and 0 on the right."""

    def forward(self, images):
        occlusion = torch.zeros(len(images), 1, 4, 4)
        occlusion[..., :2] = 1.0
        return SimpleNamespace(occlusion=occlusion)


def test_occlusion_statistics_read_the_map_at_the_landmarks(faces):
    _, test = faces
    statistics, gap = face.occlusion_statistics(_HalfOccluded(), test, torch.device("cpu"))
    left = test.joints[..., 0] < 31.5  # cells 0 and 1 of 4 cover x < 31.5 in 64 px
    visible, occluded = test.valid & ~test.occluded, test.valid & test.occluded
    assert statistics["occlusion_prob_occluded"] == pytest.approx(left[occluded].mean())
    assert statistics["occlusion_prob_visible"] == pytest.approx(left[visible].mean())
    has_both = occluded.any(axis=1) & visible.any(axis=1)
    assert np.isfinite(gap[has_both]).all() and np.isnan(gap[~has_both]).all()
    i = int(np.flatnonzero(has_both)[0])
    assert gap[i] == pytest.approx(left[i][occluded[i]].mean() - left[i][visible[i]].mean())


def test_parameter_counts_and_paired_comparisons(tmp_path, faces):
    base = FaceConfig.from_profile("smoke", width=8)
    counts = face.parameter_table(face.configs(base, reduction_ratio.settings((8, 64))))
    assert (counts.drop(columns="total").sum(axis=1) == counts["total"]).all()
    assert counts.loc["adm-r8", "distillation"] < counts.loc["odn", "distillation"]
    assert counts.loc["adm-r64", "distillation"] < counts.loc["adm-r8", "distillation"]

    rng = np.random.default_rng(0)
    errors = rng.uniform(0.05, 0.15, size=100)
    for setting, offset in (("adm-r8", 0.0), ("worse", 0.02), ("same", 0.0)):
        for seed in (0, 1, 2):
            per_sample = pd.DataFrame(
                {
                    "sample": np.arange(100),
                    "nme": errors + offset + rng.normal(0, 1e-3, 100),
                    "nme_occluded": errors + offset,
                }
            )
            folder = results.run_dir(tmp_path, "reduction_ratio", "synthetic", setting, seed)
            metrics = {"nme": float(per_sample["nme"].mean()), "nme_mean_shape": 0.3}
            results.write_record(folder, {"seed": seed}, metrics, pd.DataFrame(), per_sample, {})
    runs = results.runs_by_setting(tmp_path, "reduction_ratio", order=["adm-r8", "worse", "same"])
    assert list(runs) == ["adm-r8", "worse", "same"]
    all_runs = [f for folders in runs.values() for f in folders]
    differences = face.paired_nme(all_runs, "adm-r8")
    rows = differences.set_index(["setting", "column"], drop=False)
    worse = rows.loc[("worse", "nme")]
    assert worse["difference"] == pytest.approx(2.0, abs=0.1)  # in NME points (%)
    assert worse["low"] > 0 and worse["seed_low"] > 0 and worse["seeds"] == 3
    sentence = compare.describe(worse, **face.NME_WORDING)
    assert "higher (worse)" in sentence and "excludes 0 too" in sentence
    same = compare.describe(rows.loc[("same", "nme")], **face.NME_WORDING)
    assert "no difference resolved" in same
    table = compare.difference_table(differences, digits=2)
    assert table.loc["worse", "nme"].startswith("+2.0")
    assert "Below it" in face.beats_mean_shape(all_runs)


def test_occlusion_readings_without_occlusion_labels(tmp_path):
    # 300-W has no occlusion labels: every face's gap is NaN.
    for setting in ("odn", "adm-r8"):
        folder = results.run_dir(tmp_path, "reduction_ratio", "300w", setting, 0)
        metrics = {"nme": 0.1, "occlusion_gap": float("nan"), "occlusion_prob_occluded": 0.5}
        results.write_record(folder, {}, metrics, pd.DataFrame(), pd.DataFrame({"sample": [0]}), {})
    runs = results.find_runs(tmp_path)
    assert face.occlusion_table(runs).empty
    assert "cannot be checked" in face.describe_occlusion_gap(runs)


def test_the_attention_figures_are_drawn_from_trained_runs_with_checkpoints(tmp_path, faces):
    import matplotlib.pyplot as plt

    config = FaceConfig.from_profile("smoke", **TINY)
    folder = face.run_face(config, tmp_path, "attention_order", "channel-spatial", progress=False)
    test_set = face.load_face_data(config)[1]
    assert face.draw_attention(folder, test_set, count=2).axes
    missing = tmp_path / "none"  # a setting without its checkpoint is left out
    runs = {"channel-spatial": [folder], "none": [missing]}
    assert face.draw_attention_by_setting(runs, test_set).axes
    plt.close("all")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        face.draw_attention_by_setting({"none": [missing]}, test_set)


def test_describe_scale_names_the_runs_scale():
    config = FaceConfig.from_profile("quick")
    text = face.describe_scale(config)
    assert f"`quick` profile: {config.image_size} px faces, a width-{config.width} trunk" in text
