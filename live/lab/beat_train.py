"""`python -m live train-beats`: train the beat network (live/analysis/beat_net.py) and write its weights.

The corpus is music with exact beats that the bench never scores: mma accompaniment grooves
(drums, bass, chords, comping) from every mma style file that defines none of
the bench's grooves (live/lab/midi_corpus.py GROOVES) and is in a quarter-note metre, each at a random
tempo (60-200 BPM), key and chord progression, rendered with fluidsynth through every General MIDI
soundfont found. Beats are pretty_midi's, as in the bench. Besides them, 400 pieces written by
live/lab/hard_corpus.py (varied_piece: 4/4, swung 4/4, 3/4, 6/8, 12/8 and 5/4; steady tempi, ramps,
steps, ritardandi and accelerandi; drumless sections; random kits and soundfonts; never a scored
piece), whose beats come from their own tempo maps. Rendering is cached in --work, so a second run
trains at once. --noise-examples adds negatives (noise of three colours at random
levels, or silence, with no beats); the shipped weights have none: with 120 (and mma's metronomes
in the corpus) the bench fell (songs F 0.731 -> 0.688 on 70 excerpts, grooves 0.957 -> 0.928, both
with the onsets weighing 2), and the tracker keeps noise from looking like a beat by taking its
confidence from the onsets alone.

Training: binary cross-entropy on frames (the beat's frame 1, its neighbours 0.5; beats are rare, so
positives weigh 4), Adam with a cosine schedule, a random gain of -20..+10 dB per example (the
network must not depend on the input level), the first 2 s of each example unscored (the network
has no past there). torch is needed here only; the weights are saved for numpy (live/analysis/beat_net.npz).
"""

from __future__ import annotations

import json
import random
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from live.analysis.beats import ONSET_DELAY_S
from live.analysis.features import FeatureConfig, Features
from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError
from live.core.progress import bar_output
from live.lab.midi_corpus import GROOVES, PACKAGES, SOUNDFONTS, groove_midi, render_song

MMA_LIB = Path("/usr/share/mma/lib/stdlib")
PROGRESSIONS = (
    ("C", "Am", "F", "G7"), ("C", "F", "G", "C"), ("Am", "Dm", "E7", "Am"), ("C", "C7", "F", "Fm"), ("Dm7", "G7", "Cmaj7", "Cmaj7"),
    ("C", "G", "Am", "F"), ("Em", "C", "G", "D"), ("F", "G", "Em", "Am"), ("C", "Eb", "F", "C"), ("A7", "D7", "A7", "E7"),
)  # fmt: skip
FRAME_RATE = 1.0 / FeatureConfig().hop_s  # analysis frames per second
UNSCORED_FRAMES = 200


def training_grooves(lib: Path = MMA_LIB) -> list[tuple[str, list[str]]]:
    """(style file, its playable grooves) for every mma style file in a x/4 metre that defines none of
    the bench's grooves; intros, endings, fills and breaks left out."""
    benched = {g.lower() for g in GROOVES}
    out = []
    for f in sorted(lib.glob("*.mma")):
        text = f.read_text(errors="ignore")
        names = re.findall(r"^\s*defgroove\s+(\S+)", text, re.I | re.M)
        if not names or benched & {n.lower() for n in names} or f.stem.startswith(("metronome", "none")):
            continue
        if re.search(r"timesig\s+\d+\s*[\s/]\s*8\b", text, re.I):  # compound metres: the beat is a dotted quarter, another task
            continue
        playable = [n for n in names if not re.search(r"intro|end|fill|break", n, re.I)]
        if playable:
            out.append((f.stem, playable))
    return out


def render_example(i: int, folder: Path, seconds: float, grooves: list[tuple[str, list[str]]]) -> Path:
    """Example i (deterministic in i and the groove list): a groove as a WAV and its beats as JSON, in
    folder (kept, named by what was rendered, so a changed corpus renders only what changed)."""
    rng = random.Random(i)
    stem, names = grooves[i % len(grooves)]
    groove, bpm = rng.choice(names), round(float(np.exp(rng.uniform(np.log(60), np.log(200)))))
    chords, transpose = rng.choice(PROGRESSIONS), rng.randint(-5, 6)
    soundfont = rng.choice([p for p in SOUNDFONTS if p.exists()])
    gain = rng.uniform(0.3, 0.8)
    name = f"{i:05d}-{''.join(c for c in groove if c.isalnum())}-{bpm}"
    done = folder / f"{name}-{seconds:g}s.json"
    if done.exists():
        return done
    kind = {"chords": chords, "transpose": transpose, "seed": i, "beats_per_bar": 3, "stem": name}  # 3: enough bars for waltzes too
    midi = groove_midi(groove, folder, seconds, bpm=bpm, **kind)
    wav, beats = render_song(midi, folder, seconds, soundfont=soundfont, gain=round(gain, 2))
    meta = {"groove": groove, "style": stem, "bpm": bpm, "soundfont": soundfont.name, "wav": wav.name, "beats": beats.tolist()}
    done.write_text(json.dumps(meta))
    return done


class _Recorder:
    """Stands in for the beat network inside Features: keeps the log bands it is given."""

    def __init__(self):
        self.parts = []

    def push(self, log_bands: np.ndarray, rise: np.ndarray) -> np.ndarray:
        self.parts.append(log_bands.copy())
        return np.zeros(len(log_bands), np.float32)


def example_arrays(meta_path: Path, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, F) band amplitudes (times the features' compression) and (frames,) beat targets."""
    from live.audio.decode import open_segment, stream

    meta = json.loads(meta_path.read_text())
    wav = meta_path.parent / meta["wav"]
    cache = meta_path.with_suffix(".npz")
    if not cache.exists():
        recorder = _Recorder()
        features = Features(SAMPLE_RATE, beat_net=recorder)
        for block in stream(open_segment(wav), sr=SAMPLE_RATE, channels=1):
            features.push(block)
        partial = cache.with_name(cache.stem + ".partial.npz")
        np.savez(partial, log_bands=np.concatenate(recorder.parts))
        partial.replace(cache)
    with np.load(cache) as f:
        log_bands = f["log_bands"][:frames]
    if len(log_bands) < frames:
        raise PhospheneError(f"{wav} is shorter than the training excerpt: delete --work and run again")
    target = np.zeros(frames, np.float32)
    for b in meta["beats"]:
        i = round((b + ONSET_DELAY_S) * FRAME_RATE - 1)  # the frame the tracker detects a beat at b in
        for offset, value in ((-1, 0.5), (1, 0.5), (0, 1.0)):
            if 0 <= i + offset < frames:
                target[i + offset] = max(target[i + offset], value)
    return np.expm1(log_bands), target


def noise_arrays(i: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """A negative example: white, pink or brown noise at -80..-6 dBFS whose level drifts slowly, or
    digital silence; no beats. Without these the network learns that beats always come, and finds
    them in noise."""
    rng = np.random.default_rng(i)
    n = round((frames + 10) * SAMPLE_RATE / FRAME_RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0) ** (rng.integers(0, 3) / 2)  # 1/f**0, 1/f, 1/f**2 power
    x = np.fft.irfft(spectrum, n)
    t = np.arange(n) / SAMPLE_RATE
    drift = 1 + 0.5 * np.sin(2 * np.pi * t / rng.uniform(3, 20) + rng.uniform(0, 2 * np.pi))
    level = 0.0 if rng.random() < 0.1 else 10 ** rng.uniform(-4, -0.3)
    x = (x / x.std() * level * drift).astype(np.float32)
    recorder = _Recorder()
    Features(SAMPLE_RATE, beat_net=recorder).push(x)
    return np.expm1(np.concatenate(recorder.parts)[:frames]), np.zeros(frames, np.float32)


def build_model(n_bands: int, channels: int, layers: int, kernel: int = 3, dropout: float = 0.1):
    import torch
    from torch import nn

    class TCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Conv1d(2 * n_bands, channels, 1)
            self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=2**layer) for layer in range(layers))
            self.mix = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in range(layers))
            self.out = nn.Conv1d(channels, 1, 1)
            self.drop = nn.Dropout(dropout)

        def forward(self, amplitude):  # (B, T, F) band amplitude * compression -> (B, T) logits
            log_bands = torch.log1p(amplitude)
            rise = torch.clamp(torch.diff(log_bands, dim=1, prepend=log_bands[:, :1]), min=0)
            h = nn.functional.elu(self.inp(torch.cat([log_bands, rise], 2).transpose(1, 2)))
            for conv, mix in zip(self.convs, self.mix, strict=True):
                y = nn.functional.elu(conv(nn.functional.pad(h, ((kernel - 1) * conv.dilation[0], 0))))
                h = h + mix(self.drop(y))
            return self.out(h)[:, 0]

    return TCN()


def export(model, n_bands: int) -> dict[str, np.ndarray]:
    """The torch model's weights in BeatNet's layout (x @ W)."""

    def a(t):
        return t.detach().cpu().numpy().astype(np.float32)

    return {
        "inp_w": a(model.inp.weight[:, :, 0].T),
        "inp_b": a(model.inp.bias),
        "conv_w": np.stack([a(c.weight.permute(2, 1, 0)) for c in model.convs]),  # (L, k, in, out)
        "conv_b": np.stack([a(c.bias) for c in model.convs]),
        "mix_w": np.stack([a(m.weight[:, :, 0].T) for m in model.mix]),
        "mix_b": np.stack([a(m.bias) for m in model.mix]),
        "out_w": a(model.out.weight[0, :, 0]),
        "out_b": a(model.out.bias[0]),
        "dilations": np.array([c.dilation[0] for c in model.convs], np.int64),
        "n_bands": np.array(n_bands, np.int64),
    }


def load_into(model, weights: dict[str, np.ndarray]) -> None:
    """export's inverse: BeatNet weights (live/analysis/beat_net.npz) into the torch model, to go on from them."""
    import torch

    if len(weights["dilations"]) != len(model.convs) or weights["inp_w"].shape[1] != model.inp.out_channels:
        raise PhospheneError(
            f"--init weights have {len(weights['dilations'])} layers of {weights['inp_w'].shape[1]} channels, "
            f"not --layers {len(model.convs)} --channels {model.inp.out_channels}"
        )

    def put(param, value) -> None:
        with torch.no_grad():
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))

    put(model.inp.weight, weights["inp_w"].T[:, :, None])
    put(model.inp.bias, weights["inp_b"])
    for layer, (conv, mix) in enumerate(zip(model.convs, model.mix, strict=True)):
        put(conv.weight, weights["conv_w"][layer].transpose(2, 1, 0))
        put(conv.bias, weights["conv_b"][layer])
        put(mix.weight, weights["mix_w"][layer].T[:, :, None])
        put(mix.bias, weights["mix_b"][layer])
    put(model.out.weight, weights["out_w"][None, :, None])
    put(model.out.bias, np.atleast_1d(weights["out_b"]))


def train(args) -> int:
    try:
        import torch
    except ImportError:
        raise PhospheneError("train-beats needs torch: pip install -r requirements.txt") from None
    from tqdm import tqdm

    if not (MMA_LIB.is_dir() and any(p.exists() for p in SOUNDFONTS)):
        raise PhospheneError(f"train-beats needs Debian {PACKAGES}: sudo apt-get install {PACKAGES}")
    if args.seconds < 5 or args.examples < 1 or args.epochs < 1 or args.noise_examples < 0 or args.varied < 0:
        raise PhospheneError("--seconds must be at least 5, --examples and --epochs at least 1, --noise-examples and --varied at least 0")
    grooves = training_grooves()
    args.work.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:  # mma and fluidsynth are processes: threads keep them busy
        jobs = [pool.submit(render_example, i, args.work, args.seconds, grooves) for i in range(args.examples)]
        # each bar below closes on the way out, Ctrl-C included: no progress line after "interrupted:"
        with tqdm(jobs, desc="render", unit="groove", **bar_output()) as bar:
            metas = [j.result() for j in bar]
        if args.varied:
            from live.lab.hard_corpus import render_varied

            jobs = [pool.submit(render_varied, i, args.work, args.seconds) for i in range(args.varied)]
            with tqdm(jobs, desc="render", unit="piece", **bar_output()) as bar:
                metas += [j.result() for j in bar]
    frames = int(args.seconds * FRAME_RATE) - 10  # every example has this many (the last hop may be short)
    with tqdm(metas, desc="features", unit="groove", **bar_output()) as bar:
        arrays = [example_arrays(m, frames) for m in bar]
    arrays += [noise_arrays(i, frames) for i in range(args.noise_examples)]
    amplitude = torch.tensor(np.stack([a for a, _ in arrays]))  # (N, T, F)
    target = torch.tensor(np.stack([t for _, t in arrays]))  # (N, T)
    n_bands = FeatureConfig().flux_bands

    torch.manual_seed(args.seed)
    model = build_model(n_bands, args.channels, args.layers)
    if args.init is not None:
        from live.analysis.beat_net import load_weights

        load_into(model, load_weights(args.init))
    opt = torch.optim.Adam(model.parameters(), args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    positive = torch.tensor(4.0)
    with tqdm(range(args.epochs), desc="train", unit="epoch", **bar_output()) as bar:
        for _ in bar:
            model.train()
            order, total = torch.randperm(len(target)), 0.0
            for s in range(0, len(order), args.batch):
                idx = order[s : s + args.batch]
                gain = torch.exp(torch.empty(len(idx), 1, 1).uniform_(np.log(0.1), np.log(3.0)))
                logits = model(amplitude[idx] * gain)[:, UNSCORED_FRAMES:]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[idx][:, UNSCORED_FRAMES:], pos_weight=positive)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            schedule.step()
            bar.set_postfix(loss=f"{total / len(order):.4f}")
    model.eval()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(args.out.name + ".partial.npz")
    np.savez(partial, **export(model, n_bands))
    partial.replace(args.out)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"wrote {args.out}: {n_params} parameters, {args.examples} grooves from {len(grooves)} style files, "
        f"{args.varied} varied pieces, {args.noise_examples} noises"
    )
    return 0


def add_train_beats_args(sub) -> None:
    p = sub.add_parser(
        "train-beats",
        help="train the beat network on mma grooves and varied pieces the bench never scores (needs torch, mma, fluidsynth)",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("live/analysis/beat_net.npz"), help="weights file to write (default: %(default)s)")
    p.add_argument("--work", type=Path, default=Path("runs/beat-corpus"), help="where the rendered corpus is cached (default: %(default)s)")
    p.add_argument("--examples", type=int, default=1200, help="grooves to render (default: %(default)s; about 2 GB of WAV)")
    p.add_argument(
        "--varied",
        type=int,
        default=400,
        help="pieces of varied metre, tempo map, swing, kit and soundfont written here (live/lab/hard_corpus.py varied_piece; "
        "never the bench's) besides the grooves (default: %(default)s, as the shipped weights; 0: grooves only)",
    )
    p.add_argument("--noise-examples", type=int, default=0, help="negatives: noise or silence, no beats (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=40.0, help="length of each groove (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=40, help="passes over the corpus (default: %(default)s)")
    p.add_argument("--channels", type=int, default=24, help="width of the network (default: %(default)s)")
    p.add_argument("--layers", type=int, default=9, help="dilated layers; context 2**(layers+1) frames (default: %(default)s)")
    p.add_argument("--batch", type=int, default=16, help="grooves per step (default: %(default)s)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--init", type=Path, default=None, help="go on from these weights (a train-beats file) instead of a random start")
    p.add_argument("--seed", type=int, default=0, help="torch seed (the corpus is fixed by --examples) (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="renders at once (default: %(default)s)")
