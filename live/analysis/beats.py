"""A causal beat tracker: tempo, beat phase and confidence from onsets and a learned beat
activation, no future audio.

Its inputs (`push(frames)`) are two per-frame curves, each the features' onsets over their running
maximum (0..1) plus the beat network's activation (0..1, live/analysis/beat_net.py): the network knows which
onsets are beats in music like what it learned from, the onsets keep a beat in music it did not.
The tempo reads the plain onsets, the beat placement the broad ones (beat_flux: each band's rise
square-rooted, so onsets many bands share outweigh one loud instrument). Below, "flux" is that input.

It follows BTrack (Stark, Davies & Plumbley, "Real-time beat-synchronous analysis of musical audio",
DAFx 2009), with the tempo range widened to 60-200 BPM and a log-normal tempo prior:

1. Cumulative score: CS[n] = (1 - alpha) * flux[n] + alpha * max_v W1(v) * CS[n + v], v in
   [-2P, -P/2] frames, W1 a log-Gaussian around the beat period P. CS[n] is high where a beat one
   period back was strong and flux arrives now. The recursion only reaches P/2 frames back, so a
   chunk of P/2 new frames is computed at once (vectorised).
2. Beat prediction: half a period after each beat, CS is run forward over the next period with no
   flux (the future is unknown), weighted by a Gaussian around one period after the last beat; its
   peak is the next beat. The beat is emitted when the audio reaches it.
3. Tempo: every `tempo_every_s`, the autocorrelation of the last `tempo_window_s` of flux is summed
   at each candidate period's first four multiples (a comb) and at its half (the beat's eighth
   notes: of two periods that both fit the bars, e.g. 120 and 180 BPM under a clave, the one whose
   half also recurs is the beat), weighted by the prior, and filtered over time on a log-tempo grid
   (an HMM forward pass: tempo drifts, and steps now and then by up to half an octave). The
   autocorrelation weighs the flux by its age (exp(-age / tempo_memory_s), 1 s, each lag unbiased),
   so that a tempo step is heard within a few beats; where the estimates move steadily (a ramp: no
   two successive ones 1% apart), the tempo is read tempo_lead_s ahead along their trend, which is
   how far behind a ramp the weighted window reads it. Measured on live/lab/hard_corpus.py (issue
   19): a 120 -> 128 BPM ramp within 0.9 BPM from four beats in, steps 98 -> 126 and 138 -> 112
   within 0.5 BPM eight beats after (before: 2.3 BPM off on the ramp, 37-42 BPM off for seconds
   after a step); the hard corpus F 0.802 -> 0.875, AMLt 0.867 -> 0.890, the grooves 0.980 -> 0.981
   (96 excerpts 0.952 -> 0.955), the songs' 70 excerpts 0.778 -> 0.775 (music008, wrong either way).
   Two steps in a row can still carry the tempo an octave (100 -> 80 BPM on a TR-808 kit ends at
   160, where the prior is higher). The three constants were chosen on that corpus and the grooves
   (memory 1, 1.5, 2, 2.5, 4 s; step chance 0, 1e-3; lead 0, 1, 2, 3 s). A finer tempo grid (240)
   lost the 72 BPM click track to 144 for good.
4. Phase check: on every other beat, the beat network's activation at the last eight beats is
   compared with its value a third, a half and two thirds of a beat later; 1.5 times higher there,
   twice running, and the beat moves (the cumulative score with it). The score alone never moves a
   locked beat by a fraction of a period, so a first lock on an off-beat as loud as the beat used to
   last the whole piece (a swung garage piece started 3 s in: F 0 -> 0.67 with the grooves-only
   network of before).

Tap tempo overrides all of it until released: beats at the last tap plus whole periods, the period
the median of the last few tap intervals. `half_beat` moves the clock's beat by half a period: the
tracker's most common miss is the right pulse on the off-beat (see live/lab/beat_eval.py), and a VJ who
hears that fixes it with one key.

    tracker = BeatTracker(frame_rate=100)    # analysis frames per second (live.analysis.features)
    beats_s = tracker.push(frames)            # FeatureFrames -> new beat times (s), every block
    tracker.state(t_s)                        # BeatState: tempo_bpm, phase, confidence, ...

`python -m live beats FILE [--json]` prints a file's tempo and beats with this same tracker
(live/app/beats.py); `live.analysis.clock.Analyzer` runs it beside the features.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.ndimage

from live.analysis.features import FeatureFrames

# Frame i's flux peaks when an attack reaches the newest part of its window: a beat found at frame i
# sounded this long before the frame's end. Measured on click tracks (tests/live/analysis/test_beats.py).
ONSET_DELAY_S = 0.02
MOVING_MEAN = 33  # frames in the tempo's adaptive threshold (its centred moving mean)
_PHASE_SHIFTS = np.array([0.0, 1 / 3, 1 / 2, 2 / 3])  # where the phase check looks: the beat, then beside it (fractions of a beat)


@dataclass(frozen=True)
class BeatConfig:
    min_bpm: float = 60.0  # the tempo range searched
    max_bpm: float = 200.0
    prior_bpm: float = 120.0  # centre of the log-normal tempo prior (librosa's and most DJ music's)
    prior_octaves: float = 0.6  # its width: narrow enough to pick 140 over 70 BPM, wide enough for 60 and 200
    candidates: int = 120  # tempo grid, log-spaced over [min_bpm, max_bpm]: 1% steps
    tempo_window_s: float = 8.0  # flux history the autocorrelation sees (four periods at 30 BPM's comb)
    tempo_every_s: float = 0.25  # how often the tempo is re-estimated
    tempo_jump_octaves: float = 0.03  # tempo drift allowed per update (HMM transition width)
    tempo_step_chance: float = 1e-3  # per update, the chance of a jump to any tempo (a tempo step), besides the drift
    tempo_step_octaves: float = 0.5  # how far such a step reaches: less than an octave, which would be the pulse's double or half
    tempo_memory_s: float = 1.0  # the autocorrelation weighs the flux by exp(-age / this); 0: the whole window alike
    tempo_lead_s: float = 1.0  # a tempo that moves steadily is read this far ahead along its trend (the estimate lags a ramp)
    tempo_trend_s: float = 2.0  # the trend: the estimates' slope over this long, when none of them jumped
    half_period_weight: float = 0.25  # the comb's weight at half the period, against 1 per multiple (see _comb)
    onset_weight: float = 1.0  # tracker input = onset_weight * onsets (0..1) + the beat network's activation (0..1)
    alpha: float = 0.8  # cumulative score: weight of the past (BTrack: 0.9; 0.8 re-locks faster after a wrong start)
    tightness: float = 5.0  # width of W1 in log-period: higher holds the period more strictly (BTrack's value)
    warmup_s: float = 1.5  # first beat prediction after this much audio
    hold_below: float = 0.6  # periodicity (0..1, see _update_tempo) below which the tempo's evidence counts for less, down to
    hold_floor: float = 0.35  # nothing at this: a drumless breakdown keeps the tempo it had instead of wandering (hard F 0.875 -> 0.879)
    relock_octaves: float = 0.1  # a tempo change this large (a step) re-runs the cumulative score at the new period over the
    relock_beats: float = 4.0  # last this-many beats, so the phase found at the old tempo does not linger (hard 0.879 -> 0.882)
    relock_after_s: float = 4.0  # but not in the first seconds after the first estimate: the tempo is still being found there
    phase_check_beats: int = 8  # the beat network's activation on the last this-many beats is compared with its value a third,
    phase_check_margin: float = 1.5  # a half and two thirds of a beat later; this many times higher there, twice running, moves the beat
    tap_reset_s: float = 2.0  # a tap this long after the previous starts a new tap sequence
    tap_intervals: int = 4  # tap period = median of the last this-many intervals


@dataclass(frozen=True)
class BeatState:
    tempo_bpm: float
    phase: float  # 0..1: 0 on a beat, rising to 1 at the next
    confidence: float  # 0..1: how periodic the recent flux is (0 in silence and before the first estimate)
    last_beat_s: float | None
    next_beat_s: float | None  # predicted (None until the first prediction)
    tapped: bool  # tap tempo is overriding the tracker
    half_beat: bool = False  # the tracker's beat moved by half a period (the VJ's off-beat key)


class BeatTracker:
    def __init__(self, frame_rate: float, config: BeatConfig = BeatConfig(), *, delay_s: float = ONSET_DELAY_S):
        if not 0 < config.min_bpm < config.max_bpm:
            raise ValueError(f"tempo range {config.min_bpm}-{config.max_bpm} BPM is empty")
        self.fr, self.cfg, self.delay_s = frame_rate, config, delay_s
        self.bpms = np.geomspace(config.min_bpm, config.max_bpm, config.candidates)  # (C,)
        self.periods = 60.0 * frame_rate / self.bpms  # (C,) frames per beat
        self.max_lag = int(math.ceil(4 * self.periods.max())) + 4
        self.window = max(int(config.tempo_window_s * frame_rate), self.max_lag + 1)
        self.history = max(self.window, int(2 * self.periods.max()) + 2)  # frames of flux and CS kept
        self.comb_index, self.comb_weight = _comb(self.periods, config.half_period_weight)  # (C, 27) lags, (27,) weights
        self._comb_total = float(self.comb_weight.sum())
        log_dist = np.log2(self.bpms / config.prior_bpm)
        self.prior = np.exp(-0.5 * (log_dist / config.prior_octaves) ** 2)  # (C,)
        steps = np.log2(self.bpms[:, None] / self.bpms[None, :])
        self.transition = np.exp(-0.5 * (steps / config.tempo_jump_octaves) ** 2)  # (C, C)
        self.transition /= self.transition.sum(axis=0, keepdims=True)
        reach = (np.abs(steps) <= config.tempo_step_octaves).astype(float)
        self.transition = (1 - config.tempo_step_chance) * self.transition + config.tempo_step_chance * reach / reach.sum(
            axis=0, keepdims=True
        )
        self.posterior = self.prior / self.prior.sum()
        self.tempo_every = max(1, round(config.tempo_every_s * frame_rate))
        k = max(2, round(config.tempo_trend_s / config.tempo_every_s))
        self._trend: deque[float] = deque(maxlen=k)  # log2 of the last k estimates' periods
        self._trend_x = [(i - (k - 1) / 2) / sum((j - (k - 1) / 2) ** 2 for j in range(k)) for i in range(k)]  # least-squares slope weights

        # flux and cumulative score live in preallocated buffers, index i holding frame base + i; they
        # start with `history` zeros (the silence before frame 0), so every look-back lands inside
        self.flux = np.zeros(4 * self.history, np.float32)  # the tempo's input
        self.beat_flux = np.zeros(4 * self.history, np.float32)  # the cumulative score's
        self.evidence = np.zeros(4 * self.history, np.float32)  # the confidence's
        self.activation = np.zeros(4 * self.history, np.float32)  # the beat network's alone (the phase check's)
        self.cs = np.zeros(4 * self.history, np.float32)
        self.base = -self.history
        self.n = 0  # frames seen
        self.period = 60.0 * frame_rate / config.prior_bpm  # frames per beat, current estimate
        self._w1_cache = (None, None, None)  # (period, v, W1(v)): recomputed when the period changes
        # the tempo's fixed-size work, precomputed: moving-mean bounds and the unbiased ACF's divisor
        self._mm_scale = self._moving_mean_scale(self.window)
        self._decay = self._acf_decay(self.window)
        self._acf_norm = self._acf_normaliser(self._decay)
        self._fft_n = scipy.fft.next_fast_len(self.window + self.max_lag, real=True)  # zero-padded: no circular wrap up to max_lag
        self.confidence = 0.0
        self._first_estimate: int | None = None  # the frame of the first tempo estimate
        self.predict_at = round(config.warmup_s * frame_rate)  # frame at which to predict the next beat
        self.beat_at: int | None = None  # predicted next beat frame
        self.last_beat: int | None = None
        self.beats_s: list[float] = []  # every beat so far (the `beats` command reads them)
        self.taps: list[float] = []
        self.tap_period_s: float | None = None  # set while tap tempo overrides
        self._beats_counted = 0  # beats since the start (the phase check runs on every other one)
        self._phase_votes = 0  # phase checks running that found the beats elsewhere
        self.half_beat = False  # state() puts the beat half a period from the tracker's (taps are taken as they are)

    # --- the tracker --------------------------------------------------------------------------

    def push(self, frames: FeatureFrames) -> list[float]:
        """Take new analysis frames; return the beats (s) that fall in them. The tempo reads the
        onsets, the beats the broad onsets (each over its running maximum), both plus the beat
        network's activation: the network knows which onsets are beats in the music it learned
        from, the onsets keep a beat in what it did not (click tracks, a lone instrument)."""
        w, act = self.cfg.onset_weight, frames.beat_activation
        return self.push_flux(w * frames.onset + act, w * frames.beat_onset + act, frames.onset, act)

    def push_flux(
        self,
        flux: np.ndarray,
        beat_flux: np.ndarray | None = None,
        evidence: np.ndarray | None = None,
        activation: np.ndarray | None = None,
    ) -> list[float]:
        """flux sets the tempo, beat_flux (default: flux) places the beats, and how periodic evidence
        (default: flux) is sets the confidence: push() gives it the onsets alone, so that a network
        which finds beats where there are none (noise) cannot vouch for them. activation (the beat
        network's; default: none) can move the beat to where it says the beats are (_check_phase)."""
        flux = np.asarray(flux, dtype=np.float32)
        first = self.n
        beat_flux = flux if beat_flux is None else np.asarray(beat_flux, dtype=np.float32)
        evidence = flux if evidence is None else np.asarray(evidence, dtype=np.float32)
        activation = np.zeros_like(flux) if activation is None else np.asarray(activation, dtype=np.float32)
        self._append(flux, beat_flux, evidence, activation)
        beats = []
        i = first
        while i < self.n:
            # advance to the next event (tempo update, prediction, beat) or half a period, whichever is first
            tempo_at = self._next_tempo_frame(i)
            j = min(self.n, i + max(1, int(self.period / 2)), tempo_at + 1)
            for e in (self.predict_at, self.beat_at):
                if e is not None and e >= i:
                    j = min(j, e + 1)
            self._cumulative_score(i, j)
            last = j - 1
            if last == tempo_at:
                self._update_tempo(last)
            if last == self.predict_at:
                self._predict(last)
            if last == self.beat_at:
                self.last_beat, self.beat_at = last, None
                self.predict_at = last + max(1, round(self.period / 2))
                beats.append(self._frame_time(last))
                if self.cfg.phase_check_beats > 0:
                    self._check_phase(last)
            i = j
        if self.tap_period_s is not None:  # the tap clock replaces the tracker's beats
            beats = self._tap_beats(self._frame_time(first - 1), self._frame_time(self.n - 1))
        self.beats_s += beats
        return beats

    def _append(self, flux: np.ndarray, beat_flux: np.ndarray, evidence: np.ndarray, activation: np.ndarray) -> None:
        """Write new flux at the end of the buffers; when full, keep the last `history` frames (amortised)."""
        end = self.n - self.base
        if end + len(flux) > len(self.flux):
            keep = self.history
            size = max(len(self.flux), 2 * (keep + len(flux)))
            for name in ("flux", "beat_flux", "evidence", "activation", "cs"):
                old, new = getattr(self, name), np.zeros(size, np.float32)
                new[:keep] = old[end - keep : end]
                setattr(self, name, new)
            self.base += end - keep
            end = keep
        self.flux[end : end + len(flux)] = flux
        self.beat_flux[end : end + len(flux)] = beat_flux
        self.evidence[end : end + len(flux)] = evidence
        self.activation[end : end + len(flux)] = activation
        self.n += len(flux)

    def _frame_time(self, frame: int) -> float:
        return (frame + 1) / self.fr - self.delay_s

    def _next_tempo_frame(self, i: int) -> int:
        return i + (-i - 1) % self.tempo_every  # frames n with (n + 1) % tempo_every == 0

    def _w1(self) -> tuple[np.ndarray, np.ndarray]:
        """Offsets v in [-2P, -P/2] (ascending) and their log-Gaussian weights."""
        p, v, w = self._w1_cache
        if p != self.period:
            p = self.period
            v = np.arange(-round(2 * p), -round(p / 2) + 1)
            w = np.exp(-0.5 * (self.cfg.tightness * np.log(-v / p)) ** 2).astype(np.float32)
            self._w1_cache = (p, v, w)
        return v, w

    def _cumulative_score(self, a: int, b: int) -> None:
        """CS for frames [a, b), b - a <= P/2 so every term it reads is already known."""
        v, w = self._w1()
        alpha, cs, lo = self.cfg.alpha, self.cs, a - self.base
        past = np.ndarray((b - a, len(v)), np.float32, buffer=cs, offset=4 * (lo + v[0]), strides=(4, 4))  # (n, V): rows overlap
        cs[lo : lo + b - a] = (1 - alpha) * self.beat_flux[lo : lo + b - a] + alpha * (past * w).max(axis=1)

    def _predict(self, m: int) -> None:
        """Run CS forward over the next period with no flux; the beat is its peak, weighted towards
        one period after the last beat (half a period from now)."""
        p = self.period
        ahead = max(2, round(p))
        v, w = self._w1()
        back = -int(v[0])
        origin = m + 1 - self.base  # cs index of frame m + 1
        cs = np.concatenate([self.cs[origin - back : origin], np.zeros(ahead, np.float32)])  # (back + ahead,): the future
        step = max(1, round(p / 2))
        for a in range(0, ahead, step):
            rows = min(step, ahead - a)
            past = np.lib.stride_tricks.as_strided(cs[back + a + v[0] :], shape=(rows, len(v)), strides=(cs.strides[0],) * 2)
            cs[back + a : back + a + rows] = self.cfg.alpha * (past * w).max(axis=1)
        offsets = np.arange(1, ahead + 1)
        centre = (self.last_beat + p - m) if self.last_beat is not None else p / 2
        w2 = np.exp(-0.5 * ((offsets - centre) / (p / 2)) ** 2)
        self.beat_at = m + int(offsets[np.argmax(cs[back:] * w2)])
        self.predict_at = None

    def _update_tempo(self, last: int) -> None:
        """Comb over the autocorrelation of the flux up to frame `last`, times the prior; one HMM step."""
        if last + 1 < self.max_lag + 1:
            return
        n = min(self.window, last + 1)  # the flux since the start, until there is a whole window of it
        if n == self.window:
            scale, decay, norm, fft_n = self._mm_scale, self._decay, self._acf_norm, self._fft_n
        else:
            decay = self._acf_decay(n)
            scale, norm = self._moving_mean_scale(n), self._acf_normaliser(decay)
            fft_n = scipy.fft.next_fast_len(n + self.max_lag, real=True)
        end = last + 1 - self.base
        # the flux and the evidence, as two rows: one call each for both autocorrelations
        o = np.stack([self.flux[end - n : end], self.evidence[end - n : end]]).astype(np.float64)  # (2, n)
        # adaptive threshold, as BTrack: only what stands out of the mean of the 33 frames around it
        o -= scipy.ndimage.uniform_filter1d(o, MOVING_MEAN, axis=1, mode="constant") * scale
        np.maximum(o, 0, out=o)
        o -= o.sum(axis=1, keepdims=True) * (1.0 / n)
        o *= decay
        spectrum = scipy.fft.rfft(o, fft_n, axis=1)
        acfs = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, fft_n, axis=1)[:, : self.max_lag + 1]
        if acfs[0, 0] <= 1e-12 or acfs[1, 0] <= 1e-12:  # silence: keep the tempo, lose the confidence
            self.confidence *= 0.5
            return
        acf, evidence = acfs * (norm / norm[0]) / acfs[:, :1]  # unbiased, normalised: acf[0] = 1
        comb = np.maximum(acf[self.comb_index] @ self.comb_weight, 0)  # (C,)
        observation = comb * self.prior + 1e-9
        evidence_comb = evidence[self.comb_index] @ self.comb_weight  # (C,): how periodic the onsets alone are at each tempo
        # 1 for a perfectly periodic signal, ~0 for noise; below hold_below the observation is flattened (a power
        # under 1), down to no say at all at hold_floor: held chords recur every bar, which fits any tempo with a
        # multiple there, and the tempo the drums set must not follow them
        periodicity = min(max(2 * float(evidence_comb.max()) / self._comb_total, 0.0), 1.0)
        if periodicity < self.cfg.hold_below:
            observation **= max((periodicity - self.cfg.hold_floor) / max(self.cfg.hold_below - self.cfg.hold_floor, 1e-9), 0.0)
        self.posterior = observation * (self.transition @ self.posterior)
        self.posterior /= self.posterior.sum()
        best = min(max(int(self.posterior.argmax()), 1), len(self.bpms) - 2)
        y0, y1, y2 = np.log(self.posterior[best - 1 : best + 2] + 1e-30).tolist()
        shift = min(max(0.5 * (y0 - y2) / (y0 - 2 * y1 + y2 - 1e-12), -0.5), 0.5)  # parabola through the peak: between grid steps
        period = float(self.periods[best] * (self.periods[best + 1] / self.periods[best]) ** shift)
        old, self.period = self.period, self._lead(period)
        if self._first_estimate is None:
            self._first_estimate = last
        settled = last - self._first_estimate >= self.cfg.relock_after_s * self.fr
        if settled and self.cfg.relock_octaves > 0 and abs(math.log2(self.period / old)) > self.cfg.relock_octaves:
            self._relock(last)
        at_tempo = 2 * float(evidence_comb[best]) / self._comb_total  # the periodicity at the tempo chosen
        self.confidence = 0.7 * self.confidence + 0.3 * min(max(at_tempo, 0.0), 1.0)

    def _check_phase(self, last: int) -> None:
        """On every other beat (at frame `last`): the beat network's activation at the last
        phase_check_beats beats against its value a third, a half and two thirds of a beat after
        each. Where one of those is phase_check_margin times higher twice running, the beat moves
        there: the cumulative score is shifted along with it and the next beat predicted again.
        The cumulative score alone never moves a locked beat by a fraction of a period (its window
        W1 gives little weight there), so a wrong first lock, e.g. on a swung off-beat where onsets
        are as strong as on the beat, would last the whole piece. While half_beat is on (the VJ
        moved the beat by ear), it does nothing."""
        self._beats_counted += 1
        if self.half_beat:  # the VJ moved the beat by ear (the O key): that stands
            return
        p = self.period
        k = min(self.cfg.phase_check_beats, int((self.history - 4) / p) - 1)
        if self._beats_counted % 2 or self._first_estimate is None or k < 2 or last - self._first_estimate < (k + 1) * p:
            return
        end = last + 1 - self.base
        # the grid points: the last k beats (rows), shifted by 0, 1/3, 1/2 and 2/3 of a beat (columns), 2 frames either side
        grid = np.rint(end - 1 - (np.arange(1, k + 1)[:, None] - _PHASE_SHIFTS[None, :]) * p).astype(np.intp)
        levels = self.activation[grid[..., None] + np.arange(-2, 3)].max(axis=2).mean(axis=0)  # (4,): the activation's mean peak
        here, best = float(levels[0]), int(levels[1:].argmax()) + 1
        there = float(levels[best])
        self._phase_votes = self._phase_votes + 1 if there > self.cfg.phase_check_margin * here + 1e-6 else 0
        if self._phase_votes < 2:
            return
        self._phase_votes = 0
        d = round(_PHASE_SHIFTS[best] * p)
        lo = end - self.history + d
        self.cs[lo:end] = self.cs[lo - d : end - d].copy()  # the score's peaks d frames later
        self.last_beat = last + d - round(p)  # the beat before the next one on the new grid (already past)
        self._predict(last)

    def _relock(self, last: int) -> None:
        """After a tempo step: the cumulative score of the last relock_beats periods again, at the new
        period (each frame looks back at most 2 periods, which the buffers hold), and the pending beat
        predicted again from it. Without this the score's peaks stay spaced at the old period and the
        beats sit off the music's for several beats after a step (the cumulative score forgets slowly)."""
        a = max(last + 1 - round(self.cfg.relock_beats * self.period), last + 1 - self.history + round(2 * self.period) + 1, 0)
        step = max(1, int(self.period / 2))
        for i in range(a, last + 1, step):
            self._cumulative_score(i, min(i + step, last + 1))
        if self.beat_at is not None and self.beat_at > last:
            self._predict(last)

    def _lead(self, period: float) -> float:
        """The period read tempo_lead_s ahead along the estimates' trend: their least-squares slope over
        the last tempo_trend_s, when no two successive ones differ by more than 1% (a step is no trend).
        Plain floats: eight numbers cost less so than as arrays."""
        trend = self._trend
        trend.append(math.log2(period))
        if self.cfg.tempo_lead_s <= 0 or len(trend) < trend.maxlen:
            return period
        if max(abs(b - a) for a, b in zip(trend, list(trend)[1:], strict=False)) > 0.015:
            return period
        slope = sum(x * y for x, y in zip(self._trend_x, trend, strict=True)) / self.cfg.tempo_every_s  # octaves per second
        return period * 2 ** min(max(slope * self.cfg.tempo_lead_s, -0.03), 0.03)

    @staticmethod
    def _moving_mean_scale(n: int) -> np.ndarray:
        """(n,) MOVING_MEAN / the frames inside the moving mean's window at each frame of an n-frame window:
        a zero-padded uniform filter times this is the mean over the frames there are."""
        i = np.arange(n)
        half = MOVING_MEAN // 2
        return MOVING_MEAN / (np.minimum(i + half + 1, n) - np.maximum(i - half, 0))

    def _acf_decay(self, n: int) -> np.ndarray:
        """(n,) the weight of each frame of the tempo's window, oldest first: exp(-age / tempo_memory_s), or 1."""
        if self.cfg.tempo_memory_s <= 0:
            return np.ones(n)
        return np.exp(-(n - 1 - np.arange(n)) / (self.cfg.tempo_memory_s * self.fr))

    def _acf_normaliser(self, decay: np.ndarray) -> np.ndarray:
        """1 / sum_t w[t] w[t - lag] for each lag: a constant signal's weighted autocorrelation, so that
        every lag is unbiased (for a flat window, 1 / (n - lag)). w[t] = r**age: a geometric sum."""
        n, lags = len(decay), np.arange(self.max_lag + 1)
        if self.cfg.tempo_memory_s <= 0:
            return 1.0 / (n - lags)
        r = math.exp(-1.0 / (self.cfg.tempo_memory_s * self.fr))
        return (1 - r * r) / (r**lags * (1 - r ** (2 * (n - lags))))

    # --- tap tempo ------------------------------------------------------------------------------

    def tap(self, t_s: float) -> None:
        """A tap at t_s (on the audio clock). Two taps set the tempo; it holds until release()."""
        if self.taps and not 0 < t_s - self.taps[-1] <= self.cfg.tap_reset_s:
            self.taps = []
        self.taps = [*self.taps, t_s][-(self.cfg.tap_intervals + 1) :]
        if len(self.taps) >= 2:
            self.tap_period_s = float(np.median(np.diff(self.taps)))

    def release(self) -> None:
        """Hand the beat back to the tracker."""
        self.taps, self.tap_period_s = [], None

    def _tap_beats(self, after_s: float, until_s: float) -> list[float]:
        anchor, p = self.taps[-1], self.tap_period_s
        k0, k1 = math.floor((after_s - anchor) / p) + 1, math.floor((until_s - anchor) / p)
        return [anchor + k * p for k in range(k0, k1 + 1)]

    # --- the clock ------------------------------------------------------------------------------

    def state(self, t_s: float) -> BeatState:
        """Tempo, phase and confidence at time t_s (usually the present or the frame being drawn)."""
        if self.tap_period_s is not None:
            p = self.tap_period_s
            k = math.floor((t_s - self.taps[-1]) / p)
            last = self.taps[-1] + k * p
            return BeatState(60.0 / p, (t_s - last) / p, 1.0, last, last + p, True)
        period_s = self.period / self.fr
        last = self._frame_time(self.last_beat) if self.last_beat is not None else None
        nxt = self._frame_time(self.beat_at) if self.beat_at is not None else None
        if last is not None and nxt is not None and last <= t_s < nxt:
            phase = (t_s - last) / (nxt - last)
        elif last is not None:  # past the predicted beat (or before a prediction): the period runs on
            phase = ((t_s - last) / period_s) % 1.0
        else:
            phase = 0.0
        if self.half_beat and last is not None:
            phase = (phase + 0.5) % 1.0
            last = t_s - phase * period_s
            nxt = last + period_s
        return BeatState(60.0 / period_s, float(phase), self.confidence, last, nxt, False, self.half_beat)


def _comb(periods: np.ndarray, half_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """For each period L: the lags round(a * L) + b, a = 1..4, |b| <= a, and weights 1 / (2a + 1),
    so each multiple counts once whatever its spread (BTrack's comb filter bank, one lag wider: a
    fractional period must not miss a sharp peak at its first multiple); plus round(L / 2) + b,
    |b| <= 1, weighing half_weight in all.

    The half period separates metrical levels the multiples cannot: in a salsa at 180 BPM, 120 BPM
    also recurs every two bars, but its half (a dotted eighth) does not recur, the beat's does. The
    term favours the slower of two tempi an octave apart (the slower one's half is the beat), which
    the prior has to outweigh. Its weight was chosen by a sweep over both corpora of
    live/lab/beat_eval.py, 166 excerpts, F: 0.779 at 0, 0.790 at 0.1, 0.799 at 0.2, 0.798 at 0.25, 0.802
    at 0.35, 0.788-0.794 at 0.5-1. From 0.35 up a 175 BPM click track is heard at 87.5, so 0.25: every
    click track from 60 to 195 BPM gets the tempo it got without the term."""
    offsets = [(a, b) for a in range(1, 5) for b in range(-a, a + 1)]  # 24 pairs
    index = [[round(a * p) + b for a, b in offsets] + [round(p / 2) + b for b in (-1, 0, 1)] for p in periods]
    weight = [1.0 / (2 * a + 1) for a, _ in offsets] + [half_weight / 3] * 3
    return np.array(index), np.array(weight)  # (C, 27), (27,)
