"""Training throughput benchmark: images/s, step time (data vs compute), FLOP/s, peak memory,
and inference latency (one image).

    python -m studylib.bench                      # this machine's device, the study's sizes
    python -m studylib.bench --device cpu --tiny  # seconds; what CI runs
    python -m studylib.bench --models hourglass-4 --batch-size 64 --compile

For each model it times training steps through the same data path as training (slice a uint8
batch on the device, augment it there, render the targets) and the same step (forward, loss,
backward, RMSProp), separately and together, after warm-up steps. FLOPs per step are counted
with ``torch.utils.flop_counter`` and compared with the device's peak, measured on the spot
with a large matrix product in the step's precision (fp32 on the CPU, bf16 on CUDA). Each
result is written to ``results/bench/<device>/<model>.json`` with its provenance, and printed.
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from studylib import results
from studylib.data.augment import AugmentConfig, augment
from studylib.data.heatmaps import image_to_heatmap, render_heatmaps
from studylib.data.keypoints import FACE68, MPII, KeypointSpec
from studylib.io import read_json, write_json
from studylib.models import LandmarkNet, StackedHourglass
from studylib.train import configure_device, resolve_device


@dataclass(frozen=True)
class BenchCase:
    """One model at one size."""

    name: str
    model: str  # "hourglass" or "landmark"
    image_size: int
    num_stacks: int = 4
    features: int = 256
    width: int = 64


#: The study's networks at the papers' sizes (what a GPU run trains).
PAPER_CASES = (
    BenchCase("hourglass-2", "hourglass", 256, num_stacks=2),
    BenchCase("hourglass-4", "hourglass", 256, num_stacks=4),
    BenchCase("hourglass-8", "hourglass", 256, num_stacks=8),
    BenchCase("landmark-adm", "landmark", 224, width=64),
)
#: Tiny versions for CI: the same code path in seconds.
TINY_CASES = (
    BenchCase("hourglass-2-tiny", "hourglass", 64, num_stacks=2, features=16),
    BenchCase("landmark-adm-tiny", "landmark", 64, width=8),
)


def build(case: BenchCase) -> tuple[nn.Module, KeypointSpec, Callable, Callable]:
    """The model, its keypoint scheme, a target maker (joints, valid, size) and a loss."""
    if case.model == "hourglass":
        model = StackedHourglass(
            case.num_stacks, case.features, MPII.num_keypoints, attention="acnn"
        )
        spec, stride = MPII, model.stride

        def make_targets(joints, valid, size):
            return render_heatmaps(image_to_heatmap(joints, stride), valid, size // stride)

        def loss(model, images, targets):
            out = model(images)
            return sum(nn.functional.mse_loss(p.float(), targets) for p in out.predictions)

    elif case.model == "landmark":
        model = LandmarkNet(FACE68.num_keypoints, width=case.width, input_size=case.image_size)
        spec = FACE68

        def make_targets(joints, valid, size):
            return (joints + 0.5) / size * 2 - 1

        def loss(model, images, targets):
            return model.loss(model(images), targets)

    else:
        raise ValueError(f"unknown benchmark model {case.model!r}; known: hourglass, landmark")
    return model, spec, make_targets, loss


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


def measure_peak_flops(device: torch.device, dtype: torch.dtype, size: int = 4096) -> float:
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


def run_case(
    case: BenchCase,
    device: torch.device,
    batch_size: int,
    steps: int,
    warmup: int,
    channels_last: bool = True,
    compile_model: bool = False,
) -> dict:
    """Time ``steps`` training steps of one case after ``warmup`` steps."""
    torch.manual_seed(0)
    model, spec, make_targets, loss_fn = build(case)
    model.to(device).train()
    use_cuda = device.type == "cuda"
    if channels_last and use_cuda:
        model = model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if compile_model else model
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-4)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_cuda)
    generator = torch.Generator().manual_seed(0)
    pool = max(4 * batch_size, 64)
    size = case.image_size
    images_u8 = torch.randint(0, 256, (pool, size, size, 3), dtype=torch.uint8, device=device)
    joints = torch.rand(pool, spec.num_keypoints, 2, device=device) * (size - 1)
    valid = torch.ones(pool, spec.num_keypoints, dtype=torch.bool, device=device)
    flip = torch.from_numpy(spec.flip_permutation())

    def data_step():
        idx = torch.randint(0, pool, (batch_size,), generator=generator).to(device)
        x = images_u8[idx].permute(0, 3, 1, 2).float().div_(255.0)
        x, j, v = augment(x, joints[idx], valid[idx], AugmentConfig(), flip, generator)
        if channels_last and use_cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, make_targets(j, v, size)

    def compute_step(x, targets):
        with autocast:
            loss = loss_fn(step_model, x, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    x, targets = data_step()
    with FlopCounterMode(display=False) as counter:
        compute_step(x, targets)
    flops_per_step = counter.get_total_flops()

    for _ in range(warmup):
        compute_step(*data_step())
    if use_cuda:
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)

    def timed(fn: Callable[[], object]) -> float:
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        _sync(device)
        return (time.perf_counter() - start) / steps

    batches = [data_step() for _ in range(steps)]
    data_time = timed(data_step)
    queue = iter(batches)
    compute_time = timed(lambda: compute_step(*next(queue)))
    step_time = timed(lambda: compute_step(*data_step()))
    latency = inference_latency_ms(model, x[:1].contiguous(), repeats=max(steps, 3))
    peak_memory = (
        torch.cuda.max_memory_allocated(device)
        if use_cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    return {
        "case": asdict(case),
        "batch_size": batch_size,
        "steps": steps,
        "precision": "bf16 autocast" if use_cuda else "fp32",
        "channels_last": channels_last and use_cuda,
        "compiled": compile_model,
        "parameters": sum(p.numel() for p in model.parameters()),
        "images_per_s": batch_size / step_time,
        "step_time_ms": 1000 * step_time,
        "data_time_ms": 1000 * data_time,
        "compute_time_ms": 1000 * compute_time,
        "compute_share": compute_time / (compute_time + data_time),
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
        record = read_json(path)
        prov = record["provenance"]
        rows.append(
            {
                "device": prov["device_name"],
                "kind": torch.device(prov["device"]).type,
                "model": record["case"]["name"],
                "batch": record["batch_size"],
                "precision": record["precision"],
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


def device_slug(device: torch.device) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--tiny", action="store_true", help="tiny models at 64 px (CI)")
    parser.add_argument("--models", nargs="+", help="case names (default: all of the chosen set)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 on CUDA, 8 on CPU")
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps (default 20 CUDA, 3 CPU)"
    )
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument(
        "--out", type=Path, default=None, help="records folder (default results/bench)"
    )
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    configure_device(device)
    cuda = device.type == "cuda"
    cases = {c.name: c for c in (TINY_CASES if args.tiny else PAPER_CASES)}
    unknown = sorted(set(args.models or ()) - set(cases))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {sorted(cases)}")
    batch_size = args.batch_size or (64 if cuda else 8)
    steps = args.steps or (20 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    for name, value in (("--batch-size", batch_size), ("--steps", steps)):
        if value < 1:
            parser.error(f"{name} must be >= 1, got {value}")

    out = (args.out or results.project_root() / "results" / "bench") / device_slug(device)
    peak = measure_peak_flops(device, torch.bfloat16 if cuda else torch.float32)
    print(f"device {device} ({device_slug(device)}), measured peak {peak / 1e12:.2f} TFLOP/s")
    columns = ("img/s", "step ms", "data ms", "compute", "TFLOP/s", "of peak")
    print(f"{'model':<20}" + "".join(f"{c:>9}" for c in columns) + f"{'MiB':>8}")
    for index, name in enumerate(args.models or cases):
        started = time.perf_counter()
        record = run_case(
            cases[name], device, batch_size, steps, warmup, compile_model=args.compile
        )
        if not cuda and index:  # the process's peak cannot be reset between cases
            record["peak_memory_kind"] += ", includes the cases run before it (use --models)"
        record["device_peak_flops_per_s"] = peak
        record["fraction_of_peak"] = record["achieved_flops_per_s"] / peak
        record["provenance"] = results.provenance(device, time.perf_counter() - started)
        write_json(out / f"{name}.json", record)
        print(
            f"{name:<20}{record['images_per_s']:>9.1f}{record['step_time_ms']:>9.1f}"
            f"{record['data_time_ms']:>9.1f}{record['compute_share']:>9.0%}"
            f"{record['achieved_flops_per_s'] / 1e12:>9.3f}{record['fraction_of_peak']:>9.0%}"
            f"{record['peak_memory_mb']:>8.0f}",
            flush=True,
        )
    print(f"records: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
