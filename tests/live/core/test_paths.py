"""Every output file is checked at start-up by one rule: its folder, its name, and never the input."""

import os

import pytest

from live.core.errors import PhospheneError
from live.core.paths import check_output_file


def test_the_input_is_never_an_output(tmp_path):
    song = tmp_path / "song.mp4"
    song.write_bytes(b"music")
    os.link(song, tmp_path / "hard.mp4")
    (tmp_path / "soft.mp4").symlink_to(song)
    for name in ("song.mp4", "hard.mp4", "soft.mp4", "./sub/../song.mp4"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(PhospheneError, match="is the input file"):
            check_output_file(tmp_path / name, flag="-o", suffix=".mp4", inputs=(song,))
    assert check_output_file(tmp_path / "other.mp4", flag="-o", suffix=".mp4", inputs=(song,)) == tmp_path / "other.mp4"
    assert song.read_bytes() == b"music"


def test_folders_names_and_permissions(tmp_path):
    with pytest.raises(PhospheneError, match=r"--stats-json .*folder .*missing does not exist; create it first"):
        check_output_file(tmp_path / "missing" / "s.json", flag="--stats-json")
    with pytest.raises(PhospheneError, match="is a folder"):
        check_output_file(tmp_path, flag="--stats-json")
    with pytest.raises(PhospheneError, match=r"must end in \.npz"):
        check_output_file(tmp_path / "w.bin", flag="--out", suffix=".npz")
    with pytest.raises(PhospheneError, match="cannot write"):
        check_output_file("/proc/phosphene.json", flag="--stats-json")
