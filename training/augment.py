"""Augmentations of training windows: TANGO's relative-pressure mix, gain, noise, time shift.

    a_weighting_db(freqs_hz)                  -> dB      IEC 61672 A-weighting, 0 dB at 1 kHz
    peak_power_db(x, sr)                      -> dB      A-weighted peak power of a clip (frame by frame)
    mix_weight(x1, x2, sr)                    -> p       TANGO: 1 / (1 + 10 ** ((G1 - G2) / 20))
    tango_mix(x1, x2, caption1, caption2, sr) -> (mix, caption, p)
    Augmenter(AugmentConfig(), seed)(waveforms, masks, captions, labels) -> the same, augmented   (B, S) tensors

The mix is TANGO's (from BC learning, Tokozume et al. 2018): each clip's loudness is its A-weighted
peak power G in dB, and the louder clip gets the smaller weight p so that both stay audible,
    mix = (p * x1 + (1 - p) * x2) / sqrt(p**2 + (1 - p)**2),
captioned "{caption1} and {caption2 uncapitalised}". The A-weighting is applied in the frequency
domain, per frame, with the IEC formula (as BC learning's `compute_gain` does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from live.core.defaults import SAMPLE_RATE

FRAME_S = 0.128  # loudness frame: 2048 samples at 16 kHz, as BC learning uses at 16 and 20 kHz
MIN_DB = -80.0  # floor for silence, so a silent clip has a finite loudness


def a_weighting_db(freqs_hz: np.ndarray) -> np.ndarray:
    """IEC 61672-1 A-weighting in dB at each frequency (0 dB at 1 kHz; -inf at 0 Hz, floored to MIN_DB)."""
    f2 = np.maximum(np.asarray(freqs_hz, np.float64), 1e-6) ** 2
    ra = (12194.0**2 * f2**2) / ((f2 + 20.6**2) * np.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2))
    return np.maximum(20 * np.log10(ra) + 2.0, MIN_DB)  # +2.00 dB normalises to 0 dB at 1 kHz


def peak_power_db(x: np.ndarray, sr: int) -> float:
    """The loudest frame's A-weighted power in dB: Hann-windowed frames at half-frame hops."""
    x = np.asarray(x, np.float64)
    n_fft = 2 ** int(np.round(np.log2(FRAME_S * sr)))  # 2048 at 16 kHz
    hop = n_fft // 2
    x = np.pad(x, (0, max(0, n_fft - len(x))))
    starts = np.arange(0, len(x) - n_fft + 1, hop)
    frames = np.stack([x[s : s + n_fft] for s in starts]) * np.hanning(n_fft + 1)[:-1]  # (F, n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (F, n_fft // 2 + 1)
    weight = 10 ** (a_weighting_db(np.fft.rfftfreq(n_fft, 1 / sr)) / 10)
    frame_power = (power * weight).sum(axis=1)  # (F,)
    return float(10 * np.log10(max(frame_power.max(), 10 ** (MIN_DB / 10))))


def mix_weight(x1: np.ndarray, x2: np.ndarray, sr: int) -> float:
    """TANGO's p (the weight of x1): 0.5 for equally loud clips, smaller the louder x1 is."""
    g1, g2 = peak_power_db(x1, sr), peak_power_db(x2, sr)
    return 1.0 / (1.0 + 10 ** ((g1 - g2) / 20))


def tango_mix(x1: np.ndarray, x2: np.ndarray, caption1: str, caption2: str, sr: int) -> tuple[np.ndarray, str, float]:
    """Mix two equally long clips by relative pressure; return (mix, caption, p)."""
    if len(x1) != len(x2):
        raise ValueError(f"clips to mix must be equally long, got {len(x1)} and {len(x2)} samples")
    p = mix_weight(x1, x2, sr)
    mix = (p * x1 + (1 - p) * x2) / np.sqrt(p**2 + (1 - p) ** 2)
    return mix.astype(np.float32), join_captions(caption1, caption2), p


def join_captions(caption1: str, caption2: str) -> str:
    """'Dog barking' + 'Rain falls' -> 'Dog barking and rain falls' (an acronym such as 'DJ' keeps its case)."""
    first = caption1.strip().rstrip(".")  # "A dog barks." would otherwise give "A dog barks. and ..."
    second = caption2.strip()
    word = second.split(" ", 1)[0]
    if not (len(word) > 1 and word.isupper()):
        second = second[:1].lower() + second[1:]
    return f"{first} and {second}"


def label_prompt(label: str) -> str:
    """The zero-shot prompt of eval (training.metrics.ZERO_SHOT_PROMPT) for a class label."""
    from training.metrics import ZERO_SHOT_PROMPT

    return ZERO_SHOT_PROMPT.format(label=label)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator, mask: np.ndarray | None = None) -> np.ndarray:
    """Add white noise at exactly `snr_db` below the signal's mean power (over real samples only)."""
    valid = np.ones(len(x), bool) if mask is None else np.asarray(mask, bool)
    signal_power = float(np.mean(np.square(x[valid], dtype=np.float64))) if valid.any() else 0.0
    if signal_power == 0.0:
        return x.copy()  # silence has no SNR; leave it silent rather than invent a level
    noise = rng.standard_normal(len(x)) * valid
    noise *= np.sqrt(signal_power / 10 ** (snr_db / 10) / np.mean(np.square(noise[valid])))
    return (x + noise).astype(np.float32)


def gain(x: np.ndarray, db: float) -> np.ndarray:
    return (x * 10 ** (db / 20)).astype(np.float32)


def time_shift(x: np.ndarray, mask: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Roll the window (and its mask) by `shift` samples: the beat lands elsewhere, nothing is lost."""
    return np.roll(x, shift), np.roll(mask, shift)


@dataclass(frozen=True)
class AugmentConfig:
    mix: bool = True  # TANGO mix: more caption combinations than the data has, and the model hears both
    mix_prob: float = 0.5  # share of each batch's examples replaced by a mix with another example
    gain: bool = True  # level changes: music arrives at any volume through a line-in
    gain_db: tuple[float, float] = (-6.0, 6.0)  # uniform range; +6 dB keeps most clips below clipping
    noise: bool = True  # a room microphone hears noise; the encoder should not
    noise_prob: float = 0.3  # share of examples that get noise
    noise_snr_db: tuple[float, float] = (10.0, 40.0)  # uniform range: from audible hiss to barely there
    shift: bool = True  # live windows start anywhere relative to the beat
    shift_max_s: float = 1.0  # largest roll either way
    label_prompts: float = 0.0  # share of batches whose labelled clips are captioned "This is a sound of {label}" instead


class Augmenter:
    """Applies the switched-on augmentations to a batch; seeded, so a run repeats exactly."""

    def __init__(self, config: AugmentConfig = AugmentConfig(), *, sr: int = SAMPLE_RATE, seed: int = 0):
        self.config, self.sr = config, sr
        self.rng = np.random.default_rng(seed)

    def __call__(self, waveforms: torch.Tensor, masks: torch.Tensor, captions: list[str], labels: list | None = None):
        """waveforms (B, S) float32, masks (B, S) bool, captions (and labels) -> the same, augmented (new tensors).

        Label prompts are drawn per batch, not per clip: two clips of one class then have one caption,
        so the contrastive losses never count them as each other's negatives."""
        c, rng = self.config, self.rng
        if c.label_prompts > 0 and labels is not None and rng.random() < c.label_prompts:
            captions = [label_prompt(label) if label else caption for caption, label in zip(captions, labels, strict=True)]
        x, m, originals, captions = waveforms.numpy().copy(), masks.numpy().copy(), list(captions), list(captions)
        batch = len(x)
        if c.mix and batch > 1:
            partners = rng.permutation(batch)
            for i in np.flatnonzero(rng.random(batch) < c.mix_prob):
                j = partners[i] if partners[i] != i else (i + 1) % batch
                x[i], captions[i], _ = tango_mix(waveforms[i].numpy(), waveforms[j].numpy(), originals[i], originals[j], self.sr)
                m[i] = masks[i].numpy() | masks[j].numpy()
        for i in range(batch):
            if c.gain:
                x[i] = gain(x[i], rng.uniform(*c.gain_db))
            if c.noise and rng.random() < c.noise_prob:
                x[i] = add_noise(x[i], rng.uniform(*c.noise_snr_db), rng, m[i])
            if c.shift:
                limit = round(c.shift_max_s * self.sr)
                x[i], m[i] = time_shift(x[i], m[i], int(rng.integers(-limit, limit + 1)))
        return torch.from_numpy(x), torch.from_numpy(m), captions
