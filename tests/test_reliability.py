"""Faults: runs survive being killed, writes are atomic, nothing finished is redone or lost.

The kill tests start real child processes (``CHILD`` below) that run ``pose.run_pose`` on a tiny
config, hold them at a chosen point (inside an epoch, inside a checkpoint write, inside the
record's write), kill them with SIGKILL, start them again, and compare the record with one of an
uninterrupted child. Children use one CPU thread and ``run_pose`` seeds the initial weights
with the run's seed, so their arithmetic is bitwise repeatable and the records must be
*byte-identical* (``config.json``, ``metrics.json``, ``history.csv``, ``per_sample.csv``;
``provenance.json`` holds the wall time and is not compared). Resuming restores the model, the
optimiser, the schedule position, the history and both random states, so nothing may
legitimately differ; a tolerance would only hide a state that resuming forgot.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import studylib.run
from helpers import (
    STEPS_PER_EPOCH,
    TINY_POSE,
    FaultyTask,
    fit_tiny,
    tiny_pose_config,
)
from studylib import pose, results
from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import MPII
from studylib.io import write_json
from studylib.train import CHECKPOINT, NonFiniteLossError, _save_checkpoint

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL"),
    # In-process training on one thread, like the children (conftest.one_thread).
    pytest.mark.usefixtures("one_thread"),
]

ABLATION, SETTING = "faults", "tiny"
COMPARED = ("config.json", "metrics.json", "history.csv", "per_sample.csv")
CHILD_TIMEOUT_S = 300

CHILD = '''
"""Run a tiny pose sweep; with a stop point, hold there (sleeping) until killed.

argv: results root, seeds (JSON), PoseConfig overrides (JSON), stop, marker file.
stop: "" (run to the end), "loss:SEED:N" (inside the N-th training step of SEED),
"save:SEED:N" (half-way through writing SEED's N-th checkpoint), "record:SEED" (half-way
through writing SEED's metrics.json, the record's last file).
"""
import io
import json
import sys
import time
from pathlib import Path

import torch

torch.set_num_threads(1)  # bitwise repeatable CPU arithmetic

from studylib import pose, results  # noqa: E402
from studylib.config import PoseConfig  # noqa: E402
from studylib.io import atomic_path  # noqa: E402

root, seeds, overrides, stop, marker = sys.argv[1:6]
kind, _, where = stop.partition(":")
current = {"seed": None, "count": 0}


def hold():
    Path(marker).write_text(json.dumps(current))
    time.sleep(600)
    sys.exit("held for 600 s and not killed")


def reached(seed, n=None):
    if current["seed"] != seed:
        return False
    current["count"] += 1
    return n is None or current["count"] == n


if kind == "loss":
    loss_seed, loss_n = map(int, where.split(":"))
    real_loss = pose.PoseTask.loss

    def loss(self, *args, **kwargs):
        if reached(loss_seed, loss_n):
            hold()
        return real_loss(self, *args, **kwargs)

    pose.PoseTask.loss = loss
elif kind == "save":
    save_seed, save_n = map(int, where.split(":"))
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if reached(save_seed, save_n):
            buffer = io.BytesIO()
            real_save(obj, buffer)
            with open(f, "wb") as handle:
                handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            hold()
        return real_save(obj, f, *args, **kwargs)

    torch.save = save
elif kind == "record":
    record_seed = int(where)
    real_write_json = results.write_json

    def write_json(path, obj):
        if Path(path).name == "metrics.json" and reached(record_seed):
            with atomic_path(path) as tmp:
                text = json.dumps(obj)
                tmp.write_text(text[: len(text) // 2])
                hold()
        return real_write_json(path, obj)

    results.write_json = write_json

config = PoseConfig.from_profile("smoke", **json.loads(overrides))
for seed in json.loads(seeds):
    current.update(seed=seed, count=0)
    pose.run_pose(config.replace(seed=seed), root, "faults", "tiny", progress=False)
'''


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def child_script(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("child") / "child.py"
    path.write_text(textwrap.dedent(CHILD))
    return path


class Child:
    """Start the sweep child; run it to the end, or to its stop point and SIGKILL it there."""

    def __init__(self, script: Path, cache: str, logs: Path):
        self.script, self.cache, self.logs = script, cache, logs
        self.count = 0

    def run(self, root: Path, seeds: list[int], stop: str = "") -> dict | None:
        self.count += 1
        marker = self.logs / f"marker-{self.count}.json"
        log_path = self.logs / f"child-{self.count}.log"
        args = [str(root), json.dumps(seeds), json.dumps(TINY_POSE), stop, str(marker)]
        env = {**os.environ, "STUDYLIB_CACHE": self.cache, "PYTHONUNBUFFERED": "1"}
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(self.script), *args], stdout=log, stderr=log, env=env
            )
        try:
            if not stop:
                code = process.wait(timeout=CHILD_TIMEOUT_S)
                assert code == 0, f"child failed ({code}):\n{log_path.read_text()}"
                return None
            deadline = time.monotonic() + CHILD_TIMEOUT_S
            while not marker.exists():
                code = process.poll()
                assert code is None, f"child ended ({code}) before {stop}:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, f"child never reached {stop}"
                time.sleep(0.02)
            os.kill(process.pid, signal.SIGKILL)
            assert process.wait(timeout=60) == -signal.SIGKILL
            return json.loads(marker.read_text())
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def child(child_script, shared_cache, tmp_path) -> Child:
    logs = tmp_path / "logs"
    logs.mkdir()
    return Child(child_script, shared_cache, logs)


@pytest.fixture(scope="module")
def reference(child_script, shared_cache, tmp_path_factory) -> Path:
    """An uninterrupted sweep of seeds 0 and 1 in one child (seed 0 first, as a notebook does)."""
    base = tmp_path_factory.mktemp("reference")
    logs = base / "logs"
    logs.mkdir()
    Child(child_script, shared_cache, logs).run(base / "results", [0, 1])
    return base / "results"


def run_folder(root: Path, seed: int) -> Path:
    return results.run_dir(root, ABLATION, "synthetic", SETTING, seed)


def assert_same_record(got: Path, want: Path) -> None:
    for name in COMPARED:
        a, b = (got / name).read_bytes(), (want / name).read_bytes()
        assert a == b, f"{got / name} differs from the uninterrupted run:\n{a[:600]}\n{b[:600]}"


def checkpoint_epoch(folder: Path) -> int:
    return torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=False)["epoch"]


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


def strays(folder: Path) -> list[Path]:
    return sorted(folder.glob(".tmp-*"))


# ----------------------------------------------------------------------------- killed runs


@pytest.mark.slow
def test_sweep_killed_mid_run_resumes_that_run_and_keeps_the_finished_one(
    child, reference, tmp_path
):
    root = tmp_path / "results"
    # Seed 0 finishes; seed 1 is killed inside epoch 3 (step 2), after its epoch-2 checkpoint.
    where = child.run(root, [0, 1], stop=f"loss:1:{2 * STEPS_PER_EPOCH + 2}")
    assert where == {"seed": 1, "count": 2 * STEPS_PER_EPOCH + 2}
    finished, killed = run_folder(root, 0), run_folder(root, 1)
    assert results.is_complete(finished, tiny_pose_config(seed=0).to_dict())
    assert checkpoint_epoch(killed) == 2 and not (killed / "metrics.json").exists()
    assert results.find_runs(root) == [finished]
    stamps = mtimes(finished)

    child.run(root, [0, 1])  # the same sweep again
    assert mtimes(finished) == stamps, "the finished run was trained or written again"
    assert_same_record(finished, run_folder(reference, 0))
    assert_same_record(killed, run_folder(reference, 1))
    assert results.find_runs(root) == [finished, killed]


@pytest.mark.slow
def test_run_killed_again_and_again_ends_with_the_record_of_an_uninterrupted_run(
    child, reference, tmp_path
):
    root = tmp_path / "results"
    folder = run_folder(root, 0)
    # 1. Killed inside its first epoch (step 2): nothing to resume from, nothing recorded.
    child.run(root, [0], stop="loss:0:2")
    assert not (folder / CHECKPOINT).exists() and not (folder / "metrics.json").exists()

    # 2. Started from scratch, killed half-way through writing the epoch-2 checkpoint: the
    #    epoch-1 checkpoint stays whole; the partial file is a stray .tmp-*.
    child.run(root, [0], stop="save:0:2")
    assert checkpoint_epoch(folder) == 1
    (partial,) = strays(folder)
    assert partial.name.startswith(f".tmp-{CHECKPOINT}.")
    with pytest.raises(Exception):  # noqa: B017 - any error: the stray is a truncated file
        torch.load(partial, weights_only=False)

    # 3. Resumed, and killed half-way through metrics.json (the record's last file).
    child.run(root, [0], stop="record:0")
    assert checkpoint_epoch(folder) == TINY_POSE["epochs"]
    assert (folder / "history.csv").is_file() and not (folder / "metrics.json").exists()
    assert any(p.name.startswith(".tmp-metrics.json.") for p in strays(folder))
    assert not results.is_complete(folder, tiny_pose_config().to_dict())
    assert results.find_runs(root) == []

    # 4. Run again: it evaluates the finished checkpoint and writes the record.
    child.run(root, [0])
    assert_same_record(folder, run_folder(reference, 0))
    assert results.is_complete(folder, tiny_pose_config().to_dict())
    assert results.find_runs(root) == [folder]  # the stray .tmp-* files are ignored
    assert len(strays(folder)) == 2


@pytest.mark.slow
def test_a_fresh_process_gives_the_record_of_the_seeded_reference(child, reference, tmp_path):
    """run_pose as a notebook calls it, in a fresh process, without seeding torch first."""
    child.run(tmp_path / "results", [0])
    assert_same_record(run_folder(tmp_path / "results", 0), run_folder(reference, 0))


# ----------------------------------------------------------------------------- atomic writes

WRITER = '''
"""Write a target of each KIND twice at once (new.EXT: no old version; old.EXT: an old one)
and hold half-way through both writes until killed."""
import io
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

kind, folder = sys.argv[1], Path(sys.argv[2])
reached = threading.Barrier(3)


def hold():
    reached.wait()
    time.sleep(600)


def big_record():
    return {"values": list(range(200_000)), "note": "new"}


if kind == "json":
    from studylib import io as sio

    real = Path.write_text

    def write_text(self, text, *args, **kwargs):
        with open(self, "w", encoding="utf-8") as handle:
            handle.write(text[: len(text) // 2])
        hold()

    Path.write_text = write_text

    def write(path):
        sio.write_json(path, big_record())
elif kind == "record":
    import pandas as pd

    from studylib import results

    real = Path.write_text

    def write_text(self, text, *args, **kwargs):
        if self.name.startswith(".tmp-history.csv."):
            with open(self, "w", encoding="utf-8") as handle:
                handle.write(text[: len(text) // 2])
            hold()
        return real(self, text, *args, **kwargs)

    Path.write_text = write_text

    def write(path):
        history = pd.DataFrame({"epoch": range(100_000), "train_loss": 0.25})
        results.write_record(
            path, {"new": True}, {"pckh": 2.0}, history, pd.DataFrame({"s": [0]}), {}
        )
elif kind == "npz":
    from studylib.data import dataset
    from studylib.data.keypoints import MPII

    real = np.savez

    def savez(handle, **arrays):
        buffer = io.BytesIO()
        real(buffer, **arrays)
        handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        handle.flush()
        hold()

    dataset.np.savez = savez

    def write(path):
        n = 64
        dataset.KeypointSet(
            images=np.full((n, 64, 64, 3), 7, np.uint8),
            joints=np.zeros((n, 16, 2), np.float32),
            valid=np.ones((n, 16), bool),
            occluded=np.zeros((n, 16), bool),
            norms={"head": np.ones(n, np.float32)},
            spec=MPII,
        ).save(path)
elif kind == "checkpoint":
    import torch

    from studylib import train

    real = torch.save

    def save(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real(obj, buffer)
        with open(f, "wb") as handle:
            handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        hold()

    torch.save = save

    def write(path):
        train._save_checkpoint(path, {"epoch": 99, "model": {"w": torch.ones(500_000)}})

for name in ("new", "old"):
    threading.Thread(target=write, args=(folder / name,), daemon=True).start()
reached.wait()
(folder / "held").write_text("both writes are half-way")
time.sleep(600)
'''


def _write_old(kind: str, folder: Path) -> Path:
    """A complete old version of the ``old`` target; returns the file a reader reads."""
    target = folder / "old"
    if kind == "json":
        write_json(target, {"note": "old"})
        return target
    if kind == "record":
        history = pd.DataFrame({"epoch": [1, 2], "train_loss": [0.5, 0.25]})
        results.write_record(target, {"old": True}, {"pckh": 1.0}, history, history, {})
        return target / "history.csv"
    if kind == "npz":
        _keypoint_set(3).save(target)
        return target
    _save_checkpoint(target, {"epoch": 1, "model": {"w": torch.zeros(3)}})
    return target / CHECKPOINT


def _read(kind: str, path: Path):
    if kind == "json":
        return json.loads(path.read_text())
    if kind == "record":
        return pd.read_csv(path)
    if kind == "npz":
        return KeypointSet.load(path)
    return torch.load(path, weights_only=False)


def _keypoint_set(n: int) -> KeypointSet:
    return KeypointSet(
        images=np.zeros((n, 8, 8, 3), np.uint8),
        joints=np.zeros((n, 16, 2), np.float32),
        valid=np.ones((n, 16), bool),
        occluded=np.zeros((n, 16), bool),
        norms={"head": np.ones(n, np.float32)},
        spec=MPII,
    )


@pytest.mark.parametrize("kind", ["json", "record", "npz", "checkpoint"])
def test_writer_killed_mid_write_leaves_no_partial_file(kind, tmp_path):
    """write_json, write_record, KeypointSet.save and train._save_checkpoint, killed half-way:
    the target is absent (first write) or the old complete version; only a stray .tmp-* file
    shows the kill, and readers and the next write ignore it."""
    folder = tmp_path / kind
    folder.mkdir()
    old_file = _write_old(kind, folder)
    old_bytes = old_file.read_bytes()
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    process = subprocess.Popen([sys.executable, str(script), kind, str(folder)])
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while not (folder / "held").exists():
            assert process.poll() is None, f"writer child ended ({process.returncode})"
            assert time.monotonic() < deadline, "writer child never reached its hold"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    new_file = {"json": "new", "npz": "new", "record": "new/history.csv"}.get(
        kind, f"new/{CHECKPOINT}"
    )
    assert not (folder / new_file).exists()
    assert old_file.read_bytes() == old_bytes
    _read(kind, old_file)  # still a whole, readable file
    stray = sorted(folder.rglob(".tmp-*"))
    assert len(stray) == 2, stray  # both writes were really cut half-way
    if kind == "record":
        assert not results.is_complete(folder / "old", {"old": True})  # metrics.json went first
        assert not results.is_complete(folder / "new", {"new": True})
        assert results.find_runs(folder) == []

    # The next write of the same targets ignores the strays and completes.
    _write_old(kind, folder)
    new_old = _read(kind, old_file)
    if kind == "record":
        assert results.is_complete(folder / "old", {"old": True})
        assert new_old["train_loss"].tolist() == [0.5, 0.25]
    assert sorted(folder.rglob(".tmp-*")) == stray


def test_atomic_writes_get_the_permissions_of_an_ordinary_write(tmp_path):
    """Records and caches must be readable by whoever may read the folder (umask 022: 0o644),
    not by their owner only (a temporary file from tempfile.mkstemp is 0o600)."""
    previous = os.umask(0o022)
    try:
        plain = tmp_path / "plain.json"
        plain.write_text("{}")
        write_json(tmp_path / "atomic.json", {})
        _keypoint_set(1).save(tmp_path / "set.npz")
    finally:
        os.umask(previous)
    expected = plain.stat().st_mode & 0o777
    assert expected == 0o644
    for name in ("atomic.json", "set.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, name


def test_stray_temporary_files_are_not_records(tmp_path):
    folder = run_folder(tmp_path, 0)
    history = pd.DataFrame({"epoch": [1]})
    results.write_record(folder, {"a": 1}, {"pckh": 1.0}, history, history, {})
    (folder / ".tmp-metrics.json.abc123").write_text('{"pckh": ')
    other = run_folder(tmp_path, 1)
    other.mkdir(parents=True)
    (other / "config.json").write_text('{"a": 1}')
    (other / ".tmp-metrics.json.xyz").write_text('{"pckh": 1.0}')
    assert results.find_runs(tmp_path) == [folder]
    assert results.is_complete(folder, {"a": 1}) and not results.is_complete(other, {"a": 1})
    assert results.load_metrics(results.find_runs(tmp_path))["pckh"].tolist() == [1.0]


# ----------------------------------------------------------------------------- finished runs


def test_finished_run_is_not_retrained_unless_forced(tmp_path, monkeypatch):
    config = tiny_pose_config(epochs=2)
    folder = pose.run_pose(config, tmp_path, ABLATION, SETTING, progress=False)
    stamps = mtimes(folder)
    calls = []
    real_fit = studylib.run.fit_run

    def spy(model, task, train_set, test_set, config, folder, *args, **kwargs):
        calls.append((Path(folder) / CHECKPOINT).exists())
        return real_fit(model, task, train_set, test_set, config, folder, *args, **kwargs)

    monkeypatch.setattr(studylib.run, "fit_run", spy)  # the driver both tracks use
    started = time.perf_counter()
    assert pose.run_pose(config, tmp_path, ABLATION, SETTING, progress=False) == folder
    assert calls == [] and time.perf_counter() - started < 5.0
    assert mtimes(folder) == stamps

    pose.run_pose(config, tmp_path, ABLATION, SETTING, force=True, progress=False)
    assert calls == [False]  # trained again, from scratch: the old checkpoint was removed
    changed = mtimes(folder)
    assert all(changed[name] != stamps[name] for name in results.RECORD_FILES)


def test_the_same_config_gives_the_same_numbers_twice_in_one_process(tmp_path):
    config = tiny_pose_config(epochs=2)
    torch.manual_seed(1234)  # whatever the process ran before (a fresh one: a random state)
    first = pose.run_pose(config, tmp_path / "a", ABLATION, SETTING, progress=False)
    second = pose.run_pose(config, tmp_path / "b", ABLATION, SETTING, progress=False)
    assert_same_record(second, first)


# ----------------------------------------------------------------------------- non-finite loss


class _InfiniteGradient(torch.autograd.Function):
    """The identity whose gradient is infinite: a finite loss with a non-finite gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, math.inf)


FAULTS = {
    "nan loss": lambda loss: loss * math.nan,
    "inf loss": lambda loss: loss * math.inf,
    "inf gradient": _InfiniteGradient.apply,
}


@pytest.mark.parametrize("fault", FAULTS)
def test_non_finite_loss_stops_at_once_and_keeps_the_last_good_checkpoint(fault, tmp_path):
    config = tiny_pose_config()

    def wrap(task):
        return FaultyTask(task, epoch=2, step=3, fault=FAULTS[fault])

    with pytest.raises(
        NonFiniteLossError, match=r"at epoch 2, step 3 \(phase joint, lr [-+.\de]+ of 0.002\)"
    ):
        fit_tiny(config, tmp_path, wrap)
    state = torch.load(tmp_path / CHECKPOINT, map_location="cpu", weights_only=False)
    assert state["epoch"] == 1 and [row["epoch"] for row in state["history"]] == [1]
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    pose.build_model(config, MPII.num_keypoints).load_state_dict(state["model"])


def test_non_finite_loss_error_says_which_checkpoint_is_kept(tmp_path):
    def wrap(task):
        return FaultyTask(task, epoch=2, step=3, fault=FAULTS["nan loss"])

    with pytest.raises(NonFiniteLossError, match=r"checkpoint of epoch 1 in .* is kept") as error:
        fit_tiny(tiny_pose_config(), tmp_path, wrap)
    assert "loss is nan" in str(error.value)
    with pytest.raises(NonFiniteLossError, match="no epoch had finished"):
        fit_tiny(
            tiny_pose_config(),
            tmp_path / "other",
            lambda task: FaultyTask(task, 1, 2, FAULTS["nan loss"]),
        )


def test_huge_learning_rate_stops_the_run_without_a_record(tmp_path):
    config = tiny_pose_config(lr=1e30)
    with pytest.raises(
        NonFiniteLossError, match=r"loss is (nan|inf) at epoch 1, step \d+ .*1e\+30"
    ):
        pose.run_pose(config, tmp_path, ABLATION, SETTING, progress=False)
    folder = run_folder(tmp_path, 0)
    assert not (folder / "metrics.json").exists()
    assert not results.is_complete(folder, config.to_dict())


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_of_another_config_is_not_resumed(tmp_path):
    first, second = tiny_pose_config(epochs=2), tiny_pose_config(epochs=3, lr=1e-3)
    fit_tiny(first, tmp_path / "run")
    assert checkpoint_epoch(tmp_path / "run") == 2
    resumed, _ = fit_tiny(second, tmp_path / "run")
    fresh, _ = fit_tiny(second, tmp_path / "fresh")
    pd.testing.assert_frame_equal(resumed.history, fresh.history)
    # The second config's rate (1e-3), a tenth of it at the first step of its warm-up.
    assert resumed.history["lr"].iloc[0] == pytest.approx(1e-4)

    # Control: a checkpoint of the same config is resumed (here: nothing is left to train).
    again, task = fit_tiny(second, tmp_path / "run", lambda task: FaultyTask(task, 99, 1, None))
    assert task.steps == 0
    pd.testing.assert_frame_equal(again.history, fresh.history)
    assert again.metrics == fresh.metrics


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_checkpoint_starts_afresh_with_a_warning(damage, tmp_path):
    config = tiny_pose_config(epochs=2)
    fit_tiny(config, tmp_path / "run")
    path = tmp_path / "run" / CHECKPOINT
    data = path.read_bytes()
    path.write_bytes(b"not a checkpoint" if damage == "garbage" else data[: len(data) // 2])
    with pytest.warns(UserWarning, match=r"checkpoint\.pt: not a readable checkpoint"):
        restarted, task = fit_tiny(config, tmp_path / "run", lambda t: FaultyTask(t, 99, 1, None))
    assert task.steps == 2 * STEPS_PER_EPOCH  # trained from scratch
    fresh, _ = fit_tiny(config, None)
    pd.testing.assert_frame_equal(restarted.history, fresh.history)
    assert checkpoint_epoch(tmp_path / "run") == 2


def test_resumed_fit_matches_an_uninterrupted_one_in_process(tmp_path):
    """The in-process form of the kill tests: stop after epoch 2 (the task raises), resume."""
    config = tiny_pose_config()

    class Stop(Exception):
        pass

    def stop_in_epoch_3(task):
        def fault(loss):
            raise Stop

        return FaultyTask(task, epoch=3, step=2, fault=fault)

    with pytest.raises(Stop):
        fit_tiny(config, tmp_path / "run", stop_in_epoch_3)
    assert checkpoint_epoch(tmp_path / "run") == 2
    resumed, task = fit_tiny(config, tmp_path / "run", lambda t: FaultyTask(t, 99, 1, None))
    assert task.steps == 2 * STEPS_PER_EPOCH  # only epochs 3 and 4 were trained
    whole, _ = fit_tiny(config, None)
    pd.testing.assert_frame_equal(resumed.history, whole.history)
    pd.testing.assert_frame_equal(resumed.per_sample, whole.per_sample)
    assert resumed.metrics == whole.metrics
