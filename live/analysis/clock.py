"""What the sound means at each video frame: the record the drawing stage reads.

    Analyzer(sr).push(block)            -> (FeatureFrames, new beat times): features, beats and bars on one stream
    bar_times(samples, sr)              -> Bars: a whole file's bars, the Analyzer run over it (offline)
    FeatureClock().advance(audio, t_s)  -> Drive: the audio under one video frame, summarised

The same clock serves the live loop (wall clock) and the offline renders (frame k at k / fps): feed
it the audio under each frame, in order, once. `Drive` is all that `live.draw` knows of the audio,
as projectM's FrameAudioData is all its renderer knows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from live.analysis.bars import BarConfig, Bars, BarState, BarTracker
from live.analysis.beats import BeatConfig, BeatState, BeatTracker
from live.analysis.features import BAND_NAMES, FeatureConfig, FeatureFrames, Features
from live.core.defaults import SAMPLE_RATE

N_BANDS = len(BAND_NAMES)  # sub, bass, low-mid, mid, high-mid, air
N_WAVE = 128  # points of the waveform a frame carries (the oscilloscope's resolution)
N_SPECTRUM = 32  # log-spaced spectrum bins a frame carries, SPECTRUM_HZ[0] .. SPECTRUM_HZ[1]
SPECTRUM_HZ = (40.0, 7_600.0)  # below 40 Hz a 1024-point FFT at 16 kHz has no resolution; 8 kHz is Nyquist
SPECTRUM_FLOOR_DB = -72.0  # dB (full-scale sine = 0 dB) shown as 0; 0 dB shows as 1
SCOPE_SAMPLES = 1024  # the newest audio the waveform and spectrum look at (64 ms at 16 kHz)


class Analyzer:
    """Features, beats and bars together, on one stream of blocks (any size, any rate >= 4 kHz)."""

    def __init__(self, sr: int, features: FeatureConfig | None = None, beats: BeatConfig | None = None, bars: BarConfig | None = None):
        self.features = Features(sr, features or FeatureConfig())
        self.beats = BeatTracker(self.features.frame_rate, beats or BeatConfig())
        self.bars = BarTracker(self.features.frame_rate, bars or BarConfig(), delay_s=self.beats.delay_s)

    def push(self, block: np.ndarray) -> tuple[FeatureFrames, list[float]]:
        frames = self.features.push(block)
        beats = self.beats.push(frames)
        self.bars.push(frames, beats)
        return frames, beats

    def bar_state(self, t_s: float, beat: BeatState) -> BarState:
        """The bar at t_s on the beat clock `beat` (the tracker's state at t_s)."""
        return self.bars.state(t_s, beat.last_beat_s, 60.0 / beat.tempo_bpm, beat.phase)

    def set_downbeat(self, t_s: float) -> None:
        """ "This is the one", pressed at t_s: the beat nearest it starts the bar (held until bars.release())."""
        self.bars.set_downbeat(ahead=self.beats.state(t_s).phase > 0.5)


def bar_times(samples: np.ndarray, sr: int, *, causal: bool = False, config: BarConfig = BarConfig()) -> Bars:
    """The bars of a whole piece of audio (float (n,) or (n, C) at sr), e.g. for a timeline by bar.

    The beats are the live tracker's (causal: none in the first second or so). causal=True places
    them as the live clock does, each from the past alone; by default the same model is smoothed
    over the whole file (its most likely path, Viterbi), so the first bars get the count the music
    settles into and no bar is cut short where the live count changed its mind. Decoding a file to
    samples is live.audio's (live.app.beats.bars_of_file does both)."""
    analyzer = Analyzer(sr, bars=config)
    for i in range(0, len(samples), sr):  # 1 s blocks, as the offline clock pushes them
        analyzer.push(samples[i : i + sr])
    history = analyzer.bars.history
    beats = [p.time_s for p in history]
    if causal or len(history) < 2:
        places = [(p.beat_in_bar, p.beats_per_bar) for p in history]
    else:
        places = analyzer.bars.most_likely_path()
    tempo = 60.0 / float(np.median(np.diff(beats))) if len(beats) >= 3 else None
    return Bars(tempo, beats, [k for k, _ in places], [m for _, m in places])


@dataclass(frozen=True)
class Drive:
    """What the shaders see of the audio at one frame (all 0..1 unless a unit is given)."""

    time_s: float = 0.0
    level: float = 0.0  # RMS over its running maximum
    peak: float = 0.0  # sample peak, full scale = 1
    bands: tuple[float, ...] = (0.0,) * N_BANDS  # sub, bass, low-mid, mid, high-mid, air
    onset: float = 0.0  # strongest onset strength under the frame
    beat_phase: float = 0.0  # 0 on the beat
    tempo_bpm: float = 120.0
    confidence: float = 0.0
    beat_in_bar: int = 0  # 0 on the downbeat, .. beats_per_bar - 1 (live/analysis/bars.py)
    beats_per_bar: int = 4  # 3 or 4
    bar: int = 0  # downbeats so far: bar 1 starts at the first
    bar_phase: float = 0.0  # 0 on the downbeat, rising to 1 at the next
    downbeat_confidence: float = 0.0  # the bar model's probability of its count (1 when set by hand)
    wave: tuple[float, ...] = (0.0,) * N_WAVE  # the newest SCOPE_SAMPLES of audio, -1..1, oldest first
    spectrum: tuple[float, ...] = (0.0,) * N_SPECTRUM  # log-spaced magnitude bins, 0..1 (SPECTRUM_FLOOR_DB .. 0 dB)


def _spectrum_bins(sr: int, n: int) -> np.ndarray:
    """Edges (N_SPECTRUM + 1) of the log-spaced bins, as rfft indices of an n-point FFT."""
    hz = np.geomspace(SPECTRUM_HZ[0], min(SPECTRUM_HZ[1], sr / 2), N_SPECTRUM + 1)
    return np.clip(np.round(hz * n / sr).astype(int), 1, n // 2)


def scope(recent: np.ndarray, sr: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(wave, spectrum) of the newest SCOPE_SAMPLES samples: what the oscilloscope and spectrum
    generators draw. recent: float (SCOPE_SAMPLES,)."""
    n = len(recent)
    wave = np.interp(np.linspace(0, n - 1, N_WAVE), np.arange(n), recent)
    window = np.hanning(n)
    mag = np.abs(np.fft.rfft(recent * window)) / (window.sum() / 2)  # a full-scale sine -> 1
    edges = _spectrum_bins(sr, n)
    power = np.array([mag[a : max(a + 1, b)].max() for a, b in zip(edges[:-1], edges[1:], strict=True)])
    db = 20 * np.log10(np.maximum(power, 1e-9))
    spectrum = np.clip((db - SPECTRUM_FLOOR_DB) / -SPECTRUM_FLOOR_DB, 0.0, 1.0)
    return tuple(float(v) for v in np.clip(wave, -1.0, 1.0)), tuple(float(v) for v in spectrum)


class FeatureClock:
    """Features + beat tracker on one audio stream (16 kHz mono), summarised per video frame.
    Feed it the audio under each frame, in order, once: the same on the live and offline clocks."""

    def __init__(self, sr: int = SAMPLE_RATE, *, half_beat: bool = False):
        self.analyzer = Analyzer(sr)
        self.analyzer.beats.half_beat = half_beat  # the beat moved by half a period (--half-beat, the O key)
        self.last = Drive()
        self.sr = sr
        self.recent = np.zeros(SCOPE_SAMPLES, np.float32)  # the newest audio, for the waveform and spectrum

    def advance(self, samples: np.ndarray, t_s: float) -> Drive:
        frames, _ = self.analyzer.push(samples)
        beat = self.analyzer.beats.state(t_s)
        bar = self.analyzer.bar_state(t_s, beat)
        bars = {
            "beat_in_bar": bar.beat_in_bar,
            "beats_per_bar": bar.beats_per_bar,
            "bar": bar.bar,
            "bar_phase": bar.bar_phase,
            "downbeat_confidence": bar.confidence,
        }
        if len(samples):
            tail = np.asarray(samples, np.float32).reshape(-1)[-SCOPE_SAMPLES:]
            self.recent = np.concatenate([self.recent[len(tail) :], tail])
        wave, spectrum = scope(self.recent, self.sr)
        if len(frames):
            self.last = Drive(
                time_s=t_s,
                level=float(frames.level.mean()),
                peak=float(frames.peak.max()),
                bands=tuple(float(b) for b in frames.bands.mean(axis=0)),
                onset=float(frames.onset.max()),
                beat_phase=beat.phase,
                tempo_bpm=beat.tempo_bpm,
                confidence=beat.confidence,
                **bars,
                wave=wave,
                spectrum=spectrum,
            )
        else:  # a frame shorter than one analysis hop: keep the levels, move the clock
            self.last = replace(
                self.last,
                time_s=t_s,
                beat_phase=beat.phase,
                tempo_bpm=beat.tempo_bpm,
                confidence=beat.confidence,
                wave=wave,
                spectrum=spectrum,
                **bars,
            )
        return self.last
