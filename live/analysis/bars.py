"""The bar: which beat of the bar each beat is (the downbeat is beat 0), for 3/4 and 4/4, causally,
with a confidence. It reads the beats the beat tracker found (live/analysis/beats.py) and the
features of the audio between them (live/analysis/features.py).

A bar line is where the harmony changes (accompaniment changes chord on the bar, seldom inside it),
where the bass and the kick land, and where the beat is strongest. Each beat j gets a log-likelihood
ratio "beat j is a downbeat" from those cues, measured over the beat (its interval [b_j, b_j+1))
against the beat before, each over its running mean across the last beats so that loud and quiet,
busy and sparse music read alike:

    chroma change   1 - cos(chroma of beat j-1, chroma of beat j): a new chord
    chroma change 2 the same against beat j-2: a chord held over a passing one
    low onset       the kick and bass flux at the beat
    onset           the whole flux at the beat
    activation      the beat network's activation at the beat

The ratio is a logistic model of those five (fitted on mma grooves the bench never scores:
live/lab/bar_eval.py), and a hidden Markov model over the bar positions (M, k), M in 3, 4 and
k < M, moves k on by one each beat and jumps elsewhere with a small probability (a missed or extra
beat, a change of metre). Its forward pass is causal: beat j's cues are whole when beat j+1
arrives, so beat j+1's place in the bar is the model's prediction from everything up to it. The
confidence is the probability of the state it chose.

    bars = BarTracker(frame_rate=100)          # analysis frames per second
    bars.push(frames, beats_s)                 # FeatureFrames and the beats (s) the tracker found in them
    bars.state(t_s, beat_state)                # BarState: beat_in_bar, bar, bar_phase, confidence, ...
    bars.set_downbeat(ahead=False)             # "this is the one": the newest beat (or the next) is beat 0, held
    bars.release()                             # hand the bar back to the model

`Bars` is a whole file's bars, which `live.analysis.clock.bar_times(samples, sr)` finds offline (the
Analyzer run over the file, smoothed with the backward pass too). Pushing frames and beats in blocks
of any size gives the same bars.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from live.analysis.features import FeatureFrames

ONSET_DELAY_S = 0.02  # live.analysis.beats.ONSET_DELAY_S: a beat at b was found in the frame ending at b + this
N_CUES = 5


@dataclass(frozen=True)
class BarConfig:
    meters: tuple[int, ...] = (3, 4)  # beats per bar the model knows
    meter_prior: tuple[float, ...] = (0.3, 0.7)  # their prior (4/4 is commoner in the music this is for)
    jump: float = 0.01  # probability per beat of leaving the count within the metre (a missed or an extra beat)
    metre_change: float = 0.001  # probability per beat of changing metre: rarer than a slip of the count
    weights: tuple[float, ...] = (1.487, 0.033, 0.522, 1.053, -1.537)  # the cues' weights in the log-likelihood ratio (see the module doc)
    bias: float = -0.599  # its constant
    norm_beats: float = 8.0  # each cue is taken over its running mean across about this many beats
    compression: float = 1000.0  # chroma log(1 + c * amplitude), as the features compress their bands
    onset_window_s: tuple[float, float] = (-0.03, 0.06)  # the onset cues' window around the beat's frame


@dataclass(frozen=True)
class BarState:
    beat_in_bar: int  # 0 on the downbeat, up to beats_per_bar - 1
    beats_per_bar: int
    bar: int  # downbeats so far: 0 before the first, so bar 1 starts at the first downbeat
    bar_phase: float  # 0..1 across the bar: 0 on the downbeat
    confidence: float  # 0..1: the model's probability of the position it chose (1 when set by hand)
    set_by_hand: bool = False  # "this is the one" holds the count


@dataclass(frozen=True)
class BeatPlace:
    time_s: float
    beat_in_bar: int
    beats_per_bar: int
    bar: int
    confidence: float


class BarTracker:
    def __init__(self, frame_rate: float, config: BarConfig = BarConfig(), *, delay_s: float = ONSET_DELAY_S):
        if len(config.meters) != len(config.meter_prior) or min(config.meters) < 2:
            raise ValueError(f"meters {config.meters} need one prior each and at least 2 beats")
        if len(config.weights) != N_CUES:
            raise ValueError(f"weights {config.weights} must be {N_CUES}, one per cue")
        self.fr, self.cfg, self.delay_s = frame_rate, config, delay_s
        # the states (M, k), meter after meter; each moves to (M, k + 1 mod M)
        self.meter = np.array([m for m in config.meters for _ in range(m)])  # (S,)
        self.position = np.array([k for m in config.meters for k in range(m)])  # (S,)
        starts = np.cumsum([0, *config.meters])[:-1]  # each meter's first state
        self.advance = np.array([o + (k + 1) % m for o, m in zip(starts, config.meters, strict=True) for k in range(m)])  # (S,)
        # transition[to, from]: on to the next position, or a jump to any position of the metre, or to another metre
        same = self.meter[:, None] == self.meter[None, :]
        to_metre = np.where(same, 1.0 / self.meter[:, None], 0.0)  # uniform over the positions of the same metre
        other = np.where(same, 0.0, 1.0 / np.maximum(1, (~same).sum(axis=0, keepdims=True)))  # uniform over the others' states
        self.transition = config.jump * to_metre + config.metre_change * other
        self.transition[self.advance, np.arange(len(self.meter))] += 1.0 - config.jump - config.metre_change
        self.transition /= self.transition.sum(axis=0, keepdims=True)  # (S, S), columns sum to 1
        self.is_downbeat = self.position == 0
        prior = np.concatenate([np.full(m, p / m) for m, p in zip(config.meters, config.meter_prior, strict=True)])
        self.prior = prior / prior.sum()
        self.belief = self.prior.copy()  # P(state of the newest beat | cues so far)
        self.weights = np.asarray(config.weights, np.float64)
        lo, hi = config.onset_window_s
        self.window = (math.floor(lo * frame_rate), math.ceil(hi * frame_rate))  # frames around a beat's frame

        # per-frame cues since a little before the beat before last: [onset, low_onset, activation, chroma x 12]
        self.frames = np.zeros((0, 15), np.float32)
        self.frames_base = 0  # frame index of self.frames[0]
        self.n = 0  # frames seen
        self.beat_frames: list[int] = []  # the last three beats' frames
        self.chromas: deque[np.ndarray] = deque(maxlen=3)  # unit chroma of the last three closed beats
        self.means = np.zeros(N_CUES)  # running means of the raw cues
        self.seen = 0  # beats whose cues went into the means
        self.places: deque[BeatPlace] = deque(maxlen=16)  # the newest beats, placed in their bars
        self.history: list[BeatPlace] = []  # every beat placed (bar_times reads them)
        self.ratios: list[float] = []  # every beat's log-likelihood ratio (bar_times' backward pass)
        self.bar = 0
        self.held: tuple[int, int] | None = None  # (beats_per_bar, position of the newest beat) while set by hand

    # --- the model ----------------------------------------------------------------------------

    def push(self, frames: FeatureFrames, beats_s: list[float]) -> list[BeatPlace]:
        """Take new analysis frames and the beats found up to their end; return those beats placed."""
        n = len(frames)
        if n:
            rows = np.empty((n, 15), np.float32)
            rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3:] = frames.onset, frames.low_onset, frames.beat_activation, frames.chroma
            self.frames = np.concatenate([self.frames, rows])
            self.n += n
        placed = [self._beat(t) for t in beats_s]
        keep_from = (self.beat_frames[0] if self.beat_frames else self.n) + self.window[0]
        if keep_from - self.frames_base > 512:  # drop what no beat will read again (amortised)
            self.frames = self.frames[keep_from - self.frames_base :]
            self.frames_base = keep_from
        return placed

    def _frame_of(self, t_s: float) -> int:
        return round((t_s + self.delay_s) * self.fr) - 1

    def _rows(self, a: int, b: int) -> np.ndarray:
        return self.frames[max(0, a - self.frames_base) : max(0, b - self.frames_base)]

    def _beat(self, t_s: float) -> BeatPlace:
        f = min(self._frame_of(t_s), self.n - 1)
        self.beat_frames = [*self.beat_frames[-2:], f]
        first = len(self.beat_frames) == 1
        if not first:  # the beat before is whole: its cues, then one step of the model
            ratio = self._ratio(*self.beat_frames[-2:])
            self.ratios.append(ratio)  # ratios[j]: beat j's, known at beat j + 1
            if self.held is None:
                self.belief = self.belief * np.where(self.is_downbeat, math.exp(min(ratio, 30.0)), 1.0)
                self.belief /= self.belief.sum()
        if self.held is not None:
            m, k = self.held
            self.held = (m, (k + 1) % m)
            meter, position, confidence = m, self.held[1], 1.0
        else:
            if not first:  # belief was about the beat before: move it on to this one
                self.belief = self.transition @ self.belief
            best = int(np.argmax(self.belief))
            meter, position, confidence = int(self.meter[best]), int(self.position[best]), float(self.belief[best])
        if position == 0:
            self.bar += 1
        place = BeatPlace(t_s, position, meter, self.bar, confidence)
        self.places.append(place)
        self.history.append(place)
        return place

    def cues(self, a: int, b: int) -> np.ndarray:
        """The raw cues of the beat whose frames are [a, b) (see the module doc)."""
        rows = self._rows(a, b)
        chroma = np.log1p(self.cfg.compression * rows[:, 3:].mean(axis=0)) if len(rows) else np.zeros(12)
        norm = float(np.linalg.norm(chroma))
        chroma = chroma / norm if norm > 1e-9 else chroma
        change = 1.0 - float(chroma @ self.chromas[-1]) if len(self.chromas) >= 1 and norm > 1e-9 else 0.0
        change2 = 1.0 - float(chroma @ self.chromas[-2]) if len(self.chromas) >= 2 and norm > 1e-9 else 0.0
        self.chromas.append(chroma)
        lo, hi = self.window
        at = self._rows(a + lo, a + hi + 1)
        onset, low, act = (at[:, :3].max(axis=0) if len(at) else np.zeros(3)).tolist()
        return np.array([change, change2, low, onset, act])

    def _ratio(self, a: int, b: int) -> float:
        """log P(cues | downbeat) / P(cues | not): the weights over the cues relative to their means."""
        raw = self.cues(a, b)
        relative = raw / (self.means + 1e-6) - 1.0 if self.seen else np.zeros(N_CUES)
        rate = max(1.0 / (self.seen + 1), 1.0 / self.cfg.norm_beats)  # a plain mean at first, then a running one
        self.means += rate * (raw - self.means)
        self.seen += 1
        self.last_relative = relative
        return float(self.weights @ np.clip(relative, -1.0, 3.0) + self.cfg.bias)

    def most_likely_path(self) -> list[tuple[int, int]]:
        """(beat_in_bar, beats_per_bar) of every beat so far on the model's most likely path given
        all the cues (Viterbi): the offline count, which the future may change."""
        n, s = len(self.history), len(self.meter)
        log_t = np.log(self.transition)  # (to, from)
        score = np.log(self.prior)
        back = np.zeros((n, s), np.int64)
        for j in range(n):
            if j:
                into = log_t + score[None, :]  # (to, from)
                back[j] = np.argmax(into, axis=1)
                score = into.max(axis=1)
            if j < len(self.ratios):
                score = score + np.where(self.is_downbeat, self.ratios[j], 0.0)
        path = [int(np.argmax(score))]
        for j in range(n - 1, 0, -1):
            path.append(int(back[j, path[-1]]))
        return [(int(self.position[i]), int(self.meter[i])) for i in reversed(path)]

    # --- by hand --------------------------------------------------------------------------------

    def set_downbeat(self, *, ahead: bool = False, beats_per_bar: int | None = None) -> None:
        """ "This is the one": the newest beat (ahead: the one due next) is a downbeat, and the count
        holds from there (beats_per_bar: the model's unless given) until release(). A press nearer
        the next beat than the last means the next (live.analysis.clock.Analyzer.set_downbeat)."""
        if not self.places:
            return
        newest = self.places[-1]
        m = beats_per_bar or newest.beats_per_bar
        position = -int(ahead) % m  # the newest beat's place, so that the chosen one is 0
        self.held = (m, position)
        if position == 0 and newest.beat_in_bar != 0:
            self.bar += 1
        self.places[-1] = BeatPlace(newest.time_s, position, m, self.bar, 1.0)

    def release(self) -> None:
        """The model places the beats again, starting from the count that was held."""
        if self.held is not None:
            m, k = self.held
            self.belief = np.where((self.meter == m) & (self.position == k), 0.9, 0.1 / (len(self.meter) - 1))
            self.held = None

    # --- the clock ------------------------------------------------------------------------------

    def state(self, t_s: float, last_beat_s: float | None, period_s: float, phase: float) -> BarState:
        """The bar at t_s, given the beat clock there (its last beat, period and phase: BeatState's)."""
        if not self.places or last_beat_s is None:
            return BarState(0, self.places[-1].beats_per_bar if self.places else 4, self.bar, 0.0, 0.0)
        place = self.places[-1]
        for p in reversed(self.places):  # the newest placed beat at or before the clock's beat
            place = p
            if p.time_s <= last_beat_s + 1e-6:
                break
        m = place.beats_per_bar
        steps = max(0, round((last_beat_s - place.time_s) / period_s)) if period_s > 0 else 0  # beats the clock ran past it
        k = place.beat_in_bar + steps
        bar, k = place.bar + k // m, k % m
        return BarState(k, m, bar, (k + min(max(phase, 0.0), 1.0)) / m, place.confidence, self.held is not None)


# --- a whole file's bars (live.analysis.clock.bar_times finds them offline) ------------------------


@dataclass(frozen=True)
class Bars:
    """A file's beats placed in their bars. Bar k (1-based) starts at downbeats_s[k - 1]."""

    tempo_bpm: float | None  # the median beat interval's (None: fewer than three beats)
    beats_s: list[float]  # every beat the tracker found, in s from the start of the audio
    beat_in_bar: list[int]  # per beat: 0 on the downbeat
    beats_per_bar: list[int]  # per beat: 3 or 4

    @property
    def downbeats_s(self) -> list[float]:
        return [t for t, k in zip(self.beats_s, self.beat_in_bar, strict=True) if k == 0]

    def phrases_s(self, bars: int) -> list[float]:
        """Where each phrase of `bars` bars starts (bars 1, 1 + bars, 1 + 2 * bars, ...)."""
        return self.downbeats_s[::bars]
