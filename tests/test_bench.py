"""The benchmark (studylib.bench) runs end to end at a tiny size, times training's own step and
writes complete records."""

import json

import pytest
import torch

from studylib import bench, train


def test_tiny_benchmark_writes_records(tmp_path, capsys):
    args = ["--device", "cpu", "--tiny", "--steps", "1", "--warmup", "0", "--out", str(tmp_path)]
    assert bench.main([*args, "--batch-sizes", "2", "4"]) == 0
    records = sorted((tmp_path / "cpu").glob("*.json"))
    assert [r.stem for r in records] == sorted(
        f"{c.name}-b{size}" for c in bench.TINY_CASES for size in (2, 4)
    )
    for path in records:
        record = json.loads(path.read_text())
        assert record["images_per_s"] > 0 and record["flops_per_image"] > 0
        assert 0 <= record["compute_share"] <= 1
        assert record["step_time_ms"] > 0 and record["peak_memory_mb"] > 0
        assert record["inference_latency_ms"] > 0 and not record["compiled"]
        assert record["provenance"]["torch_version"]
        assert record["case"]["config"]["profile"] == "smoke"
    assert "img/s" in capsys.readouterr().out
    table = bench.load_records(tmp_path)
    assert len(table) == len(records) and (table["images/s"] > 0).all()


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit):
        bench.main(["--device", "cpu", "--tiny", "--models", "resnet-50", "--out", str(tmp_path)])


def test_the_benchmark_times_the_training_step(monkeypatch):
    calls = []
    real = train.train_step

    def spy(*args, **kwargs):
        calls.append(args[2])  # the task
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "train_step", spy)
    case = bench.TINY_CASES[0]
    record = bench.run_case(case, torch.device("cpu"), batch_size=2, steps=2, warmup=1)
    # warm-up, the FLOP count, then the timed steps
    assert len(calls) == 1 + 1 + 2
    assert type(calls[0]).__name__ == "PoseTask"
    assert record["precision"] == "fp32" and not record["channels_last"]


def test_flop_count_grows_with_the_stacks():
    two = bench.BenchCase("a", "pose", "smoke", dict(num_stacks=2))
    four = bench.BenchCase("b", "pose", "smoke", dict(num_stacks=4))
    r2 = bench.run_case(two, torch.device("cpu"), batch_size=2, steps=1, warmup=0)
    r4 = bench.run_case(four, torch.device("cpu"), batch_size=2, steps=1, warmup=0)
    assert 1.6 < r4["flops_per_image"] / r2["flops_per_image"] < 2.2


def test_side_by_side_comparisons_run_and_write_records(tmp_path, monkeypatch, capsys):
    from studylib import bench_compare

    # One tiny case, one step: the code path of --against and --kernels in seconds.
    monkeypatch.setattr(bench_compare, "QUICK_CASES", (("pose-tiny", "pose", "smoke", {}),))
    args = [
        "--against",
        "HEAD",
        "--kernels",
        "--rounds",
        "1",
        "--steps",
        "1",
        "--out",
        str(tmp_path),
    ]
    assert bench.main(args) == 0
    against = json.loads((tmp_path / "cpu" / "compare-against-HEAD.json").read_text())
    (row,) = against["rows"]
    assert row["ratio"] > 0 and row["HEAD images/s"] > 0 and row["this code images/s"] > 0
    kernels = json.loads((tmp_path / "cpu" / "compare-kernels.json").read_text())
    assert [r["variant"] for r in kernels["rows"]] == [v[0] for v in bench_compare.KERNEL_VARIANTS]
    assert kernels["rows"][0]["vs avx2 pin"] == 1.0
    assert "ratio" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a commit that is not there is named
        bench.main(["--against", "no-such-commit", "--out", str(tmp_path)])
