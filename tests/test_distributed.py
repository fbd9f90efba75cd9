"""Several processes, one run (studylib.distributed): torchrun with the gloo backend on the CPU,
and with NCCL on CUDA where there is a GPU for every process. (How each process takes its share
of a batch, train.batch_indices, is tested in test_train.py.)"""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from studylib import pose, results
from studylib.config import PoseConfig
from studylib.io import read_json
from studylib.train import load_model_weights

PROCESSES = 2


def _skip_without_devices(device: str) -> None:
    if device == "cuda" and torch.cuda.device_count() < PROCESSES:
        pytest.skip(
            f"DDP on CUDA needs a GPU per process: {PROCESSES} processes, "
            f"{torch.cuda.device_count()} GPU(s) visible"
        )


@pytest.mark.slow
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_torchrun_trains_one_model_and_writes_one_record(device, tmp_path):
    _skip_without_devices(device)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(PROCESSES),
        "-m",
        "studylib.run",
        "pose",
        "--profile",
        "smoke",
        "--set",
        "epochs=2",
        f"device={device}",
        "--results-dir",
        str(tmp_path),
        "--ablation",
        "ddp",
        "--setting",
        "two",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("record:") == 1  # printed by rank 0 only

    runs = results.find_runs(tmp_path)
    assert len(runs) == 1
    folder = runs[0]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*results.RECORD_FILES, "checkpoint.pt"]
    )
    assert read_json(folder / "provenance.json")["processes"] == PROCESSES
    history = results.load_csvs(runs, "history.csv")
    assert len(history) == 2 and np.isfinite(history["train_loss"]).all()

    # The checkpoint loads on one device and reproduces the recorded metrics there.
    config = PoseConfig(**read_json(folder / "config.json"))
    train_set, test_set = pose.load_pose_data(config)
    model = load_model_weights(pose.build_model(config, train_set.spec.num_keypoints), folder)
    task = pose.PoseTask(flip_permutation=torch.from_numpy(test_set.spec.flip_permutation()))
    metrics, _ = task.evaluate(model, test_set, torch.device("cpu"))
    assert metrics["pckh"] == pytest.approx(read_json(folder / "metrics.json")["pckh"])
