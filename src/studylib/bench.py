"""Training throughput benchmark: the training step itself, timed.

    python -m studylib.bench                      # this machine's device, the papers' sizes
    python -m studylib.bench --device cpu --tiny  # seconds; what CI runs
    python -m studylib.bench --models hourglass-4 --batch-sizes 16 32 64 --compile-too
    python -m studylib.bench --against dec1bc9    # quick steps, this code vs a commit's
    python -m studylib.bench --kernels            # kernel choices, layouts, precisions
    python -m studylib.bench --reference          # paper-size hourglass vs a reference one

The last three compare side by side in one run, each timing in a fresh one-thread process
(:mod:`studylib.bench_compare`); they print ratios and write ``results/bench/cpu/<what>.json``.

A case is a track's run config (:class:`~studylib.config.PoseConfig` or
:class:`~studylib.config.FaceConfig`): the model comes from the track's own builder, the loss from
its task (augmentation on the device, targets, the loss the paper gives) and the step from
:func:`studylib.train.train_step`, the function :func:`studylib.train.fit` runs, with its
gradient norms and finite checks, RMSProp, channels_last and ``torch.compile`` as training sets
them (:func:`studylib.train.step_model_for`). So the images/s here are training's.

For each case and batch size it times, after warm-up steps, the data part of a step (slicing a
uint8 batch on the device and augmenting it, as the task does) on its own, and the whole step;
compute is the rest. FLOPs per step are counted with ``torch.utils.flop_counter`` and compared
with the device's peak, measured on the spot with a large matrix product in the step's
precision (fp32 on the CPU, bf16 on CUDA). Each result is written to
``results/bench/<device>/<case>-b<batch>[-compiled].json`` with its provenance, and printed.
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from studylib import results, train
from studylib.config import FaceConfig, PoseConfig
from studylib.data.augment import augment
from studylib.data.keypoints import FACE68, MPII
from studylib.io import read_json, write_json


@dataclass(frozen=True)
class BenchCase:
    """One track's run config at one size: ``track`` is "pose" or "face", ``profile`` the
    config's profile and ``overrides`` what differs from it."""

    name: str
    track: str
    profile: str = "full"
    overrides: dict[str, Any] = field(default_factory=dict)

    def config(self, device: str) -> PoseConfig | FaceConfig:
        kind = {"pose": PoseConfig, "face": FaceConfig}.get(self.track)
        if kind is None:
            raise ValueError(f"unknown benchmark track {self.track!r}; known: pose, face")
        return kind.from_profile(self.profile, device=device, **self.overrides)


#: The study's networks at the papers' sizes: ACNN's hourglass at 256 px, the face paper's
#: LandmarkNet (ADM) at 224 px.
PAPER_CASES = (
    BenchCase("hourglass-2", "pose", overrides=dict(num_stacks=2, attention="acnn")),
    BenchCase("hourglass-4", "pose", overrides=dict(num_stacks=4, attention="acnn")),
    BenchCase("hourglass-8", "pose", overrides=dict(num_stacks=8, attention="acnn")),
    BenchCase("landmark-adm", "face"),
)
#: Tiny versions for CI: the same code path in seconds.
TINY_CASES = (
    BenchCase("hourglass-2-tiny", "pose", "smoke", dict(attention="acnn")),
    BenchCase("landmark-adm-tiny", "face", "smoke"),
)


def build(case: BenchCase, device: torch.device) -> tuple[nn.Module, train.Task, Any]:
    """The model and task of a case, as the track's run builds them (weights from seed 0)."""
    config = case.config(device.type)
    torch.manual_seed(0)
    if case.track == "pose":
        from studylib import pose

        model = pose.build_model(config, MPII.num_keypoints)
        task = pose.build_task(config, MPII, model)
    else:
        from studylib import face

        model = face.build_model(config, FACE68.num_keypoints)
        task = face.build_task(config, FACE68)
    return model, task, config


def forward_flops(model: nn.Module, image_size: int) -> int:
    """FLOPs of one forward pass of one image (``torch.utils.flop_counter``; a multiply-add
    counts as 2 FLOPs), in eval mode."""
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, image_size, image_size))
    model.train(was_training)
    return counter.get_total_flops()


def inference_latency_ms(model: nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median time of one forward pass of ``x`` in eval mode, in milliseconds."""
    was_training = model.training
    model.eval()
    times = []
    with torch.no_grad():
        for i in range(repeats + 2):
            _sync(x.device)
            start = time.perf_counter()
            model(x)
            _sync(x.device)
            if i >= 2:
                times.append(time.perf_counter() - start)
    model.train(was_training)
    return 1000 * sorted(times)[len(times) // 2]


def measure_peak_flops(device: torch.device, dtype: torch.dtype, size: int = 8192) -> float:
    """FLOP/s of a large matrix product: the device's practical peak in this precision."""
    size = size if device.type == "cuda" else 1024
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    repeats = 20 if device.type == "cuda" else 5
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def synthetic_data(
    config: PoseConfig | FaceConfig, num_keypoints: int, pool: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """A pool of random uint8 images and keypoints on the device, shaped like ``to_device``'s."""
    rng = np.random.default_rng(0)
    size = config.image_size
    return {
        "images": torch.from_numpy(rng.integers(0, 256, (pool, size, size, 3), dtype=np.uint8)).to(
            device
        ),
        "joints": torch.from_numpy(
            rng.uniform(0.1 * size, 0.9 * size, (pool, num_keypoints, 2)).astype(np.float32)
        ).to(device),
        "valid": torch.ones(pool, num_keypoints, dtype=torch.bool, device=device),
    }


def run_case(
    case: BenchCase,
    device: torch.device,
    batch_size: int,
    steps: int,
    warmup: int,
    compile_model: bool = False,
) -> dict:
    """Time ``steps`` training steps of one case after ``warmup`` steps."""
    model, task, config = build(case, device)
    model.to(device)
    phase = config.phases()[0]
    trainable = train.apply_phase(model, phase)
    train.train_mode(model)
    use_cuda = device.type == "cuda"
    channels_last = train.default_channels_last(device, config.channels_last)
    step_model = train.step_model_for(model, device, channels_last, compile_model)
    optimizer = train.make_optimizer(getattr(config, "optimizer", "rmsprop"), trainable, phase.lr)
    autocast = train.autocast_for(device, config.amp)
    generator = torch.Generator().manual_seed(0)
    num_keypoints = model.num_joints if case.track == "pose" else model.num_landmarks
    pool = max(4 * batch_size, 64)
    data = synthetic_data(config, num_keypoints, pool, device)

    def batch() -> dict[str, torch.Tensor]:
        (idx,) = list(train.batch_indices(pool, batch_size, generator, device=device))[:1]
        return {key: value[idx] for key, value in data.items()}

    def data_step() -> object:
        b = batch()
        images = b["images"].permute(0, 3, 1, 2).float().div_(255.0)
        step_generator = train.step_generator(generator, 0, device)
        return augment(
            images, b["joints"], b["valid"], task.augment, task.flip_permutation, step_generator
        )

    def step() -> train.StepResult:
        return train.train_step(
            model,
            step_model,
            task,
            optimizer,
            batch(),
            train.step_generator(generator, 0, device),
            autocast,
        )

    for _ in range(max(warmup, 1 if compile_model else 0)):
        step()
    with FlopCounterMode(display=False) as counter:
        step()
    flops_per_step = counter.get_total_flops()
    if use_cuda:
        torch.cuda.reset_peak_memory_stats(device)

    def timed(fn: Callable[[], object]) -> float:
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        _sync(device)
        return (time.perf_counter() - start) / steps

    data_time = timed(data_step)
    step_time = timed(step)
    x = data["images"][:1].permute(0, 3, 1, 2).float().div(255.0)
    latency = inference_latency_ms(model, x, repeats=max(steps, 3))
    peak_memory = (
        torch.cuda.max_memory_allocated(device)
        if use_cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    compute_time = max(step_time - data_time, 0.0)
    return {
        "case": {**asdict(case), "config": config.to_dict()},
        "batch_size": batch_size,
        "steps": steps,
        "precision": "bf16 autocast" if config.amp and use_cuda else "fp32",
        "channels_last": channels_last,
        "compiled": compile_model,
        "parameters": sum(p.numel() for p in model.parameters()),
        "images_per_s": batch_size / step_time,
        "step_time_ms": 1000 * step_time,
        "data_time_ms": 1000 * data_time,
        "compute_time_ms": 1000 * compute_time,
        "compute_share": compute_time / step_time,
        "flops_per_image": flops_per_step / batch_size,
        "inference_latency_ms": latency,
        "achieved_flops_per_s": flops_per_step / step_time,
        "peak_memory_mb": peak_memory / 2**20,
        "peak_memory_kind": "CUDA max allocated" if use_cuda else "process max RSS",
    }


RECORD_COLUMNS = (
    "device",
    "kind",
    "model",
    "batch",
    "precision",
    "compiled",
    "images/s",
    "step (ms)",
    "data (ms)",
    "compute share",
    "TFLOP/s",
    "of peak",
    "latency, 1 image (ms)",
    "peak memory (MiB)",
    "commit",
)


def load_records(folder: str | Path) -> pd.DataFrame:
    """Every benchmark record under ``folder`` (``results/bench``), one row each."""
    rows = []
    for path in sorted(Path(folder).glob("*/*.json")):
        if path.name.startswith("compare-"):  # side-by-side comparisons: load_comparisons
            continue
        record = read_json(path)
        prov = record["provenance"]
        rows.append(
            {
                "device": prov["device_name"],
                "kind": torch.device(prov["device"]).type,
                "model": record["case"]["name"],
                "batch": record["batch_size"],
                "precision": record["precision"],
                "compiled": record.get("compiled", False),
                "images/s": record["images_per_s"],
                "step (ms)": record["step_time_ms"],
                "data (ms)": record["data_time_ms"],
                "compute share": record["compute_share"],
                "TFLOP/s": record["achieved_flops_per_s"] / 1e12,
                "of peak": record["fraction_of_peak"],
                "latency, 1 image (ms)": record["inference_latency_ms"],
                "peak memory (MiB)": record["peak_memory_mb"],
                "commit": (prov.get("git_commit") or "")[:10],
            }
        )
    return pd.DataFrame(rows, columns=list(RECORD_COLUMNS))


def load_comparisons(folder: str | Path) -> list[tuple[str, pd.DataFrame]]:
    """The side-by-side comparisons under ``folder`` (``results/bench``; ``--against``,
    ``--kernels``, ``--reference``): a caption (what, where, at which commit) and a table each."""
    titles = {
        "against": "Quick training steps, this code against commit {commit}",
        "kernels": "Quick training steps under each kernel choice, layout and precision",
        "reference": "The paper-size plain hourglass against a princeton-vl-style one",
    }
    shown = []
    for path in sorted(Path(folder).glob("*/compare-*.json")):
        record = read_json(path)
        prov = record["provenance"]
        kernels = prov.get("cpu_kernels") or {}
        caption = (
            titles[record["comparison"]].format(commit=record.get("commit"))
            + f": images/s, median of {record['rounds']} alternating rounds, one thread per "
            f"process; {prov['device_name']} ({kernels.get('cpu_model')}), commit "
            f"{str(prov.get('git_commit'))[:10]}."
        )
        rows = [{k: v for k, v in row.items() if k != "samples"} for row in record["rows"]]
        shown.append((caption, pd.DataFrame(rows)))
    return shown


def device_slug(device: torch.device) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def record_name(case: BenchCase, batch_size: int, compiled: bool) -> str:
    return f"{case.name}-b{batch_size}" + ("-compiled" if compiled else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--tiny", action="store_true", help="tiny models at 64 px (CI)")
    parser.add_argument("--models", nargs="+", help="case names (default: all of the chosen set)")
    parser.add_argument(
        "--batch-sizes",
        "--batch-size",
        type=int,
        nargs="+",
        default=None,
        help="default 16 32 64 on CUDA, 8 on CPU",
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps (default 20 CUDA, 3 CPU)"
    )
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model only")
    parser.add_argument(
        "--compile-too",
        action="store_true",
        help="eager at every batch size, and compiled at the largest",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="records folder (default results/bench)"
    )
    compare = parser.add_argument_group("side-by-side comparisons (CPU, fresh processes)")
    compare.add_argument("--against", metavar="COMMIT", help="this code's quick steps vs COMMIT's")
    compare.add_argument("--kernels", action="store_true", help="kernel/layout/precision variants")
    compare.add_argument(
        "--reference", action="store_true", help="the paper-size hourglass vs princeton-vl's"
    )
    compare.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    args = parser.parse_args(argv)
    if args.against or args.kernels or args.reference:
        return compare_main(args, parser)

    device = train.resolve_device(args.device)
    train.configure_device(device)
    cuda = device.type == "cuda"
    cases = {c.name: c for c in (TINY_CASES if args.tiny else PAPER_CASES)}
    unknown = sorted(set(args.models or ()) - set(cases))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {sorted(cases)}")
    batch_sizes = args.batch_sizes or ([16, 32, 64] if cuda else [8])
    steps = args.steps or (20 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    for name, value in (("--batch-sizes", min(batch_sizes)), ("--steps", steps)):
        if value < 1:
            parser.error(f"{name} must be >= 1, got {value}")
    runs = [(size, args.compile) for size in batch_sizes]
    if args.compile_too:
        runs = [(size, False) for size in batch_sizes] + [(max(batch_sizes), True)]

    out = (args.out or results.project_root() / "results" / "bench") / device_slug(device)
    peak = measure_peak_flops(device, torch.bfloat16 if cuda else torch.float32)
    print(f"device {device} ({device_slug(device)}), measured peak {peak / 1e12:.2f} TFLOP/s")
    columns = ("img/s", "step ms", "data ms", "compute", "TFLOP/s", "of peak")
    print(f"{'case':<30}" + "".join(f"{c:>9}" for c in columns) + f"{'MiB':>8}")
    done = 0
    for name in args.models or cases:
        for batch_size, compiled in runs:
            started = time.perf_counter()
            record = run_case(cases[name], device, batch_size, steps, warmup, compiled)
            if not cuda and done:  # the process's peak cannot be reset between cases
                record["peak_memory_kind"] += ", includes the cases run before it (use --models)"
            done += 1
            record["device_peak_flops_per_s"] = peak
            record["fraction_of_peak"] = record["achieved_flops_per_s"] / peak
            record["provenance"] = results.provenance(device, time.perf_counter() - started)
            label = record_name(cases[name], batch_size, compiled)
            write_json(out / f"{label}.json", record)
            print(
                f"{label:<30}{record['images_per_s']:>9.1f}{record['step_time_ms']:>9.1f}"
                f"{record['data_time_ms']:>9.1f}{record['compute_share']:>9.0%}"
                f"{record['achieved_flops_per_s'] / 1e12:>9.3f}"
                f"{record['fraction_of_peak']:>9.0%}{record['peak_memory_mb']:>8.0f}",
                flush=True,
            )
    print(f"records: {out}")
    return 0


def compare_main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The side-by-side comparisons of :mod:`studylib.bench_compare`: print, and write a record."""
    from studylib import bench_compare

    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    root = results.project_root()
    out = (args.out or root / "results" / "bench") / "cpu"
    steps = args.steps or 10
    started = time.perf_counter()
    done = []
    if args.against:
        try:
            done.append(bench_compare.against(args.against, args.rounds, steps, root))
        except ValueError as error:
            parser.error(str(error))
    if args.kernels:
        done.append(bench_compare.kernels(args.rounds, steps, root))
    if args.reference:
        done.append(bench_compare.reference(args.rounds, args.steps or 3, root))
    for record in done:
        table = pd.DataFrame(
            [{k: v for k, v in row.items() if k != "samples"} for row in record["rows"]]
        )
        print(
            f"\n{record['comparison']} (median of {record['rounds']} rounds, "
            f"{record['steps']} timed steps each, one thread per process):"
        )
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        record["provenance"] = results.provenance("cpu", time.perf_counter() - started)
        name = {
            "against": f"against-{args.against}",
            "kernels": "kernels",
            "reference": "reference-hourglass",
        }[record["comparison"]]
        write_json(out / f"compare-{name}.json", record)
    print(f"records: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
