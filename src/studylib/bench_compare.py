"""Side-by-side speed comparisons, each in one run on one machine (``python -m studylib.bench``):

    python -m studylib.bench --against dec1bc9   # this code's quick training steps vs a commit's
    python -m studylib.bench --kernels           # kernel choices, layouts and precisions
    python -m studylib.bench --reference         # the paper-size hourglass vs a reference one

Every timing runs in a fresh process of one thread (the study's lanes are processes of one
thread), because the kernel settings (:mod:`studylib.cpu_kernels`) are read when a process first
computes and cannot change inside one. The variants alternate round by round, so a machine that
slows down during the comparison slows all of them; the median over rounds is reported.

``--against COMMIT`` extracts that commit's ``src/`` (``git archive``) and times its code's
:func:`studylib.bench.run_case` on the same cases and batch sizes as this code's, each with its
own code's defaults (kernels, layout, optimizer): the ratio is what the change of code bought on
this machine. ``--reference`` times the training step of :class:`ReferenceHourglass`, a plain
stacked hourglass written as princeton-vl's ``pytorch_stacked_hourglass`` writes it (NCHW,
float32, MSE on every stack's heatmaps, RMSProp, no augmentation or bookkeeping), beside the
study's :class:`~studylib.models.StackedHourglass` at the same size, timed by
:func:`studylib.bench.run_case` (augmentation, gradient norms and finite checks included).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from studylib.cpu_kernels import CHOICE_ENV, CPU_KERNEL_VARIABLES

#: The study's quick-profile training steps, at the profile's batch sizes.
QUICK_CASES: tuple[tuple[str, str, str, dict], ...] = (
    ("pose-quick", "pose", "quick", {}),
    ("acnn-quick", "pose", "quick", {"attention": "acnn"}),
    ("face-quick", "face", "quick", {}),
)

#: Kernel, layout and precision variants of ``--kernels``: (label, environment, overrides,
#: bf16 autocast on the CPU). bf16 is measured only: the study trains in float32 on the CPU.
KERNEL_VARIANTS: tuple[tuple[str, dict, dict, bool], ...] = (
    (
        "avx2 pin, NCHW (before 2026-12-07)",
        {"STUDYLIB_CPU_KERNELS": "avx2"},
        {"channels_last": False},
        False,
    ),
    ("native, NCHW (default)", {"STUDYLIB_CPU_KERNELS": "native"}, {"channels_last": False}, False),
    (
        "native, channels_last",
        {"STUDYLIB_CPU_KERNELS": "native"},
        {"channels_last": True},
        False,
    ),
    (
        "native, channels_last, bf16 autocast",
        {"STUDYLIB_CPU_KERNELS": "native"},
        {"channels_last": True},
        True,
    ),
)

_WORKER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import studylib  # first: it sets the CPU kernels of this code
import contextlib
import torch
torch.set_num_threads(1)
from studylib import bench
name, track, profile, overrides, batch, steps, warmup, bf16 = json.loads(sys.argv[2])
case = bench.BenchCase(name, track, profile, overrides)
if batch is None:
    batch = case.config("cpu").batch_size
autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
with autocast:
    record = bench.run_case(case, torch.device("cpu"), batch, steps, warmup)
print(json.dumps({"images_per_s": record["images_per_s"], "batch_size": batch,
                  "data_time_ms": record["data_time_ms"], "step_time_ms": record["step_time_ms"]}))
"""


def time_case(
    src: str | Path,
    case: tuple[str, str, str, dict],
    *,
    batch: int | None = None,
    steps: int = 10,
    warmup: int = 3,
    bf16: bool = False,
    env: dict[str, str] | None = None,
) -> dict:
    """One training-step timing of ``case`` (name, track, profile, overrides) with the code under
    ``src``, in a fresh one-thread process; ``env`` changes its environment."""
    payload = json.dumps([*case, batch, steps, warmup, bf16])
    return _run_worker(_WORKER, src, payload, env, f"timing {case[0]} with {src}")


def _run_worker(script: str, src: str | Path, payload: str, env: dict | None, what: str) -> dict:
    """Run ``script`` in a fresh one-thread process on the code under ``src`` and return the JSON
    of its last line. Each code's own kernel defaults apply unless ``env`` sets them."""
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for name in (CHOICE_ENV, "STUDYLIB_PIN_CPU_KERNELS", *CPU_KERNEL_VARIABLES, "PYTHONPATH"):
        environment.pop(name, None)  # STUDYLIB_PIN_CPU_KERNELS: older commits' switch
    environment.update(env or {})
    out = subprocess.run(
        [sys.executable, "-c", script, str(src), payload],
        env=environment,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),  # not the project: its src/ must not shadow the code timed
    )
    if out.returncode:
        raise RuntimeError(f"{what} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def extract_commit(commit: str, into: Path, root: Path) -> Path:
    """``src/`` of ``commit`` (``git archive``) under ``into``; a clear error when the commit is
    not in this repository."""
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", commit, "src"],
        capture_output=True,
    )
    if archive.returncode:
        raise ValueError(
            f"--against {commit!r}: not a commit of {root} ({archive.stderr.decode().strip()})"
        )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def _median_table(samples: dict[tuple[str, str], list[float]]) -> dict[tuple[str, str], float]:
    return {key: statistics.median(values) for key, values in samples.items()}


def against(commit: str, rounds: int, steps: int, root: Path) -> dict:
    """This code's quick training steps against ``commit``'s, ``rounds`` alternating rounds."""
    samples: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="studylib-bench-") as scratch:
        codes = {commit: extract_commit(commit, Path(scratch), root), "this code": root / "src"}
        for _ in range(rounds):
            for name, track, profile, overrides in QUICK_CASES:
                for label, src in codes.items():
                    timing = time_case(src, (name, track, profile, overrides), steps=steps)
                    samples.setdefault((name, label), []).append(timing["images_per_s"])
    medians = _median_table(samples)
    rows = []
    for name, *_ in QUICK_CASES:
        before, after = medians[(name, commit)], medians[(name, "this code")]
        rows.append(
            {
                "case": name,
                f"{commit} images/s": before,
                "this code images/s": after,
                "ratio": after / before,
                "samples": {
                    commit: samples[(name, commit)],
                    "this code": samples[(name, "this code")],
                },
            }
        )
    return {
        "comparison": "against",
        "commit": commit,
        "rounds": rounds,
        "steps": steps,
        "rows": rows,
    }


def kernels(rounds: int, steps: int, root: Path) -> dict:
    """The quick cases under each of :data:`KERNEL_VARIANTS`, this code."""
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for name, track, profile, overrides in QUICK_CASES:
            for label, env, changes, bf16 in KERNEL_VARIANTS:
                case = (name, track, profile, {**overrides, **changes})
                timing = time_case(root / "src", case, steps=steps, bf16=bf16, env=env)
                samples.setdefault((name, label), []).append(timing["images_per_s"])
    medians = _median_table(samples)
    rows = []
    for name, *_ in QUICK_CASES:
        base = medians[(name, KERNEL_VARIANTS[0][0])]
        for label, *_ in KERNEL_VARIANTS:
            value = medians[(name, label)]
            rows.append(
                {"case": name, "variant": label, "images/s": value, "vs avx2 pin": value / base}
            )
    return {"comparison": "kernels", "rounds": rounds, "steps": steps, "rows": rows}


_REFERENCE_WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import studylib
import torch
torch.set_num_threads(1)
from studylib.bench_compare import ReferenceHourglass
stacks, features, size, batch, steps = json.loads(sys.argv[2])
torch.manual_seed(0)
model = ReferenceHourglass(stacks, features, 16)
optimizer = torch.optim.RMSprop(model.parameters(), lr=5e-4)
images = torch.rand(batch, 3, size, size)
targets = torch.rand(batch, 16, size // 4, size // 4)

def step():
    outputs = model(images)
    loss = sum(torch.nn.functional.mse_loss(o, targets) for o in outputs)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

step()
start = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({"images_per_s": batch * steps / (time.perf_counter() - start)}))
"""


def reference(
    rounds: int,
    steps: int,
    root: Path,
    stacks: int = 4,
    features: int = 256,
    size: int = 256,
    batch: int = 4,
) -> dict:
    """The study's plain hourglass at the paper's size against :class:`ReferenceHourglass`."""
    samples: dict[str, list[float]] = {"study": [], "reference": []}
    for _ in range(rounds):
        case = (
            "hourglass-4",
            "pose",
            "full",
            {"num_stacks": stacks, "features": features, "image_size": size},
        )
        samples["study"].append(
            time_case(root / "src", case, batch=batch, steps=steps, warmup=1)["images_per_s"]
        )
        payload = json.dumps([stacks, features, size, batch, steps])
        timing = _run_worker(_REFERENCE_WORKER, root / "src", payload, None, "the reference")
        samples["reference"].append(timing["images_per_s"])
    study, ref = statistics.median(samples["study"]), statistics.median(samples["reference"])
    return {
        "comparison": "reference",
        "size": {"stacks": stacks, "features": features, "image_size": size, "batch": batch},
        "rounds": rounds,
        "steps": steps,
        "rows": [
            {
                "case": f"hourglass {stacks} x {features} at {size} px, batch {batch}",
                "study images/s": study,
                "reference images/s": ref,
                "ratio": study / ref,
                "samples": samples,
            }
        ],
    }


# --------------------------------------------------------------- the reference hourglass
# As princeton-vl/pytorch_stacked_hourglass's models/posenet.py and layers.py build it, so that
# the study's network is timed against the implementation its readers know.

from torch import nn  # noqa: E402  (kept beside the reference it serves)


class _Conv(nn.Module):
    def __init__(self, inp, out, kernel=3, stride=1, bn=False, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(inp, out, kernel, stride, padding=(kernel - 1) // 2, bias=True)
        self.relu = nn.ReLU() if relu else None
        self.bn = nn.BatchNorm2d(out) if bn else None

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.relu is not None:
            x = self.relu(x)
        return x


class _Residual(nn.Module):
    def __init__(self, inp, out):
        super().__init__()
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm2d(inp)
        self.conv1 = _Conv(inp, out // 2, 1, relu=False)
        self.bn2 = nn.BatchNorm2d(out // 2)
        self.conv2 = _Conv(out // 2, out // 2, 3, relu=False)
        self.bn3 = nn.BatchNorm2d(out // 2)
        self.conv3 = _Conv(out // 2, out, 1, relu=False)
        self.skip = _Conv(inp, out, 1, relu=False) if inp != out else None

    def forward(self, x):
        residual = self.skip(x) if self.skip is not None else x
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + residual


class _Hourglass(nn.Module):
    def __init__(self, depth, features):
        super().__init__()
        self.up1 = _Residual(features, features)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.low1 = _Residual(features, features)
        self.low2 = _Hourglass(depth - 1, features) if depth > 1 else _Residual(features, features)
        self.low3 = _Residual(features, features)
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        return self.up1(x) + self.up2(self.low3(self.low2(self.low1(self.pool1(x)))))


class ReferenceHourglass(nn.Module):
    """princeton-vl's PoseNet: stem to 1/4 resolution, ``stacks`` hourglasses, merges."""

    def __init__(self, stacks, features, joints):
        super().__init__()
        self.stacks = stacks
        self.stem = nn.Sequential(
            _Conv(3, 64, 7, 2, bn=True, relu=True),
            _Residual(64, 128),
            nn.MaxPool2d(2, 2),
            _Residual(128, 128),
            _Residual(128, features),
        )
        self.hourglasses = nn.ModuleList(_Hourglass(4, features) for _ in range(stacks))
        self.features = nn.ModuleList(
            nn.Sequential(_Residual(features, features), _Conv(features, features, 1, bn=True))
            for _ in range(stacks)
        )
        self.outs = nn.ModuleList(_Conv(features, joints, 1, relu=False) for _ in range(stacks))
        self.merge_features = nn.ModuleList(
            _Conv(features, features, 1, relu=False) for _ in range(stacks - 1)
        )
        self.merge_preds = nn.ModuleList(
            _Conv(joints, features, 1, relu=False) for _ in range(stacks - 1)
        )

    def forward(self, images):
        x = self.stem(images)
        predictions = []
        for i in range(self.stacks):
            feature = self.features[i](self.hourglasses[i](x))
            preds = self.outs[i](feature)
            predictions.append(preds)
            if i < self.stacks - 1:
                x = x + self.merge_preds[i](preds) + self.merge_features[i](feature)
        return predictions
