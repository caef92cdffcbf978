"""TANGO's relative-pressure mix checked numerically on real recorded music, and the simpler augmentations."""

import dataclasses

import numpy as np
import pytest
import torch

from live.audio.decode import open_segment, stream
from training.augment import (
    AugmentConfig,
    Augmenter,
    a_weighting_db,
    add_noise,
    gain,
    join_captions,
    mix_weight,
    peak_power_db,
    tango_mix,
    time_shift,
)

SR = 16_000


@pytest.fixture(scope="module")
def house(house_music) -> np.ndarray:
    """3 s of real house music at 16 kHz, mono."""
    return np.concatenate(list(stream(open_segment(house_music, 1.0, 3.0), sr=SR)))[:, 0]


@pytest.fixture(scope="module")
def cosmic(other_music) -> np.ndarray:
    """3 s of different real music (pygame's secosmic_lo) at 16 kHz, mono."""
    return np.concatenate(list(stream(open_segment(other_music, 0.0, 3.0), sr=SR)))[:, 0]


def sine(freq_hz: float, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq_hz * np.arange(round(seconds * SR)) / SR)).astype(np.float32)


def test_a_weighting_matches_the_iec_table():
    # IEC 61672-1 table values, in dB, rounded to 0.1 dB as the standard prints them
    table = {50: -30.2, 100: -19.1, 500: -3.2, 1000: 0.0, 2000: 1.2, 4000: 1.0, 8000: -1.1, 10000: -2.5}
    np.testing.assert_allclose(a_weighting_db(np.array(list(table))), list(table.values()), atol=0.08)


def test_loudness_is_a_weighted():
    # equal amplitude, but 50 Hz is 30.2 dB quieter to the A-weighting than 1 kHz
    assert peak_power_db(sine(1000), SR) - peak_power_db(sine(50), SR) == pytest.approx(30.2, abs=0.5)
    assert mix_weight(sine(50), sine(1000), SR) == pytest.approx(
        1 / (1 + 10 ** (-30.2 / 20)), abs=0.005
    )  # ~0.97: the quiet one weighs more


def test_equally_loud_clips_get_half_each(house, cosmic):
    assert mix_weight(house, -house, SR) == pytest.approx(0.5, abs=1e-12)
    g_house, g_cosmic = peak_power_db(house, SR), peak_power_db(cosmic, SR)
    assert abs(g_house - g_cosmic) > 0.5  # the two recordings really differ in loudness...
    level_matched = cosmic * 10 ** ((g_house - g_cosmic) / 20)
    assert mix_weight(house, level_matched, SR) == pytest.approx(0.5, abs=1e-6)  # ...until matched (float32 rounding)


def test_a_clip_20_db_louder_gets_p_one_eleventh(house, cosmic):
    house = house.astype(np.float64)  # so that 10 * house is exactly 20 dB up, without float32 rounding
    assert peak_power_db(10 * house, SR) - peak_power_db(house, SR) == pytest.approx(20.0, abs=1e-9)
    assert mix_weight(10 * house, house, SR) == pytest.approx(1 / 11, abs=1e-12)
    level = 10 ** ((peak_power_db(cosmic, SR) - peak_power_db(house, SR)) / 20)
    assert mix_weight(10 * level * house, cosmic, SR) == pytest.approx(1 / 11, abs=1e-9)
    assert mix_weight(cosmic, 10 * level * house, SR) == pytest.approx(10 / 11, abs=1e-9)


def test_tango_mix_follows_the_formula_and_balances_the_two_sources(house, cosmic):
    cosmic = 0.25 * cosmic  # 12 dB down: the two recordings are otherwise within 1 dB of each other
    mix, caption, p = tango_mix(house, cosmic, "House music plays", "Synth pads swell", SR)
    g1, g2 = peak_power_db(house, SR), peak_power_db(cosmic, SR)
    assert p == pytest.approx(1 / (1 + 10 ** ((g1 - g2) / 20)), abs=1e-12)
    assert p < 0.25  # the louder house music gets the smaller weight
    expected = (p * house + (1 - p) * cosmic) / np.sqrt(p**2 + (1 - p) ** 2)
    np.testing.assert_allclose(mix, expected, atol=1e-6)
    assert mix.dtype == np.float32 and mix.shape == house.shape
    # the point of the weights: both sources reach the mix at the same A-weighted peak level
    assert peak_power_db(p * house, SR) == pytest.approx(peak_power_db((1 - p) * cosmic, SR), abs=1e-5)
    assert caption == "House music plays and synth pads swell"
    with pytest.raises(ValueError, match="equally long"):
        tango_mix(house, cosmic[:-1], "a", "b", SR)


def test_caption_concatenation():
    assert join_captions("Dog barking", "Rain falls") == "Dog barking and rain falls"
    assert join_captions("A crowd cheers.", "DJ scratches a record") == "A crowd cheers and DJ scratches a record"


def test_noise_is_added_at_exactly_the_asked_snr_and_only_on_real_audio(house):
    x = np.concatenate([house, np.zeros(8_000, np.float32)])
    mask = np.arange(len(x)) < len(house)
    noisy = add_noise(x, 12.0, np.random.default_rng(0), mask)
    noise = noisy - x
    snr = 10 * np.log10(np.mean(house.astype(np.float64) ** 2) / np.mean(noise[mask].astype(np.float64) ** 2))
    assert snr == pytest.approx(12.0, abs=1e-3)
    assert np.all(noise[~mask] == 0)
    assert np.array_equal(add_noise(np.zeros(100, np.float32), 10, np.random.default_rng(0)), np.zeros(100))


def test_gain_and_time_shift(house):
    rms = lambda v: np.sqrt(np.mean(v.astype(np.float64) ** 2))  # noqa: E731
    assert rms(gain(house, 6.0)) / rms(house) == pytest.approx(10 ** (6 / 20), rel=1e-6)
    mask = np.arange(len(house)) < 100
    shifted, shifted_mask = time_shift(house, mask, 40)
    assert shifted[40] == house[0] and shifted_mask[139] and not shifted_mask[140] and not shifted_mask[0]


def batch(house, cosmic):
    waveforms = torch.from_numpy(np.stack([house, cosmic, house[::-1].copy(), cosmic[::-1].copy()]))  # (4, S)
    masks = torch.ones_like(waveforms, dtype=torch.bool)
    masks[1, -1000:] = False
    return waveforms, masks, ["House", "Cosmic", "Reversed house", "Reversed cosmic"]


def test_augmenter_switches_and_seeding(house, cosmic):
    waveforms, masks, captions = batch(house, cosmic)
    off = AugmentConfig(mix=False, gain=False, noise=False, shift=False)
    x, m, c = Augmenter(off)(waveforms, masks, captions)
    assert torch.equal(x, waveforms) and torch.equal(m, masks) and c == captions

    a = Augmenter(AugmentConfig(), seed=3)(waveforms, masks, captions)
    b = Augmenter(AugmentConfig(), seed=3)(waveforms, masks, captions)
    assert torch.equal(a[0], b[0]) and a[2] == b[2]
    assert not torch.equal(a[0], Augmenter(AugmentConfig(), seed=4)(waveforms, masks, captions)[0])

    only_mix = dataclasses.replace(off, mix=True, mix_prob=1.0)
    x, m, c = Augmenter(only_mix, seed=0)(waveforms, masks, captions)
    assert all(" and " in caption for caption in c)
    assert bool(m.all())  # a mix is real audio wherever either of its sources is
    for i, caption in enumerate(c):
        j = [k for k, other in enumerate(captions) if caption.endswith(" and " + other[0].lower() + other[1:])][0]
        expected, _, _ = tango_mix(waveforms[i].numpy(), waveforms[j].numpy(), captions[i], captions[j], SR)
        np.testing.assert_allclose(x[i].numpy(), expected, atol=1e-6)

    with pytest.raises(dataclasses.FrozenInstanceError):
        off.mix = True


def test_label_prompts_caption_whole_batches_with_the_zero_shot_prompt(house, cosmic):
    waveforms, masks, captions = batch(house, cosmic)
    labels = ["house", None] + ["house"] * (len(captions) - 2)
    off = AugmentConfig(mix=False, gain=False, noise=False, shift=False)
    always = dataclasses.replace(off, label_prompts=1.0)
    _, _, c = Augmenter(always)(waveforms, masks, captions, labels)
    assert c[0] == "This is a sound of house" and c[1] == captions[1]  # an unlabelled clip keeps its caption
    assert len(set(c) - {captions[1]}) == 1  # one class, one caption: never its own negative
    drawn = [Augmenter(dataclasses.replace(off, label_prompts=0.5), seed=s)(waveforms, masks, captions, labels)[2][0] for s in range(40)]
    assert 10 < sum(d.startswith("This is a sound of") for d in drawn) < 30  # about half the batches
    assert Augmenter(off)(waveforms, masks, captions, labels)[2] == captions  # 0: the captions as they are
