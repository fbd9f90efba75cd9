"""Bad input gets a clear error that names the file or parameter and says what was expected.

Formats and parameters already covered elsewhere are not repeated here: malformed ``.mat`` and
JSON readers (test_real_lsp.py, test_real_faces.py, test_real_mpii.py), PoseConfig and FaceConfig
choices and ranges (test_config.py), model arguments (test_hourglass.py, test_attention.py,
test_landmark.py, test_resnet.py), ``fit`` arguments (test_train.py) and damaged checkpoints
(test_reliability.py). This file covers the loaders end to end on tiny real-format layouts, array
shapes, the remaining parameters, a notebook parameter of the wrong type, and a damaged dataset
cache.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from studylib import metrics, pose
from studylib.config import PoseConfig
from studylib.data.augment import AugmentConfig
from studylib.data.cache import cache_dir
from studylib.data.dataset import KeypointSet
from studylib.data.heatmaps import decode_heatmaps, render_heatmaps
from studylib.data.keypoints import MPII
from studylib.data.real import DataNotFoundError, load, load_300w, load_lsp
from studylib.train import resolve_device

ROOT = Path(__file__).parents[1]

# ----------------------------------------------------------------------------- tiny layouts


def _jpeg(path: Path, seed: int, size: int = 100) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=90)


def _joints(n: int) -> np.ndarray:
    """(n, 14, 2) joints inside a 100 x 100 image."""
    rng = np.random.default_rng(n)
    return rng.uniform(20, 80, (n, 14, 2))


@pytest.fixture
def lsp_root(tmp_path) -> Path:
    """LSP (2000 annotations, images 1001 and 1002) and LSPET (2 images) in the real layout."""
    root = tmp_path / "data"
    lsp = np.concatenate([_joints(2000), np.zeros((2000, 14, 1))], axis=-1)
    (root / "lsp").mkdir(parents=True)
    scipy.io.savemat(root / "lsp" / "joints.mat", {"joints": lsp.transpose(2, 1, 0)})
    lspet = np.concatenate([_joints(2), np.ones((2, 14, 1))], axis=-1)
    (root / "lspet").mkdir()
    scipy.io.savemat(root / "lspet" / "joints.mat", {"joints": lspet.transpose(1, 2, 0)})
    for number in (1001, 1002):
        _jpeg(root / "lsp" / "images" / f"im{number:04d}.jpg", number)
    for number in (1, 2):
        _jpeg(root / "lspet" / "images" / f"im{number:05d}.jpg", number)
    return root


def _pts(path: Path, count: int = 68) -> None:
    points = np.random.default_rng(count).uniform(20, 80, (count, 2))
    body = "\n".join(f"{x:.2f} {y:.2f}" for x, y in points)
    path.write_text(f"version: 1\nn_points: {count}\n{{\n{body}\n}}\n")


@pytest.fixture
def w300_root(tmp_path) -> Path:
    """300-W with one test face (helen_testset/a.pts + a.jpg) in the real layout."""
    root = tmp_path / "data"
    for sub in ("afw", "helen_trainset", "helen_testset"):
        (root / "300w" / sub).mkdir(parents=True)
    _pts(root / "300w" / "helen_testset" / "a.pts")
    _jpeg(root / "300w" / "helen_testset" / "a.jpg", 0)
    return root


def corrupt(path: Path, how: str) -> None:
    if how == "missing":
        path.unlink()
    elif how == "garbage":
        path.write_bytes(b"\xff\xd8 this is not a JPEG at all" * 10)
    else:  # truncated: the first half of a valid JPEG
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


# ----------------------------------------------------------------------------- the data root


@pytest.mark.parametrize("name", ["lsp", "300w", "cofw", "mpii_fixture", "aflw_fixture"])
def test_every_loader_without_a_data_root_names_the_setting(name, monkeypatch, tmp_path):
    monkeypatch.delenv("STUDYLIB_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="STUDYLIB_DATA") as error:
        load(name, "test", 64, cache_dir=tmp_path)
    assert "lsp/joints.mat" in str(error.value)  # and the expected layout


def test_data_root_pointing_nowhere_names_the_variable_and_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDYLIB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match=r"STUDYLIB_DATA=.*nowhere: .* is not a folder"):
        load_300w("test", 64, cache_dir=tmp_path)


def test_data_root_without_the_source_lists_the_missing_files(tmp_path):
    (tmp_path / "300w" / "afw").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match=r"300w: missing .*helen_trainset, .*helen_testset"):
        load_300w("test", 64, root=tmp_path, cache_dir=tmp_path)


def test_pose_run_on_lsp_without_a_data_root_names_the_setting(monkeypatch):
    monkeypatch.delenv("STUDYLIB_DATA", raising=False)
    config = PoseConfig.from_profile("smoke", dataset="lsp")
    with pytest.raises(DataNotFoundError, match="STUDYLIB_DATA"):
        pose.load_pose_data(config)


def test_pose_config_on_a_dataset_without_pose_training_says_which_exist():
    expected = r"dataset must be one of \('synthetic', 'lsp'\), got '300w'"
    with pytest.raises(ValueError, match=expected):
        PoseConfig.from_profile("smoke", dataset="300w")


# ----------------------------------------------------------------------------- images


def test_tiny_lsp_layout_loads(lsp_root, tmp_path):
    """The control for the image tests below: the intact layout loads."""
    test = load_lsp("test", 32, root=lsp_root, cache_dir=tmp_path / "cache", limit=2)
    assert len(test) == 2 and test.spec is MPII


@pytest.mark.parametrize(
    "how, message",
    [
        ("missing", r"im1002\.jpg: cannot read the image .*No such file"),
        ("garbage", r"im1002\.jpg: cannot read the image .*cannot identify image file"),
        ("truncated", r"im1002\.jpg: cannot read the image .*(?i:truncated)"),
    ],
)
def test_bad_lsp_image_is_named(how, message, lsp_root, tmp_path):
    corrupt(lsp_root / "lsp" / "images" / "im1002.jpg", how)
    with pytest.raises(ValueError, match=message):
        load_lsp("test", 32, root=lsp_root, cache_dir=tmp_path / "cache", limit=2)


def test_bad_image_through_a_pose_config_is_named(lsp_root, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDYLIB_DATA", str(lsp_root))
    monkeypatch.setenv("STUDYLIB_CACHE", str(tmp_path / "cache"))
    config = PoseConfig.from_profile("smoke", dataset="lsp", num_train=2, num_test=2)
    train, test = pose.load_pose_data(config)
    assert (len(train), len(test)) == (2, 2)
    corrupt(lsp_root / "lspet" / "images" / "im00002.jpg", "garbage")
    monkeypatch.setenv("STUDYLIB_CACHE", str(tmp_path / "other-cache"))
    with pytest.raises(ValueError, match=r"lspet/images/im00002\.jpg: cannot read the image"):
        pose.load_pose_data(config)


def test_lsp_annotations_shorter_than_the_split_say_so(lsp_root, tmp_path):
    joints = np.concatenate([_joints(1500), np.zeros((1500, 14, 1))], axis=-1)
    scipy.io.savemat(lsp_root / "lsp" / "joints.mat", {"joints": joints.transpose(2, 1, 0)})
    with pytest.raises(ValueError, match=r"joints\.mat: expected 2000 LSP images, found 1500"):
        load_lsp("test", 32, root=lsp_root, cache_dir=tmp_path / "cache", limit=2)


def test_bad_lsp_annotation_file_is_named(lsp_root, tmp_path):
    scipy.io.savemat(lsp_root / "lsp" / "joints.mat", {"points": np.zeros((3, 14, 2000))})
    with pytest.raises(ValueError, match=r"lsp/joints\.mat: no key 'joints' \(expected shape"):
        load_lsp("test", 32, root=lsp_root, cache_dir=tmp_path / "cache", limit=2)


def test_tiny_300w_layout_loads(w300_root, tmp_path):
    faces = load_300w("test", 32, root=w300_root, cache_dir=tmp_path / "cache")
    assert len(faces) == 1


@pytest.mark.parametrize(
    "how, error, message",
    [
        ("missing", FileNotFoundError, r"a\.pts: no image next to it \(a\.jpg or \.png\)"),
        ("garbage", ValueError, r"a\.jpg: cannot read the image"),
        ("truncated", ValueError, r"a\.jpg: cannot read the image"),
    ],
)
def test_bad_300w_image_is_named(how, error, message, w300_root, tmp_path):
    corrupt(w300_root / "300w" / "helen_testset" / "a.jpg", how)
    with pytest.raises(error, match=message):
        load_300w("test", 32, root=w300_root, cache_dir=tmp_path / "cache")


def test_300w_pts_with_the_wrong_number_of_points_is_named(w300_root, tmp_path):
    _pts(w300_root / "300w" / "helen_testset" / "b.pts", count=67)
    _jpeg(w300_root / "300w" / "helen_testset" / "b.jpg", 1)
    with pytest.raises(ValueError, match=r"b\.pts: .*68 points.*67"):
        load_300w("test", 32, root=w300_root, cache_dir=tmp_path / "cache")


def test_300w_split_without_pts_files_says_where_it_looked(w300_root, tmp_path):
    with pytest.raises(ValueError, match=r"300w: no \.pts files in \('afw', 'helen_trainset'\)"):
        load_300w("train", 32, root=w300_root, cache_dir=tmp_path / "cache")


# ----------------------------------------------------------------------------- arrays


def _arrays(n: int = 3, k: int = 16) -> dict:
    return dict(
        images=np.zeros((n, 8, 8, 3), np.uint8),
        joints=np.zeros((n, k, 2), np.float32),
        valid=np.ones((n, k), bool),
        occluded=np.zeros((n, k), bool),
        norms={"head": np.ones(n, np.float32)},
        spec=MPII,
        info={"name": "tiny-set"},
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (
            dict(joints=np.zeros((3, 16, 3))),
            r"joints must have shape \(3, 16, 2\).*got \(3, 16, 3\)",
        ),
        (dict(joints=np.zeros((3, 14, 2))), r"joints must have shape \(3, 16, 2\).*mpii16"),
        (dict(joints=np.zeros((16, 2))), r"joints must have shape \(3, 16, 2\).*got \(16, 2\)"),
        (dict(valid=np.ones((3, 14), bool)), r"valid must have shape \(3, 16\)"),
        (dict(occluded=np.zeros(3, bool)), r"occluded must have shape \(3, 16\)"),
        (dict(images=np.zeros((3, 8, 8, 3))), r"images must be a \(N, H, W, 3\) uint8.*float64"),
        (dict(images=np.zeros((3, 8, 8), np.uint8)), r"images must be a \(N, H, W, 3\) uint8"),
        (dict(norms={"head": np.ones(2)}), r"norms\['head'\] must have shape \(3,\), got \(2,\)"),
        (dict(joints=np.full((3, 16, 2), np.nan)), "valid joints must have finite coordinates"),
    ],
)
def test_keypoint_set_with_a_wrong_array_names_it_and_the_shape(change, message):
    with pytest.raises(ValueError, match=message) as error:
        KeypointSet(**{**_arrays(), **change})
    assert str(error.value).startswith("tiny-set: ")


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: metrics.pckh(
                np.zeros((2, 16, 3)), np.zeros((2, 16, 3)), np.ones((2, 16)), [1, 1]
            ),
            r"pred and gt must both be \(N, K, 2\).*\(2, 16, 3\)",
        ),
        (
            lambda: metrics.pckh(
                np.zeros((2, 16, 2)), np.zeros((2, 14, 2)), np.ones((2, 16)), [1, 1]
            ),
            r"pred and gt must both be \(N, K, 2\).*\(2, 16, 2\) and \(2, 14, 2\)",
        ),
        (
            lambda: metrics.pckh(np.zeros((2, 16, 2)), np.zeros((2, 16, 2)), np.ones((2, 16)), [1]),
            r"normalizer must be \(N,\) = \(2,\), got \(1,\)",
        ),
        (
            lambda: metrics.pck(
                np.zeros((2, 16, 2)), np.zeros((2, 16, 2)), np.ones((2, 16)), [1, 1], -0.1
            ),
            "threshold must be >= 0, got -0.1",
        ),
        (
            lambda: metrics.nme(np.zeros((2, 68, 2)), np.zeros((2, 68)), [1, 1]),
            r"pred and gt must both be \(N, K, 2\).*\(2, 68\)",
        ),
        (
            lambda: metrics.nme(np.zeros((2, 68, 2)), np.zeros((2, 68, 2)), np.ones((2, 1))),
            r"normalizer must be \(N,\) = \(2,\), got \(2, 1\)",
        ),
        (
            lambda: metrics.nme(np.zeros((2, 68, 2)), np.zeros((2, 68, 2)), [1, 0]),
            "normalizer must be > 0 for every sample",
        ),
        (
            lambda: metrics.nme(np.zeros((2, 68, 2)), np.zeros((2, 68, 2)), [1, 1], np.ones(68)),
            r"visible must be \(N, L\) = \(2, 68\), got \(68,\)",
        ),
        (
            lambda: metrics.mpii_head_sizes(np.zeros((2, 4))),
            r"headboxes must be \(N, 2, 2\) corner pairs, got \(2, 4\)",
        ),
    ],
)
def test_metrics_with_wrong_shapes_say_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: render_heatmaps(torch.zeros(1, 2, 2), torch.ones(1, 2, dtype=torch.bool), 8, 0.0),
         "sigma must be > 0, got 0.0"),
        (lambda: render_heatmaps(torch.zeros(1, 2, 3), torch.ones(1, 2, dtype=torch.bool), 8),
         r"points must be \(B, K, 2\).*\(1, 2, 3\)"),
        (lambda: render_heatmaps(torch.zeros(1, 2, 2), torch.ones(2, dtype=torch.bool), 8),
         r"valid must be \(B, K\) = \(1, 2\).*\(2,\)"),
        (lambda: decode_heatmaps(torch.zeros(2, 16, 16)),
         r"heatmaps must be \(B, K, H, W\).*\(2, 16, 16\)"),
    ],
)  # fmt: skip
def test_heatmap_functions_with_wrong_shapes_say_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "knob, value",
    [("scale", 1.0), ("rotation", 200.0), ("rotation_prob", 1.5), ("color", -0.1)],
)
def test_augment_ranges_are_named(knob, value):
    with pytest.raises(ValueError, match=f"augment {knob} must be in .*got {value}"):
        AugmentConfig(**{knob: value})


# ----------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (dict(epochs=2.5), TypeError, r"PoseConfig\.epochs must be int, got 2\.5 \(float\)"),
        (dict(epochs=True), TypeError, r"PoseConfig\.epochs must be int, got True \(bool\)"),
        (dict(batch_size=0), ValueError, "batch_size must be > 0, got 0"),
        (dict(epochs=-3), ValueError, "epochs must be > 0, got -3"),
        (dict(epochs=1, schedule="A-B-C", attention="acnn"), ValueError, "epochs must be >= 2"),
        (dict(device="tpu"), ValueError, r"device must be one of \('auto', 'cpu', 'cuda'\)"),
        (dict(seed=-1), ValueError, "seed and data_seed must be >= 0"),
        (dict(lr=0.0), ValueError, "lr must be > 0"),
        (dict(num_stacks="2"), TypeError, r"num_stacks must be int, got '2' \(str\)"),
    ],
)
def test_more_bad_pose_parameters_are_named(overrides, error, message):
    with pytest.raises(error, match=message):
        PoseConfig.from_profile("smoke", **overrides)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(augment={"scael": 0.1}), "augment.*scael"),
        (dict(synth={"clutterr": 0.5}), "synth.*clutterr"),
        (dict(augment={"scale": 1.5}), "augment scale must be in"),
    ],
)
def test_pose_config_checks_its_synth_and_augment_knobs(overrides, message):
    with pytest.raises(ValueError, match=message):
        PoseConfig.from_profile("smoke", **overrides)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_one_is_a_clear_error():
    with pytest.raises(RuntimeError, match="device='cuda' was asked for but torch sees no CUDA"):
        resolve_device("cuda")


@pytest.mark.slow
def test_notebook_parameter_of_the_wrong_type_names_it(tmp_path):
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError) as error:
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "pose_baseline.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={"profile": "smoke", "epochs": "ten", "results_dir": str(tmp_path)},
            kernel_name="python3",
            cwd=str(ROOT),
            progress_bar=False,
        )
    assert error.value.ename == "TypeError"
    assert "PoseConfig.epochs must be int, got 'ten' (str)" in str(error.value)
    assert not any(tmp_path.rglob("metrics.json"))  # failed before any training


# ----------------------------------------------------------------------------- dataset cache


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "garbage":
        path.write_bytes(b"not an npz file")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # a readable npz with the wrong content
        with np.load(io.BytesIO(data)) as npz:
            arrays = dict(npz)
        if how == "missing key":
            del arrays["joints"]
        else:  # wrong shape
            arrays["joints"] = arrays["joints"][:, :5]
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)


@pytest.mark.parametrize("how", ["garbage", "empty", "truncated", "missing key", "wrong shape"])
def test_damaged_dataset_cache_is_rebuilt_with_a_warning(how, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDYLIB_CACHE", str(tmp_path))
    make = lambda: pose.synthetic_pose_set("test", 3, 64, data_seed=5, synth={})  # noqa: E731
    built = make()
    (path,) = cache_dir().glob("*.npz")
    _damage(path, how)
    with pytest.warns(UserWarning, match=rf"rebuilding a damaged dataset cache: {path}"):
        rebuilt = make()
    np.testing.assert_array_equal(rebuilt.images, built.images)
    np.testing.assert_array_equal(rebuilt.joints, built.joints)
    restored = KeypointSet.load(path)  # the file is whole again
    np.testing.assert_array_equal(restored.joints, built.joints)


def test_damaged_cache_file_read_directly_is_a_clear_error(tmp_path):
    path = tmp_path / "set.npz"
    path.write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"set\.npz: not a readable studylib dataset cache"):
        KeypointSet.load(path)
    with pytest.raises(FileNotFoundError):
        KeypointSet.load(tmp_path / "absent.npz")


def test_malformed_record_json_is_named(tmp_path):
    from studylib import results

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.json").write_text("{}")
    (folder / "config.json").write_text('{"seed": ')
    with pytest.raises(ValueError, match=r"config\.json: malformed JSON"):
        results.is_complete(folder, {"seed": 0})
    assert json.loads((folder / "metrics.json").read_text()) == {}
