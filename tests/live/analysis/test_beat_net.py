"""The beat network (live/analysis/beat_net.py): the numpy forward pass is the torch model's, streamed in any
block sizes; the shipped weights find the beats of music they never heard (the bench's mma grooves,
from style files the training leaves out); `python -m live train-beats` trains and writes weights that
load; bad weight files are one clear error."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from live.analysis.beat_net import WEIGHTS, BeatNet
from live.analysis.features import FeatureConfig, FeatureFrames, Features
from live.audio.decode import open_segment, stream
from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError
from live.lab import midi_corpus
from live.lab.beat_train import build_model, export, training_grooves

ROOT = Path(__file__).resolve().parents[3]
N_BANDS = FeatureConfig().flux_bands


def rise_of(log_bands: np.ndarray) -> np.ndarray:
    """Each band's rise over the frame before, floored at 0 (the first frame's is 0), as the features
    and the torch model compute it."""
    return np.maximum(np.diff(log_bands, axis=0, prepend=log_bands[:1]), 0)


def test_numpy_forward_is_the_torch_models():
    """export() puts the torch weights in BeatNet's layout: same activations on the same input."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = build_model(N_BANDS, channels=6, layers=4).eval()
    for p in model.parameters():  # random weights large enough that every layer matters
        torch.nn.init.normal_(p, std=0.3)
    amplitude = torch.rand(1, 300, N_BANDS) * 50
    with torch.no_grad():
        theirs = torch.sigmoid(model(amplitude))[0].numpy()
    log_bands = np.log1p(amplitude[0].numpy())
    ours = BeatNet(export(model, N_BANDS)).push(log_bands, rise_of(log_bands))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert theirs.std() > 0.05  # the comparison is not between two constants


def test_streaming_in_any_block_sizes_gives_the_same_activation():
    rng = np.random.default_rng(1)
    log_bands = np.log1p(rng.random((2000, N_BANDS), dtype=np.float32) * 100)
    rise = rise_of(log_bands)
    whole = BeatNet().push(log_bands, rise)
    net, parts, i = BeatNet(), [], 0
    for size in rng.integers(0, 40, 200):
        parts.append(net.push(log_bands[i : i + size], rise[i : i + size]))
        i += size
    parts.append(net.push(log_bands[i:], rise[i:]))
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-5)


def test_shipped_weights_find_the_beats_of_grooves_they_never_heard(tmp_path):
    """Three of the bench's grooves (their style files are not in the training corpus): the activation
    is high on the beats, lower half a beat off them (where eighth notes also sound), and near zero
    elsewhere. Measured (TimGM6mb), on / off / elsewhere: BasicRock 0.82 / 0.41 / 0.02, Ska 0.82 /
    0.00 / 0.01, Swing 0.97 / 0.00 / 0.02."""
    pytest.importorskip("pretty_midi")
    if (why := midi_corpus.missing("grooves")) is not None:
        pytest.skip(why)
    trained_on = {stem for stem, _ in training_grooves()}
    for style in ("BasicRock", "Ska", "Swing"):
        assert not trained_on & {style.lower(), style.lower().replace("&", "")}
        wav, beats = midi_corpus.render_song(midi_corpus.groove_midi(style, tmp_path, 20.0), tmp_path, 20.0)
        features = Features(SAMPLE_RATE)
        frames = FeatureFrames.concatenate([features.push(b) for b in stream(open_segment(wav), sr=SAMPLE_RATE, channels=1)])
        act = frames.beat_activation
        beats = beats[beats > 3.0]  # after the network's context has filled
        on = np.round((beats + 0.02) * 100 - 1).astype(int)  # the frame a beat is detected in (live.analysis.beats.ONSET_DELAY_S)
        off = (on[:-1] + on[1:]) // 2
        far = np.ones(len(act), bool)
        for d in range(-5, 6):  # more than 50 ms from a beat and from an off-beat
            far[np.clip(np.concatenate([on, off]) + d, 0, len(act) - 1)] = False
        far[:300] = False
        on_mean, off_mean, far_mean = near(act, on).mean(), near(act, off).mean(), act[far].mean()
        print(f"{style}: activation {on_mean:.2f} on the beat, {off_mean:.2f} half a beat off, {far_mean:.2f} elsewhere")
        assert on_mean > 0.6 and on_mean > 1.5 * off_mean and on_mean > 5 * far_mean, style


def near(act: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The activation's maximum within a frame of each of `frames` (the training target's width)."""
    return np.max([act[frames + d] for d in (-1, 0, 1)], axis=0)


def test_training_corpus_leaves_out_every_benched_groove():
    if not Path("/usr/share/mma/lib/stdlib").is_dir():
        pytest.skip(midi_corpus.missing("grooves") or "mma's library is missing")
    chosen = training_grooves()
    benched = {g.lower() for g in midi_corpus.GROOVES}
    assert len(chosen) > 50
    for stem, _ in chosen:
        defined = re.findall(r"defgroove\s+(\S+)", (Path("/usr/share/mma/lib/stdlib") / f"{stem}.mma").read_text(errors="ignore"), re.I)
        assert not benched & {name.lower() for name in defined}, stem
    assert not {"rock-128", "rb", "swing", "50srock"} & {stem for stem, _ in chosen}


def test_train_beats_writes_weights_that_load(tmp_path):
    """A tiny real run: renders four grooves and two varied pieces (live/lab/hard_corpus.py
    varied_piece), trains an epoch, writes weights BeatNet loads and the features run with. (The
    shipped weights: see the README.)"""
    pytest.importorskip("torch")
    pytest.importorskip("pretty_midi")
    if (why := midi_corpus.missing("grooves")) is not None:
        pytest.skip(why)
    out = tmp_path / "net.npz"
    cmd = [
        sys.executable,
        "-m",
        "live",
        "train-beats",
        "--examples",
        "4",
        "--varied",
        "2",
        "--seconds",
        "6",
        "--epochs",
        "1",
        "--channels",
        "4",
    ]
    cmd += ["--layers", "3", "--batch", "2", "--work", str(tmp_path / "corpus"), "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "2 varied pieces" in r.stdout and out.exists() and not list(tmp_path.glob("*.partial*"))
    assert len(list((tmp_path / "corpus").glob("varied000[01]-*-6s.wav"))) == 2
    net = BeatNet(out)
    assert net.dilations == [1, 2, 4] and net.inp_w.shape == (2 * N_BANDS, 4)
    frames = Features(SAMPLE_RATE, beat_net=net).push(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)
    assert len(frames) == 100 and np.all((frames.beat_activation >= 0) & (frames.beat_activation <= 1))


def test_varied_training_pieces_are_never_the_benched_ones():
    """train-beats' varied pieces: every metre of the hard corpus, steady and moving tempi, long
    enough; none is one of the scored pieces (their names and tempo maps differ)."""
    from live.lab.hard_corpus import PIECES, beat_times, varied_piece

    pieces = [varied_piece(i, 40.0) for i in range(200)]
    assert {(p.beats_per_bar, p.sub) for p in pieces} == {(4, 2), (4, 3), (3, 2), (3, 3), (2, 3), (5, 2)}
    assert sum(len(p.tempo) > 1 for p in pieces) > 50 and all(beat_times(p)[-1] >= 40.0 for p in pieces)
    scored = {(p.tempo, p.beats_per_bar, p.sub) for p in PIECES}
    assert not scored & {(p.tempo, p.beats_per_bar, p.sub) for p in pieces}
    assert varied_piece(7, 40.0) == varied_piece(7, 40.0)  # deterministic in i


def test_bad_weight_files_are_one_clear_error(tmp_path):
    with pytest.raises(PhospheneError, match="not found: train them with `python -m live train-beats"):
        BeatNet(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(PhospheneError, match="not a train-beats file"):
        BeatNet(tmp_path / "other.npz")
    assert WEIGHTS.exists()  # the shipped weights are in the package


def test_init_loads_the_shipped_weights_into_the_torch_model():
    """train-beats --init: load_into is export's inverse, so a run can go on from the shipped weights."""
    pytest.importorskip("torch")
    import torch

    from live.analysis.beat_net import WEIGHTS, load_weights
    from live.lab.beat_train import build_model, export, load_into

    shipped = load_weights(WEIGHTS)
    model = build_model(N_BANDS, shipped["inp_w"].shape[1], len(shipped["dilations"]))
    load_into(model, shipped)
    for name, value in export(model, N_BANDS).items():
        np.testing.assert_array_equal(value, shipped[name], err_msg=name)
    amplitude = np.expm1(np.random.default_rng(0).uniform(0, 3, (1, 300, N_BANDS))).astype(np.float32)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(amplitude))[0].numpy()
    net = BeatNet(WEIGHTS)
    log_bands = np.log1p(amplitude[0])
    rise = np.maximum(np.diff(log_bands, axis=0, prepend=log_bands[:1]), 0)
    np.testing.assert_allclose(net.push(log_bands, rise), 1 / (1 + np.exp(-logits)), atol=1e-5)  # numpy and torch agree
