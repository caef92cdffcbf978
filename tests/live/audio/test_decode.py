"""live/audio/decode.py on real files: every format, exact lengths, channel mixing, resampling quality,
sample-accurate starts, one-line errors for bad input, and memory that does not grow with the file."""

import subprocess
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from live.audio.decode import AudioError, _exact_blocks, open_segment, stream
from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError

HOUSE_SR = 11_025
HOUSE_SAMPLES = 78_331  # house_lo's decoded length (its WAV header and Ogg granules say the same)
HOUSE_S = HOUSE_SAMPLES / HOUSE_SR  # 7.105 s
REPO = Path(__file__).resolve().parents[3]


def collect(segment, **kwargs) -> np.ndarray:
    return np.concatenate(list(stream(segment, **kwargs)))


def tone_amplitude(x: np.ndarray, freq: float, sr: int) -> float:
    """Amplitude of a sine at `freq` in x (1-D), by projection (x must hold whole periods)."""
    t = np.arange(len(x)) / sr
    return float(2 * abs(np.mean(x * np.exp(-2j * np.pi * freq * t))))


def best_lag(x: np.ndarray, ref: np.ndarray, max_lag: int) -> tuple[int, float]:
    """The shift of x against ref (samples) with the highest normalised correlation, and that correlation."""
    n = min(len(x), len(ref)) - 2 * max_lag
    a = ref[max_lag : max_lag + n]
    scores = []
    for lag in range(-max_lag, max_lag + 1):
        b = x[max_lag + lag : max_lag + lag + n]
        scores.append(float(a @ b / np.sqrt((a @ a) * (b @ b))))
    i = int(np.argmax(scores))
    return i - max_lag, scores[i]


# --- every format, the same music ---------------------------------------------------------------

CODECS = {"wav": "pcm_s16le", "flac": "flac", "mp3": "mp3", "ogg": "vorbis", "opus": "opus", "m4a": "aac", "mp4": "aac"}


@pytest.mark.parametrize("fmt", CODECS)
def test_every_format_decodes_to_the_same_music_at_the_same_time(music_formats, fmt):
    segment = open_segment(music_formats[fmt])
    assert segment.codec == CODECS[fmt]
    assert segment.channels == 1 and segment.source_sr == (48_000 if fmt == "opus" else HOUSE_SR)
    if fmt in ("wav", "flac", "mp3", "ogg"):  # lossless, Vorbis, and mp3 with LAME's gapless header: exact
        assert segment.duration_s == HOUSE_S
    else:  # AAC keeps its last frame's padding (< 1024 samples); Opus was resampled to 48 kHz
        assert HOUSE_S - 0.001 < segment.duration_s < HOUSE_S + 1024 / HOUSE_SR

    x = collect(segment)[:, 0]
    ref = collect(open_segment(music_formats["wav"]))[:, 0]
    assert len(x) == segment.samples(SAMPLE_RATE)
    lag, correlation = best_lag(x, ref, max_lag=40)
    assert lag == 0, f"{fmt} is shifted by {lag} samples at 16 kHz"  # encoder delay removed everywhere
    assert correlation > 0.95  # lossy codecs at low rates: 0.98 for this mp3


def test_duration_is_measured_by_decoding_not_read_from_the_header(other_music):
    # secosmic_lo.wav is MS ADPCM: its header says 36490 samples, its blocks decode to 36000.
    segment = open_segment(other_music)
    assert segment.codec == "adpcm_ms"
    assert segment.duration_s == 36_000 / HOUSE_SR
    assert segment.samples(SAMPLE_RATE) == len(collect(segment)) == 52_245


# --- exact lengths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start_s, duration_s, sr, expected",
    [
        (0.0, None, 16_000, 113_678),  # 78331 * 16000 / 11025 = 113677.9
        (1.0, 2.0, 16_000, 32_000),
        (0.3333, 1.2345, 44_100, 54_440),  # 1.2345 s -> 13610 source samples -> x4
        (6.5, 5.0, 22_050, 13_338),  # clipped at the end: 78331 - 71662 = 6669 source samples -> x2
        (7.0, None, 8_000, 839),  # 1156 source samples -> 838.8
        (2.0, 1.0, 11_025, 11_025),  # no resampling
    ],
)
def test_stream_yields_exactly_the_segments_samples(house_music, start_s, duration_s, sr, expected):
    segment = open_segment(house_music, start_s, duration_s)
    blocks = list(stream(segment, sr=sr, block_s=0.25))
    assert segment.samples(sr) == expected
    assert sum(len(b) for b in blocks) == expected
    assert all(len(b) == round(0.25 * sr) for b in blocks[:-1]) and 0 < len(blocks[-1]) <= round(0.25 * sr)
    assert all(b.dtype == np.float32 and b.shape[1] == 1 and b.flags.c_contiguous for b in blocks)


def test_total_is_exact_where_soxr_rounds_differently(audio_writer, tmp_path):
    # 22561 samples at 44.1 kHz are 11280.5 at 22.05 kHz: soxr yields 11281, round() says 11280.
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (44_100, 1)).astype(np.float32)
    segment = open_segment(audio_writer(tmp_path / "noise.wav", x, 44_100), 0.0, 22_561 / 44_100)
    assert segment.samples(22_050) == 11_280
    assert sum(len(b) for b in stream(segment, sr=22_050, block_s=0.1)) == 11_280


def test_short_resampler_output_is_padded_with_zeros():
    # soxr has not come out short in any case tried, so the padding is checked on its own.
    arrays = iter([np.ones((700, 2), np.float32), np.ones((250, 2), np.float32)])
    blocks = list(_exact_blocks(arrays, total=1000, block_samples=400, channels=2))
    assert [len(b) for b in blocks] == [400, 400, 200]
    assert np.concatenate(blocks)[:950].all() and not np.concatenate(blocks)[950:].any()


def test_stream_at_the_files_own_rate_is_the_files_samples(house_music):
    # pygame's house_lo.wav is unsigned 8-bit: read it with the standard library as the oracle.
    wav = house_music.with_suffix(".wav")
    with wave.open(str(wav)) as w:
        assert (w.getsampwidth(), w.getframerate()) == (1, HOUSE_SR)
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.uint8)
    expected = (raw.astype(np.float32) - 128) / 128
    got = collect(open_segment(wav, 1.0, 2.0), sr=HOUSE_SR)[:, 0]
    np.testing.assert_array_equal(got, expected[HOUSE_SR : 3 * HOUSE_SR])


def test_duration_past_the_end_is_clipped_to_the_end(house_music):
    segment = open_segment(house_music, start_s=5.0, duration_s=100.0)
    assert segment.duration_s == (HOUSE_SAMPLES - 5 * HOUSE_SR) / HOUSE_SR


def test_start_is_accurate_to_the_sample(audio_writer, tmp_path):
    x = np.zeros((3 * 44_100, 1), np.float32)
    x[66_150] = 0.9  # a click at 1.5 s
    wav = audio_writer(tmp_path / "click.wav", x, 44_100, "pcm_s16le")
    assert np.argmax(collect(open_segment(wav, 1.0), sr=44_100)) == 22_050
    assert np.argmax(collect(open_segment(wav, 1.234), sr=44_100)) == 66_150 - 54_419  # round(1.234 * 44100)
    assert np.argmax(collect(open_segment(wav, 1.0), sr=16_000)) == 8_000  # soxr's delay is compensated
    assert np.argmax(collect(open_segment(wav, 0.7), sr=48_000)) == 38_400  # 0.8 s at 48 kHz


@pytest.mark.parametrize("codec, ext", [("flac", "flac"), ("libmp3lame", "mp3"), ("aac", "m4a"), ("libopus", "opus")])
def test_start_is_accurate_in_compressed_formats(audio_writer, tmp_path, codec, ext):
    sr = 48_000  # every one of these encoders takes it
    x = np.zeros((3 * sr, 1), np.float32)
    x[72_000] = 0.9  # a click at 1.5 s
    path = audio_writer(tmp_path / f"click.{ext}", x, sr, codec)
    y = collect(open_segment(path, 1.0), sr=sr)[:, 0]
    assert abs(int(np.argmax(np.abs(y))) - 24_000) <= 1  # lossy codecs smear the click, not move it


# --- channels -------------------------------------------------------------------------------------


def test_eight_channels_at_96k_mix_to_the_mean(bad_audio):
    segment = open_segment(bad_audio["eight_ch_96k"])
    assert (segment.channels, segment.source_sr, segment.duration_s) == (8, 96_000, 2.0)
    y = collect(segment)[:, 0]  # (32000,) at 16 kHz
    t = np.arange(len(y)) / SAMPLE_RATE
    expected = np.mean([0.1 * np.sin(2 * np.pi * 250 * (c + 1) * t) for c in range(8)], axis=0)
    inner = slice(200, -200)  # the resampler's edges see the file's start and end as a step
    assert np.max(np.abs(y[inner] - expected[inner])) < 1e-4
    for c in range(8):
        assert tone_amplitude(y, 250 * (c + 1), SAMPLE_RATE) == pytest.approx(0.1 / 8, rel=1e-3)


def test_seven_one_downmixes_to_stereo_by_side(bad_audio):
    # 7.1 is FL FR FC LFE BL BR SL SR; channel c holds 250 * (c + 1) Hz at amplitude 0.1.
    y = collect(open_segment(bad_audio["eight_ch_96k"]), channels=2)  # (32000, 2)
    left_sum = 1 + np.sqrt(0.5) + 1 + 1  # FL + FC at -3 dB + BL + SL: each side is a weighted mean
    expected_left = {250: 0.1, 500: 0, 750: 0.1 * np.sqrt(0.5), 1000: 0, 1250: 0.1, 1500: 0, 1750: 0.1, 2000: 0}
    for freq, amplitude in expected_left.items():
        assert tone_amplitude(y[:, 0], freq, SAMPLE_RATE) == pytest.approx(amplitude / left_sum, abs=1e-4)
        mirrored = {250: 500, 500: 250, 1250: 1500, 1500: 1250, 1750: 2000, 2000: 1750}.get(freq, freq)
        assert tone_amplitude(y[:, 1], mirrored, SAMPLE_RATE) == pytest.approx(amplitude / left_sum, abs=1e-4)


def test_mono_to_stereo_duplicates(house_music):
    segment = open_segment(house_music, 1.0, 2.0)
    stereo, mono = collect(segment, channels=2), collect(segment)
    assert stereo.shape == (32_000, 2)
    np.testing.assert_array_equal(stereo[:, 0], stereo[:, 1])
    np.testing.assert_allclose(stereo[:, 0], mono[:, 0], atol=1e-6)


def test_digital_silence_stays_silent(bad_audio):
    segment = open_segment(bad_audio["silence"])
    for channels in (1, 2):
        y = collect(segment, channels=channels)
        assert y.shape == (3 * SAMPLE_RATE, channels) and not y.any()


# --- resampling quality ---------------------------------------------------------------------------


def _tone_at_96k(audio_writer, tmp_path, freq: int) -> tuple[np.ndarray, float]:
    sr = 96_000
    x = (0.5 * np.sin(2 * np.pi * freq * np.arange(2 * sr) / sr)).astype(np.float32)[:, None]
    y = collect(open_segment(audio_writer(tmp_path / f"tone_{freq}.wav", x, sr)))[:, 0]
    assert len(y) == 2 * SAMPLE_RATE
    return y[400:-400], 0.5  # away from the step at the file's edges


@pytest.mark.parametrize("freq", [1_000, 7_000])
def test_resampling_keeps_tones_below_nyquist(audio_writer, tmp_path, freq):
    y, amplitude = _tone_at_96k(audio_writer, tmp_path, freq)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(y)
    assert abs(peak_hz - freq) < 1.0
    t = (np.arange(len(y)) + 400) / SAMPLE_RATE
    fit = np.linalg.lstsq(np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], 1), y, rcond=None)[0]
    assert np.hypot(*fit) == pytest.approx(amplitude, rel=0.01)  # passband flat within 0.1 dB
    residual = y - np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], 1) @ fit
    assert np.sqrt(np.mean(residual**2)) < 1e-5 * amplitude  # everything else (aliases, noise) below -100 dB


@pytest.mark.parametrize("freq", [9_000, 12_000, 30_000])
def test_resampling_removes_tones_above_nyquist(audio_writer, tmp_path, freq):
    # Naive decimation would fold 12 kHz to 4 kHz and 30 kHz to 2 kHz at full level.
    y, amplitude = _tone_at_96k(audio_writer, tmp_path, freq)
    assert np.sqrt(np.mean(y**2)) < 1e-5 * amplitude / np.sqrt(2)  # below -100 dB


# --- bad input --------------------------------------------------------------------------------------

BAD = {
    "missing": "does not exist",
    "directory": "is a directory",
    "empty": "is empty (0 bytes)",
    "text_wav": "is not a media file ffmpeg can read",
    "truncated_mp3": "is truncated: its audio ends at 3.5 s but the file says 7.1 s",
    "damaged_mp3": "is damaged at 3.",
    "no_audio_stream": "has no audio stream (it holds video)",
    "image": "has no audio stream",
    "zero_length": "contains no audio (0 samples)",
    "nan_samples": "NaN or infinite sample at 1.250 s",
    "inf_samples": "NaN or infinite sample at 0.750 s",
}


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_gives_one_line_naming_file_and_problem(bad_audio, kind):
    path = bad_audio[kind]
    with pytest.raises(AudioError) as caught:
        open_segment(path)
    message = str(caught.value)
    assert isinstance(caught.value, PhospheneError)
    assert path.name in message and BAD[kind] in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "start_s, duration_s, says",
    [
        (-1.0, None, "--start -1.0 s"),
        (float("nan"), None, "--start nan s"),
        (0.0, 0.0, "--duration 0.0 s"),
        (0.0, -2.0, "--duration -2.0 s"),
        (0.0, float("inf"), "--duration inf s"),
    ],
)
def test_bad_segment_is_refused(house_music, start_s, duration_s, says):
    with pytest.raises(AudioError, match="house_lo.ogg") as caught:
        open_segment(house_music, start_s, duration_s)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_start_past_the_end_says_how_long_the_file_is(house_music):
    with pytest.raises(AudioError) as caught:
        open_segment(house_music, start_s=30.0)
    assert str(caught.value) == (f"--start 30.0 s is past the end of {house_music} (7.1 s): choose a start below 7.1 s")


def test_bad_samples_outside_the_segment_do_not_matter(bad_audio):
    nan = bad_audio["nan_samples"]  # NaN at 1.25 s of 2 s
    assert open_segment(nan, 0.0, 1.0).duration_s == 1.0
    assert open_segment(nan, 1.3).duration_s == pytest.approx(0.7)
    with pytest.raises(AudioError, match="at 1.250 s"):
        open_segment(nan, 1.0, 0.5)


def test_a_truncated_mp3_still_plays_before_the_cut(bad_audio):
    # A segment inside the decodable half is fine: the file is only judged where it is read.
    assert open_segment(bad_audio["truncated_mp3"], 1.0, 2.0).duration_s == 2.0


def test_an_mp3_without_a_length_header_is_not_called_truncated(house_music, tmp_path):
    # VBR without a Xing header: ffmpeg guesses the length from the first frame's bitrate, and 3 s of
    # silence encode at 8 kb/s, so it guesses 16.7 s for 10.1 s of audio. No length is stated: no verdict.
    path = tmp_path / "vbr_no_header.mp3"
    music = np.concatenate([np.zeros((3 * HOUSE_SR, 1), np.float32), collect(open_segment(house_music), sr=HOUSE_SR)])
    with av.open(str(path), "w", options={"write_xing": "0"}) as container:
        audio = container.add_stream("libmp3lame", rate=HOUSE_SR, layout="mono")
        audio.codec_context.flags |= av.codec.context.Flags.qscale  # VBR, LAME -V2
        audio.codec_context.global_quality = 2 * 118  # FF_QP2LAMBDA
        frame = av.AudioFrame.from_ndarray(music.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate, frame.pts = HOUSE_SR, 0
        for packet in [*audio.encode(frame), *audio.encode(None)]:
            container.mux(packet)
    with av.open(str(path)) as container:
        guessed_s = float(container.streams.audio[0].duration * container.streams.audio[0].time_base)
    segment = open_segment(path)
    assert guessed_s > segment.duration_s + 5  # what a naive check would have called 6 s missing
    assert 10.1 < segment.duration_s < 10.3  # (no header, so the encoder's delay and padding stay in)


# --- memory and imports ---------------------------------------------------------------------------

# The child's own peak: VmHWM is the high-water mark of the address space exec gave it. Its
# ru_maxrss would not do: Linux carries the RSS the child had between fork and exec (a copy of this
# pytest process, fixtures and all) into it, which swamps what decoding uses.
PEAK_RSS = """
import sys
from live.audio.decode import open_segment, stream
segment = open_segment(sys.argv[1])
n = sum(len(block) for block in stream(segment))
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(n, peak_kib)
"""


def _peak_rss_kib(path: Path) -> tuple[int, int]:
    """Samples streamed and the peak RSS (KiB) of a fresh Python that opens and streams `path`."""
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path)], cwd=REPO, capture_output=True, text=True, check=True)
    samples, peak_kib = out.stdout.split()
    return int(samples), int(peak_kib)


def _long_flac(audio_writer, path: Path, minutes: int) -> Path:
    """48 kHz stereo 16-bit FLAC of a tone in noise, written a block at a time."""
    sr, block = 48_000, 48_000 * 10
    rng = np.random.default_rng(0)
    tone = 0.25 * np.sin(2 * np.pi * 440 * np.arange(block) / sr)
    blocks = (np.stack([tone, tone], 1) + 0.002 * rng.standard_normal((block, 2)) for _ in range(minutes * 6))
    return audio_writer(path, (b.astype(np.float32) for b in blocks), sr, "flac")


def test_memory_does_not_grow_with_the_files_length(audio_writer, tmp_path):
    short = _long_flac(audio_writer, tmp_path / "one_minute.flac", minutes=1)
    long = _long_flac(audio_writer, tmp_path / "twenty_minutes.flac", minutes=20)
    short_samples, short_rss = _peak_rss_kib(short)
    long_samples, long_rss = _peak_rss_kib(long)
    assert (short_samples, long_samples) == (60 * SAMPLE_RATE, 20 * 60 * SAMPLE_RATE)
    decoded_kib = 20 * 60 * 48_000 * 2 * 4 // 1024  # the 20 minutes as float32 stereo: 450 MiB
    assert long_rss < 1.2 * short_rss, f"peak RSS {short_rss} KiB for 1 min, {long_rss} KiB for 20 min"
    assert long_rss - short_rss < 0.05 * decoded_kib


def test_audio_module_does_not_import_torch():
    code = "import sys, live.audio.decode; assert 'torch' not in sys.modules, 'live.audio.decode imported torch'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
