"""`bench shaders`: the per-scene, per-pass table, the JSON for scripts, and projectM beside it
(real libprojectM where Debian's is installed; one line and no peer where it is not)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "live", "bench", "shaders", *map(str, args)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)


def test_the_table_has_every_pass_and_the_json_has_exactly_the_scenes_and_sizes(tmp_path):
    out = tmp_path / "shaders.json"
    r = cli("--json", out, "--scene", "classic", "--scene", "scope", "--frames", "2", "--warmup", "1")
    assert r.returncode == 0, r.stderr
    for size in ("512x512", "1920x1080"):
        assert f"\n{size}: ms per frame" in r.stdout
    header = next(line for line in r.stdout.splitlines() if line.startswith("scene"))
    assert header.split() == ["scene", "features", "structure", "warp", "post", "total", "fps", "readback"]
    data = json.loads(out.read_text())
    assert list(data) == ["scenes"] and sorted(data["scenes"]) == ["classic", "scope"]
    for sizes in data["scenes"].values():
        assert sorted(sizes) == ["1920x1080", "512x512"]
        assert 0 < sizes["512x512"] < sizes["1920x1080"]  # ms per frame: 8 times the pixels cost more
    assert not list(tmp_path.glob(".*partial*"))


def test_without_libprojectm_the_peer_is_skipped_in_one_line(monkeypatch, capsys, tmp_path):
    from argparse import Namespace

    from live.lab import bench_shaders, peer_projectm

    monkeypatch.setattr(peer_projectm, "HEADER", tmp_path / "projectM.hpp")  # as on a machine without libprojectm-dev
    args = Namespace(frames=1, warmup=1, wav=None, json=None, peer="projectm", peer_count=2, peer_seed=1, scene=["plasma"])
    assert bench_shaders.bench_shaders(args) == 0
    out = capsys.readouterr().out
    skipped = [line for line in out.splitlines() if line.startswith("peer projectm skipped")]
    assert len(skipped) == 1 and "apt-get install libprojectm-dev" in skipped[0]
    assert "side by side" not in out


@pytest.mark.skipif(not Path("/usr/include/libprojectM/projectM.hpp").is_file(), reason="Debian's libprojectm-dev is not installed")
def test_the_peer_runs_projectm_on_the_same_sizes_and_prints_the_ratio():
    r = cli("--peer", "projectm", "--peer-count", "2", "--scene", "plasma", "--frames", "3", "--warmup", "1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.startswith("projectM 512x512: 2 of 2 presets measured") for line in lines), r.stdout
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("side by side")) + 2 :]
    rows = {cells[0]: cells for cells in (line.split() for line in table) if cells and "x" in cells[0]}
    assert sorted(rows) == ["1920x1080", "512x512"]
    for cells in rows.values():
        ours, theirs, ratio = float(cells[1]), float(cells[2]), float(cells[3].rstrip("x"))
        assert ours > 0 and theirs > 0 and ratio == pytest.approx(ours / theirs, abs=0.01)


def test_a_bad_flag_is_one_line_naming_it():
    for args, said in ((["--scene", "nope"], "--scene nope: no such scene (there are: "), (["--frames", "0"], "--frames 0: out of range")):
        r = cli(*args)
        assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and said in r.stderr, r.stderr
