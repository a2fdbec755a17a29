"""Progress bars of the provided file listing (proj4_lib.files.ProgressList): the loop you write over the
images in compute_mean_and_std shows one, without code of yours."""
import time

from proj4_lib import files
from proj4_lib.fixtures import write_constant


def test_find_images_with_a_description_gives_a_progress_list(tmp_path):
    for name in ("b/2.png", "a/1.jpg"):
        write_constant(tmp_path / name)
    plain, listed = files.find_images(tmp_path), files.find_images(tmp_path, progress="reading")
    assert type(plain) is list and isinstance(listed, files.ProgressList)
    assert listed == plain == [str(tmp_path / "a" / "1.jpg"), str(tmp_path / "b" / "2.png")]


def slow_loop(items) -> list:
    seen = []
    for item in items:
        time.sleep(0.4)  # three items: longer than the bar's one-second delay
        seen.append(item)
    return seen


def test_a_slow_loop_shows_a_bar_and_a_fast_one_does_not(capsys):
    items = files.ProgressList(["x", "y", "z"], "mean and std: reading every image")
    assert [item for item in items] == ["x", "y", "z"] and not capsys.readouterr().err, "a fast loop shows nothing"
    assert slow_loop(items) == ["x", "y", "z"]
    assert "mean and std: reading every image" in capsys.readouterr().err


def test_progress_bars_can_be_turned_off(capsys):
    with files.progress_bars(False):
        assert slow_loop(files.ProgressList(["x", "y", "z"], "hidden")) == ["x", "y", "z"]
    assert files.ProgressList.enabled, "the switch is restored after `with`"
    assert "hidden" not in capsys.readouterr().err
