"""One run from the command line, on one process or several (``torchrun``).

    python -m studylib.run pose --profile quick --seed 0 --set num_stacks=4 attention=acnn
    torchrun --nproc_per_node 2 -m studylib.run pose --profile full --set attention=acnn \\
        schedule=A-B-C --ablation freezing --setting acnn-A-B-C

The run's record goes where a notebook's would (``results/<ablation>/<dataset>/<setting>/
seed<k>/``, or ``--results-dir``); a finished run with the same config is skipped unless
``--force``. Under torchrun the processes train one model together (see
:mod:`studylib.distributed`) and rank 0 writes the record.
"""

from __future__ import annotations

import argparse
import json
import sys

from studylib import distributed, results
from studylib.config import PROFILES, PoseConfig
from studylib.pose import run_pose


def parse_assignment(text: str) -> tuple[str, object]:
    """``key=value``: a JSON value (numbers, true/false/null, lists, dicts) or a plain string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("track", choices=("pose",), help="the experiment")
    parser.add_argument("--profile", default="quick", choices=PROFILES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set",
        nargs="*",
        type=parse_assignment,
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, e.g. epochs=4 attention=acnn",
    )
    parser.add_argument("--ablation", default="runs")
    parser.add_argument("--setting", default=None, help="default: a name built from --set")
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)

    overrides = dict(args.set)
    config = PoseConfig.from_profile(args.profile, seed=args.seed, **overrides)
    setting = (
        args.setting or "-".join(f"{k}={v}" for k, v in sorted(overrides.items())) or "default"
    )
    ctx = distributed.setup(config.device)
    try:
        root = results.results_root(args.profile, args.results_dir)
        folder = run_pose(config, root, args.ablation, setting, force=args.force)
        if ctx.is_main:
            print(f"record: {folder}")
    finally:
        distributed.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
