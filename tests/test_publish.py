"""What notebooks publish for the chapters (studylib.publish), and the book's read-only rule: while
the book builds, a notebook reads records and never trains or writes under results/."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from IPython.display import HTML, Image  # noqa: E402

from studylib import pose, publish, results  # noqa: E402
from studylib.config import PoseConfig  # noqa: E402


@pytest.fixture
def published(monkeypatch):
    """What :func:`publish.show` hands to myst-nb's glue, by key."""
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display: glued.update({key: value}))
    return glued


def test_a_reading_is_published_as_html_a_chapter_can_paste(published):
    publish.show("reading", "The gap is **0.4** points.\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    html = published["reading"]
    assert isinstance(html, HTML)
    assert "<strong>0.4</strong>" in html.data and "<table>" in html.data


def test_a_table_is_published_as_it_is_and_show_returns_nothing(published):
    table = pd.DataFrame({"PCKh": [45.2]}, index=["no-attention"])
    assert publish.show("scores", table) is None  # a cell ending in show() shows it once
    assert published["scores"] is table


def test_a_figure_is_published_and_closed(published):
    figure, ax = plt.subplots()
    publish.show("curve", ax)
    assert published["curve"] is figure
    assert not plt.fignum_exists(figure.number)


def _draw():
    figure, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    return figure


def _no_checkpoint():
    raise FileNotFoundError("run/checkpoint.pt: no checkpoint")


def _run_folder(path, dataset="synthetic"):
    (path / "config.json").write_text(f'{{"dataset": "{dataset}"}}')
    return path


def test_a_run_figure_is_kept_beside_the_record_when_drawn(tmp_path, monkeypatch):
    monkeypatch.delenv(publish.READ_ONLY_ENV, raising=False)
    _run_folder(tmp_path)
    figure = publish.run_figure(tmp_path, "masks", _draw)
    assert figure is not None
    assert publish.figure_path(tmp_path, "masks").is_file()
    plt.close(figure)


def test_without_the_checkpoint_the_kept_drawing_is_shown(tmp_path, monkeypatch):
    monkeypatch.delenv(publish.READ_ONLY_ENV, raising=False)
    _run_folder(tmp_path)
    plt.close(publish.run_figure(tmp_path, "masks", _draw))
    shown = publish.run_figure(tmp_path, "masks", _no_checkpoint)
    assert isinstance(shown, Image)


def test_without_checkpoint_or_drawing_the_figure_says_why(tmp_path):
    shown = publish.run_figure(tmp_path, "masks", _no_checkpoint)
    assert isinstance(shown, str) and "run/checkpoint.pt" in shown


def test_a_real_datasets_drawing_is_not_kept(tmp_path, monkeypatch):
    """It shows the dataset's images, which stay where the data is, out of the repository."""
    monkeypatch.delenv(publish.READ_ONLY_ENV, raising=False)
    _run_folder(tmp_path, "lsp")
    plt.close(publish.run_figure(tmp_path, "masks", _draw))
    assert not publish.figure_path(tmp_path, "masks").exists()


def test_the_studys_copy_of_a_real_data_notebook_draws_none_of_its_images(tmp_path, monkeypatch):
    """The study sets NO_DATA_IMAGES_ENV for real data: the drawing is not made, a sentence says
    why; synthetic drawings, and real ones outside the study, are drawn as always."""
    monkeypatch.delenv(publish.READ_ONLY_ENV, raising=False)
    monkeypatch.setenv(publish.NO_DATA_IMAGES_ENV, "1")
    _run_folder(tmp_path, "lsp")
    shown = publish.run_figure(tmp_path, "masks", _never_called)
    assert isinstance(shown, str) and "LSP images" in shown and "STUDYLIB_DATA" in shown
    assert "300-W images" in publish.data_figure("300w", _never_called)
    synthetic = publish.data_figure("synthetic", _draw)
    assert synthetic is not None and not isinstance(synthetic, str)
    plt.close(synthetic)
    monkeypatch.delenv(publish.NO_DATA_IMAGES_ENV)
    drawn = publish.data_figure("300w", _draw)
    assert not isinstance(drawn, str)
    plt.close(drawn)


def _never_called():
    raise AssertionError("drew a real dataset's images into the study's copy")


def test_while_the_book_reads_no_drawing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv(publish.READ_ONLY_ENV, "1")
    _run_folder(tmp_path)
    plt.close(publish.run_figure(tmp_path, "masks", _draw))
    assert not publish.figure_path(tmp_path, "masks").exists()


def _tiny() -> PoseConfig:
    return PoseConfig.from_profile(
        "smoke", features=8, num_train=16, num_test=8, batch_size=8, epochs=1, device="cpu"
    )


def test_read_only_a_run_without_its_record_fails_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(publish.READ_ONLY_ENV, "1")
    with pytest.raises(RuntimeError, match="no finished record") as raised:
        pose.run_pose(_tiny(), tmp_path, "freezing", "no-attention", progress=False)
    assert str(results.run_dir(tmp_path, "freezing", "synthetic", "no-attention", 0)) in str(
        raised.value
    )
    assert not any(tmp_path.rglob("*.json"))


def test_read_only_a_finished_run_is_read_and_a_forced_one_refused(tmp_path, monkeypatch):
    config = _tiny()
    folder = pose.run_pose(config, tmp_path, "freezing", "no-attention", progress=False)
    stamp = (folder / "metrics.json").stat().st_mtime_ns
    monkeypatch.setenv(publish.READ_ONLY_ENV, "1")
    assert pose.run_pose(config, tmp_path, "freezing", "no-attention", progress=False) == folder
    with pytest.raises(RuntimeError, match="only read"):
        pose.run_pose(config, tmp_path, "freezing", "no-attention", force=True, progress=False)
    assert (folder / "metrics.json").stat().st_mtime_ns == stamp


def test_read_only_a_shared_run_must_hold_its_owners_record_as_it_is_now(tmp_path, monkeypatch):
    config = _tiny()
    owner = pose.run_pose(config, tmp_path, "freezing", "no-attention", progress=False)
    shared = ("freezing", "no-attention")
    folder = pose.run_pose(config, tmp_path, "baseline", "hourglass", shared_with=shared)
    monkeypatch.setenv(publish.READ_ONLY_ENV, "1")
    assert pose.run_pose(config, tmp_path, "baseline", "hourglass", shared_with=shared) == folder
    # The owner trained again (a new file, as write_record makes it): the link is stale.
    record = (owner / "metrics.json").read_text()
    (owner / "metrics.json").unlink()
    (owner / "metrics.json").write_text(record.replace("{", '{"again": 1, ', 1))
    with pytest.raises(RuntimeError, match="older record"):
        pose.run_pose(config, tmp_path, "baseline", "hourglass", shared_with=shared)
