"""The benchmark runs end to end at a tiny size and writes complete records."""

import json

import pytest

from studylib import bench


def test_tiny_benchmark_writes_records(tmp_path, capsys):
    assert (
        bench.main(
            [
                "--device",
                "cpu",
                "--tiny",
                "--steps",
                "1",
                "--warmup",
                "0",
                "--batch-size",
                "2",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    records = sorted((tmp_path / "cpu").glob("*.json"))
    assert [r.stem for r in records] == sorted(c.name for c in bench.TINY_CASES)
    for path in records:
        record = json.loads(path.read_text())
        assert record["images_per_s"] > 0 and record["flops_per_image"] > 0
        assert 0 < record["compute_share"] <= 1
        assert record["step_time_ms"] > 0 and record["peak_memory_mb"] > 0
        assert record["inference_latency_ms"] > 0
        assert record["provenance"]["torch_version"]
    assert "img/s" in capsys.readouterr().out
    table = bench.load_records(tmp_path)
    assert len(table) == len(records) and (table["images/s"] > 0).all()


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit):
        bench.main(["--device", "cpu", "--tiny", "--models", "resnet-50", "--out", str(tmp_path)])


def test_flop_count_grows_with_the_stacks():
    two = bench.BenchCase("a", "hourglass", 64, num_stacks=2, features=16)
    four = bench.BenchCase("b", "hourglass", 64, num_stacks=4, features=16)
    import torch

    r2 = bench.run_case(two, torch.device("cpu"), batch_size=2, steps=1, warmup=0)
    r4 = bench.run_case(four, torch.device("cpu"), batch_size=2, steps=1, warmup=0)
    assert 1.6 < r4["flops_per_image"] / r2["flops_per_image"] < 2.2
