"""Audio features, streamed: levels, band energies, spectral-flux onsets. numpy only.

The same code runs on the live clock (PortAudio blocks of 64..4096 samples) and the offline clock
(decoded blocks of a second): `Features.push(block)` takes any number of samples and returns every
analysis frame that block completed. Pushing a signal in one piece or in blocks of any sizes gives
the same frames (to float rounding of the batched matrix products; onsets exactly; tests check it).

    Features(sr).push(block (n,) or (n, C)) -> FeatureFrames (n_frames rows, possibly 0)

Analysis frame i is complete when the stream holds (i + 1) * hop samples: it covers the newest
`n_fft` samples up to that point (zeros before the stream started), so nothing looks ahead.

    rms, peak     level of the frame's newest hop of samples (the hops partition the audio)
    bands         energy in BAND_EDGES_HZ bands, in dB (bands_db) and 0..1 (bands: amplitude over
                  a running maximum that decays over agc_release_s, so quiet and loud tracks both
                  reach 1)
    flux          spectral flux of log-compressed log-spaced bands: how much new energy arrived
                  (the onset detection function the onsets are picked from)
    beat_flux     the same, but each band's rise square-rooted before the mean: an onset many bands
                  share (bass, chord and drum together, as on a beat) outweighs one loud instrument
                  alone (an off-beat hi-hat or clap).
    onset         flux over its running maximum, 0..1;  is_onset: a peak-picked onset (bool)
    beat_onset    beat_flux over its running maximum, 0..1
    beat_activation  the beat network's probability of a beat in the frame (live/analysis/beat_net.py), 0..1:
                  it reads the log bands the flux is made of. The beat tracker reads it with the
                  onsets (live/analysis/beats.py).
    chroma        spectral amplitude per pitch class (C, C#, ... B) from 200 Hz to 3 kHz: the
                  harmony, whose changes mark the bar lines (live/analysis/bars.py)
    low_onset     the flux of the flux bands below 200 Hz (kick and bass), >= 0: bars start on them
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.sparse

BAND_EDGES_HZ = (20.0, 60.0, 250.0, 500.0, 2000.0, 4000.0, 8000.0)  # sub, bass, low-mid, mid, high-mid, air
BAND_NAMES = ("sub", "bass", "lowmid", "mid", "highmid", "air")
CHROMA_HZ = (200.0, 3000.0)  # the chroma's range: below 200 Hz a 16 kHz, 1024-point bin is wider than a semitone
LOW_ONSET_HZ = 200.0  # the low onset's flux bands lie below this: kick drum and bass
MAX_CHUNK_FRAMES = 4096  # frames analysed per numpy batch: bounds memory when a whole file is pushed at once
MANY_FRAMES = 16  # from this many frames a batch takes scipy's FFT and sparse product (see Features._analyse)


@dataclass(frozen=True)
class FeatureConfig:
    hop_s: float = 0.01  # 100 frames/s: 10 ms onset resolution, well inside a 70 ms beat window
    window_s: float = 0.05  # FFT length, rounded to a power of two: 1024 samples (64 ms) at 16 kHz
    band_edges_hz: tuple[float, ...] = BAND_EDGES_HZ  # bands above Nyquist hold zeros
    flux_bands: int = 40  # log-spaced bands the flux is summed over: a kick and a hi-hat count alike
    flux_fmin_hz: float = 30.0  # lowest flux band edge; the top is min(11 kHz, Nyquist)
    compression: float = 1000.0  # log(1 + c * amplitude): loud and quiet onsets give comparable flux
    agc_release_s: float = 10.0  # running maxima (for the 0..1 values) fall by 1/e over this time
    onset_mean_s: float = 0.3  # onset threshold = mean flux over this past stretch ...
    onset_ratio: float = 1.5  # ... times this ...
    onset_delta: float = 0.05  # ... plus this fraction of the running maximum flux
    onset_min_gap_s: float = 0.05  # onsets closer than this are one onset (a flam, a double trigger)
    onset_floor: float = 0.05  # flux below this is never an onset: the wobble of a noise floor or a fade
    silence_rms: float = 1e-4  # -80 dBFS: the 0..1 values of quieter audio are not amplified noise
    beat_net: bool = True  # run the beat network (at 16 kHz, the rate it learned at; else beat_activation is all zeros)

    def n_fft(self, sr: int) -> int:
        return 2 ** round(math.log2(self.window_s * sr))

    def hop(self, sr: int) -> int:
        return max(1, round(self.hop_s * sr))


@dataclass
class FeatureFrames:
    """Analysis frames, one row each. Times are the frame's newest sample: causal, no look-ahead."""

    end_sample: np.ndarray  # int64 (n,): index one past the frame's newest sample
    rms: np.ndarray  # float32 (n,): RMS of the frame's newest hop, full scale = 1
    peak: np.ndarray  # float32 (n,): max |x| over the same hop
    bands_db: np.ndarray  # float32 (n, B): mean power per band in dB (full-scale sine ~ -3 dB)
    bands: np.ndarray  # float32 (n, B): band amplitude over its running maximum, 0..1
    level: np.ndarray  # float32 (n,): RMS over its running maximum, 0..1
    flux: np.ndarray  # float32 (n,): spectral flux, >= 0 (onset detection function)
    beat_flux: np.ndarray  # float32 (n,): the same flux, each band's rise square-rooted (the beat tracker's input)
    onset: np.ndarray  # float32 (n,): flux over its running maximum, 0..1
    is_onset: np.ndarray  # bool (n,): peak-picked onsets
    beat_onset: np.ndarray  # float32 (n,): beat_flux over its running maximum, 0..1
    beat_activation: np.ndarray  # float32 (n,): the beat network's output, 0..1
    chroma: np.ndarray  # float32 (n, 12): amplitude per pitch class, C first (CHROMA_HZ)
    low_onset: np.ndarray  # float32 (n,): flux of the bands below LOW_ONSET_HZ, >= 0
    sr: int

    def __len__(self) -> int:
        return len(self.end_sample)

    @property
    def time_s(self) -> np.ndarray:
        return self.end_sample / self.sr

    @staticmethod
    def concatenate(parts: list[FeatureFrames]) -> FeatureFrames:
        if not parts:
            raise ValueError("nothing to concatenate")
        fields = (
            "end_sample",
            "rms",
            "peak",
            "bands_db",
            "bands",
            "level",
            "flux",
            "beat_flux",
            "onset",
            "is_onset",
            "beat_onset",
            "beat_activation",
            "chroma",
            "low_onset",
        )
        return FeatureFrames(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields}, sr=parts[0].sr)


class Features:
    """Streaming feature extractor. State: the last n_fft - hop samples, a partial hop, the last
    spectrum, the running maxima, a short flux history and the beat network's. Push blocks of any
    size. `beat_net`: anything with BeatNet's push(log_bands, rise) -> activation (default: BeatNet() when
    config.beat_net)."""

    def __init__(self, sr: int, config: FeatureConfig = FeatureConfig(), beat_net=None):
        if sr < 4000:
            raise ValueError(f"sr={sr}: features need at least 4 kHz audio")
        self.sr, self.config = sr, config
        self.n_fft, self.hop = config.n_fft(sr), config.hop(sr)
        if self.hop > self.n_fft:
            raise ValueError(f"hop {self.hop} is longer than the FFT ({self.n_fft}): lower hop_s or raise window_s")
        self.frame_rate = sr / self.hop  # analysis frames per second
        window = np.hanning(self.n_fft + 2)[1:-1]  # periodic-ish Hann without zero ends
        self.window = (window * (2.0 / window.sum())).astype(np.float32)  # scaled: |rfft| is a sine's amplitude
        freqs = np.fft.rfftfreq(self.n_fft, 1 / sr)
        bins, n_bands = len(freqs), len(config.band_edges_hz) - 1
        # two small products per batch: band power from the power spectrum; flux bands and chroma
        # from the amplitude. Dense for a few frames; sparse (scipy's: no BLAS thread pool) for many
        amplitude_bands = np.zeros((bins, config.flux_bands + 12), dtype=np.float32)  # (bins, F + 12)
        flux_top_hz = min(11_000.0, sr / 2)
        amplitude_bands[:, : config.flux_bands] = _log_band_matrix(freqs, config.flux_fmin_hz, flux_top_hz, config.flux_bands)
        amplitude_bands[:, config.flux_bands :] = _chroma_matrix(freqs, *CHROMA_HZ)
        centres = np.geomspace(config.flux_fmin_hz, flux_top_hz, config.flux_bands + 2)[1:-1]
        self.low_bands = max(1, int(np.sum(centres < LOW_ONSET_HZ)))  # the first this-many flux bands make the low onset
        self.power_bands = _band_matrix(freqs, config.band_edges_hz)  # (bins, B)
        self.amplitude_bands = amplitude_bands
        self.sparse_power_bands = scipy.sparse.csr_array(self.power_bands.T)  # (B, bins)
        self.sparse_amplitude_bands = scipy.sparse.csr_array(amplitude_bands.T)  # (F + 12, bins)
        self.n_bands = n_bands
        if beat_net is None and config.beat_net:
            from live.analysis.beat_net import BeatNet
            from live.core.defaults import SAMPLE_RATE

            beat_net = BeatNet() if sr == SAMPLE_RATE else None  # its bands mean something else at other rates
        self.beat_net = beat_net
        # running maxima of [rms, band power..., flux, beat_flux] in one array, and the floors their 0..1 values divide by
        self.max_floor = np.array([config.silence_rms] + [config.silence_rms**2] * n_bands + [1e-3, 1e-3], dtype=np.float32)
        self.decay = math.exp(-config.hop_s / config.agc_release_s)  # per frame
        self.grow = (self.decay ** -np.arange(MAX_CHUNK_FRAMES, dtype=np.float64))[:, None]  # (MAX_CHUNK_FRAMES, 1): for _decaying_max
        self.mean_frames = max(1, round(config.onset_mean_s * self.frame_rate))
        self.min_gap = max(1, round(config.onset_min_gap_s * self.frame_rate))

        self._context = np.zeros(self.n_fft - self.hop, dtype=np.float32)  # samples before the current hop
        self._partial = np.zeros(0, dtype=np.float32)  # samples of a hop not yet complete
        self._prev_log_bands = None  # (F,) log-compressed flux bands of the previous frame
        self._flux_history = np.zeros(self.mean_frames, dtype=np.float32)  # the last flux values
        self._max = self.max_floor.astype(np.float64)  # running maxima of [rms, band power..., flux, beat_flux]
        self._frames_done = 0  # analysis frames emitted so far
        self._last_onset = -(10**9)  # frame index of the last onset
        self._was_above = False  # the last frame's flux was above its threshold (onsets fire on the rise)

    def push(self, block: np.ndarray) -> FeatureFrames:
        """Feed samples (n,) or (n, C) (channels are averaged); returns the frames completed."""
        x = np.asarray(block, dtype=np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
        elif x.ndim != 1:
            raise ValueError(f"block must be (n,) or (n, channels), got {x.shape}")
        x = np.concatenate([self._context, self._partial, x])
        n_new = (len(x) - len(self._context)) // self.hop  # complete hops = frames to emit
        parts = []
        done = 0
        while done < n_new or not parts:
            n = min(MAX_CHUNK_FRAMES, n_new - done)
            parts.append(self._analyse(x[done * self.hop : done * self.hop + len(self._context) + n * self.hop], n))
            done += n
        keep_from = n_new * self.hop
        self._context = x[keep_from : keep_from + len(self._context)].copy()
        self._partial = x[keep_from + len(self._context) :].copy()
        return parts[0] if len(parts) == 1 else FeatureFrames.concatenate(parts)

    def _analyse(self, x: np.ndarray, n: int) -> FeatureFrames:
        """x holds the context then n hops; frame j is x[j * hop : j * hop + n_fft]. Every step is one
        numpy call over the whole batch: the per-call cost, not the arithmetic, is what live blocks pay."""
        cfg, hop, n_fft, nb = self.config, self.hop, self.n_fft, self.n_bands
        if n == 0:
            return self._empty()
        frames = np.ndarray((n, n_fft), np.float32, buffer=x, strides=(hop * 4, 4))  # (n, n_fft): overlapping rows, a view
        newest = x[n_fft - hop : n_fft - hop + n * hop].reshape(n, hop)  # (n, hop): each frame's new samples
        # spectrum (n, bins) float32, sine amplitude; band power (n, B); amplitude (n, F + 12): flux
        # bands, then chroma. scipy's FFT runs rows side by side in SIMD (4x numpy's over a second of
        # frames) and its sparse product skips the zeros, but both cost more per call: numpy's for
        # the few frames of a live block
        if n >= MANY_FRAMES:
            spectrum = np.abs(scipy.fft.rfft(frames * self.window, axis=1))
            band_power = (self.sparse_power_bands @ (spectrum * spectrum).T).T
            amplitude = (self.sparse_amplitude_bands @ spectrum.T).T
        else:
            spectrum = np.abs(np.fft.rfft(frames * self.window, axis=1))
            band_power = (spectrum * spectrum) @ self.power_bands
            amplitude = spectrum @ self.amplitude_bands
        log_bands = np.log1p(cfg.compression * amplitude[:, : cfg.flux_bands])  # (n, F)
        prev = log_bands[:1] if self._prev_log_bands is None else self._prev_log_bands[None]
        self._prev_log_bands = log_bands[-1]

        values = np.empty((n, nb + 3), dtype=np.float32)  # (n, 1 + B + 2): rms, band power, flux, beat_flux
        values[:, 0] = np.sqrt(np.einsum("ij,ij->i", newest, newest) / hop)
        values[:, 1 : nb + 1] = band_power
        rise = log_bands - np.concatenate([prev, log_bands[:-1]])  # (n, F)
        rise = np.maximum(rise, 0, out=rise)
        activation = self.beat_net.push(log_bands, rise) if self.beat_net is not None else np.zeros(n, np.float32)
        low_onset = rise[:, : self.low_bands].sum(axis=1) * (1.0 / self.low_bands)
        values[:, nb + 1] = rise.sum(axis=1) * (1.0 / rise.shape[1])  # flux: the mean rise
        values[:, nb + 2] = np.sqrt(rise, out=rise).sum(axis=1) * (1.0 / rise.shape[1])  # beat_flux: the mean square-rooted rise
        maxima = _decaying_max(values, self._max, self.grow[:n], self.decay)  # running maxima, floored so silence stays at 0
        self._max = maxima[-1]
        scaled = np.divide(values, np.maximum(maxima, self.max_floor), dtype=np.float32)  # level, band power / its maximum, onset
        flux = values[:, nb + 1]
        is_onset = self._pick_onsets(flux, maxima[:, nb + 1])

        first = self._frames_done
        self._frames_done += n
        return FeatureFrames(
            end_sample=np.arange(first + 1, first + n + 1, dtype=np.int64) * hop,
            rms=values[:, 0],
            peak=np.maximum(newest.max(axis=1), -newest.min(axis=1)),
            bands_db=10 * np.log10(values[:, 1 : nb + 1] + 1e-12),
            bands=np.sqrt(scaled[:, 1 : nb + 1]),
            level=scaled[:, 0],
            flux=flux,
            beat_flux=values[:, nb + 2],
            onset=scaled[:, nb + 1],
            is_onset=is_onset,
            beat_onset=scaled[:, nb + 2],
            beat_activation=activation,
            chroma=np.ascontiguousarray(amplitude[:, cfg.flux_bands :]),
            low_onset=low_onset,
            sr=self.sr,
        )

    def _empty(self) -> FeatureFrames:
        b = len(self.config.band_edges_hz) - 1
        z = np.zeros(0, np.float32)
        return FeatureFrames(
            np.zeros(0, np.int64),
            z,
            z,
            np.zeros((0, b), np.float32),
            np.zeros((0, b), np.float32),
            z,
            z,
            z,
            z,
            np.zeros(0, bool),
            z,
            z,
            np.zeros((0, 12), np.float32),
            z,
            self.sr,
        )

    def _pick_onsets(self, flux: np.ndarray, max_flux: np.ndarray) -> np.ndarray:
        """Onset where the flux rises above mean(last onset_mean_s) * ratio + delta * max: causal,
        no wait for the peak. Candidates are found vectorised; the minimum gap is a short loop."""
        cfg, w, n = self.config, self.mean_frames, len(flux)
        history = np.concatenate([self._flux_history, flux])  # (w + n,)
        cumulative = np.cumsum(history, dtype=np.float64)
        past_mean = (cumulative[w - 1 : w - 1 + n] - np.concatenate([[0.0], cumulative[: n - 1]])) / w  # (n,): the w frames before each
        above = (flux > past_mean * cfg.onset_ratio + cfg.onset_delta * max_flux) & (flux > cfg.onset_floor)
        rises = above.copy()
        rises[1:] &= ~above[:-1]
        rises[0] &= not self._was_above
        is_onset = np.zeros(n, dtype=bool)
        for j in np.flatnonzero(rises):
            if self._frames_done + j - self._last_onset >= self.min_gap:
                is_onset[j] = True
                self._last_onset = self._frames_done + j
        self._was_above = bool(above[-1])
        self._flux_history = history[-w:]
        return is_onset


def _decaying_max(x: np.ndarray, start: np.ndarray, grow: np.ndarray, decay: float) -> np.ndarray:
    """(n, K) -> m[i] = max(x[i], m[i-1] * decay), m[-1] = start (K,); grow[i] = decay**-i (n, 1).
    Vectorised: m[i] = decay**i * cummax(x[j] / decay**j), in float64 (grow reaches e**(n * hop_s / release_s))."""
    scaled = np.maximum.accumulate(np.maximum(x * grow, start * decay), axis=0)
    return scaled / grow


def _band_matrix(freqs: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """(bins, B): column b averages the power of the bins in [edges[b], edges[b+1])."""
    m = np.zeros((len(freqs), len(edges) - 1), dtype=np.float32)
    for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        inside = (freqs >= lo) & (freqs < hi)
        if inside.any():
            m[inside, b] = 1.0 / inside.sum()
    return m


def _chroma_matrix(freqs: np.ndarray, fmin: float, fmax: float) -> np.ndarray:
    """(bins, 12): each bin in [fmin, fmax] split between the pitch classes (C = 0) near its pitch,
    linearly between the two nearest (two nonzeros a bin keep the sparse product cheap)."""
    m = np.zeros((len(freqs), 12), dtype=np.float32)
    inside = (freqs >= fmin) & (freqs <= fmax)
    pitch = 12 * np.log2(freqs[inside] / 440.0) + 69  # MIDI note numbers, fractional
    distance = (pitch[:, None] - np.arange(12)[None, :] + 6) % 12 - 6  # (bins, 12): semitones to each class, -6..6
    m[inside] = np.maximum(1.0 - np.abs(distance), 0.0)
    return m


def _log_band_matrix(freqs: np.ndarray, fmin: float, fmax: float, n_bands: int) -> np.ndarray:
    """(bins, F): triangular bands, equally spaced in log frequency, each summing to 1."""
    centres = np.geomspace(fmin, fmax, n_bands + 2)
    m = np.zeros((len(freqs), n_bands), dtype=np.float32)
    for b in range(n_bands):
        lo, mid, hi = centres[b : b + 3]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        tri = np.clip(np.minimum(rise, fall), 0, None)
        if tri.sum() == 0:  # a band narrower than a bin: take the nearest bin
            tri[np.argmin(np.abs(freqs - mid))] = 1.0
        m[:, b] = tri / tri.sum()
    return m
