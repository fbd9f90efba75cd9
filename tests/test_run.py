"""The run driver (studylib.run): a configuration shared by two ablations is trained once, by
its owner, and linked; a shared run never overwrites its owner's record of another configuration.
(Reusing a finished run and resuming an interrupted one are tested in test_reliability.py.)
"""

import pytest

from studylib import pose, results
from studylib.config import PoseConfig
from studylib.io import read_json


def shared_config() -> PoseConfig:
    """A one-epoch run of 16 images, the configuration two ablations share."""
    return PoseConfig.from_profile(
        "smoke", features=8, num_train=16, num_test=8, batch_size=8, epochs=1, device="cpu"
    )


def test_a_shared_configuration_is_trained_once_and_linked(tmp_path):
    config = shared_config()
    source = pose.run_pose(config, tmp_path, "freezing", "no-attention", progress=False)
    stamp = (source / "metrics.json").stat().st_mtime_ns
    linked = pose.run_pose(
        config,
        tmp_path,
        "baseline",
        "hourglass",
        force=True,  # forcing the baseline does not retrain the run another ablation owns
        shared_with=("freezing", "no-attention"),
        progress=False,
    )
    assert (source / "metrics.json").stat().st_mtime_ns == stamp
    assert read_json(linked / "metrics.json") == read_json(source / "metrics.json")
    assert results.is_complete(linked, config.to_dict())
    assert "floor" in read_json(linked / "metrics.json")
    # The layout the run trained in (a CPU run: contiguous by default) is in its provenance.
    assert read_json(source / "provenance.json")["channels_last"] is False


def test_a_shared_run_never_overwrites_the_owners_record_of_another_configuration(tmp_path):
    config = shared_config()
    owner = pose.run_pose(config, tmp_path, "freezing", "no-attention", progress=False)
    other = config.replace(lr=1e-3)
    folder = pose.run_pose(
        other,
        tmp_path,
        "baseline",
        "hourglass",
        shared_with=("freezing", "no-attention"),
        progress=False,
    )
    assert results.is_complete(owner, config.to_dict())  # the owner's run is untouched
    assert results.is_complete(folder, other.to_dict())
    assert not (folder / "metrics.json").samefile(owner / "metrics.json")


def test_the_command_line_names_itself_lists_its_keys_and_refuses_a_bad_key(capsys):
    from studylib import run

    with pytest.raises(SystemExit):
        run.main(["--help"])
    help_text = capsys.readouterr().out
    assert help_text.startswith("usage: python -m studylib.run")
    assert "num_stacks" in help_text and "reduction_ratio" in help_text
    with pytest.raises(SystemExit) as exit_info:
        run.main(["pose", "--profile", "smoke", "--set", "epoch=3"])
    assert exit_info.value.code == 2  # argparse's error, not a traceback
    error = capsys.readouterr().err
    assert "error: --set" in error and "'epoch'" in error and "epochs" in error
