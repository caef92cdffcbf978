"""Manifests, crops, padding masks and skipped files, on real recorded music (pygame's house_lo, secosmic_lo)."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from live.audio.decode import open_segment, stream
from live.core.errors import PhospheneError
from training.data import Clip, ClipDataset, Skipped, collate, read_audiocaps, read_clotho, read_manifest, read_musiccaps

SR = 16_000
HOUSE_SAMPLES_16K = 113_678  # house_lo (7.1 s) at 16 kHz
OTHER_SAMPLES_16K = 52_245  # secosmic_lo (3.27 s) at 16 kHz


def write_csv(path, rows, columns=("audio", "caption")):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def decoded(path) -> np.ndarray:
    return np.concatenate(list(stream(open_segment(path), sr=SR)))[:, 0]


# --- manifests ------------------------------------------------------------------------------------


def test_csv_manifest_resolves_relative_and_absolute_paths(tmp_path, house_music, other_music):
    (tmp_path / "audio").mkdir()
    shutil.copy(house_music, tmp_path / "audio" / "house.ogg")
    manifest = write_csv(
        tmp_path / "m.csv",
        [
            {"audio": "audio/house.ogg", "caption": "House music", "start": "1.5", "end": "3", "label": "house", "split": "train"},
            {"audio": str(other_music), "caption": "Cosmic synth", "start": "", "end": "", "label": "", "split": "val"},
        ],
        columns=("audio", "caption", "start", "end", "label", "split"),
    )
    clips = read_manifest(manifest)
    assert clips[0] == Clip(tmp_path / "audio" / "house.ogg", "House music", 1.5, 3.0, "house", "train")
    assert clips[1] == Clip(other_music, "Cosmic synth", 0.0, None, None, "val")
    assert [c.caption for c in read_manifest(manifest, split="val")] == ["Cosmic synth"]


def test_jsonl_manifest_reads_the_same_fields(tmp_path, house_music):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": str(house_music), "caption": "Beats", "start": 2, "label": "house"}) + "\n\n")
    assert read_manifest(manifest) == [Clip(house_music, "Beats", 2.0, None, "house", None)]


def test_missing_column_empty_manifest_and_captionless_row_are_one_line_errors(tmp_path, house_music):
    no_caption_column = write_csv(tmp_path / "a.csv", [{"audio": "x.wav"}], columns=("audio",))
    with pytest.raises(PhospheneError, match=r"no 'caption' column \(header has: audio\)"):
        read_manifest(no_caption_column)

    empty = write_csv(tmp_path / "b.csv", [])
    with pytest.raises(PhospheneError, match="has no rows"):
        read_manifest(empty)

    captionless = write_csv(tmp_path / "c.csv", [{"audio": "a.wav", "caption": "Fine"}, {"audio": "b.wav", "caption": "  "}])
    with pytest.raises(PhospheneError, match="row 2 has no caption") as error:
        read_manifest(captionless)
    assert "\n" not in str(error.value)

    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"audio": "a.wav", "caption": "x"}\n{"audio": "b.wav"}\n')
    with pytest.raises(PhospheneError, match="no 'caption' column \\(row 2"):
        read_manifest(jsonl)

    bad_time = write_csv(tmp_path / "e.csv", [{"audio": "a.wav", "caption": "x", "start": "soon"}], columns=("audio", "caption", "start"))
    with pytest.raises(PhospheneError, match="row 1: start 'soon' is not a time"):
        read_manifest(bad_time)


# --- windows --------------------------------------------------------------------------------------


def test_a_row_starting_past_the_end_of_its_file_is_refused_by_row(tmp_path, music_formats, bad_audio):
    rows = [{"audio": str(music_formats["flac"]), "caption": "house", "start": 6.5, "end": 9.0}]  # 7.1 s: ends early, still audio
    rows += [{"audio": str(bad_audio["missing"]), "caption": "gone", "start": 99, "end": ""}]  # left to ClipDataset to skip
    rows += [{"audio": str(music_formats["mp3"]), "caption": "house", "start": 5.0, "end": ""}]
    columns = ("audio", "caption", "start", "end")
    assert len(read_manifest(write_csv(tmp_path / "ok.csv", rows, columns))) == 3
    for kind in ("wav", "flac", "ogg"):  # formats that state their length
        late = write_csv(tmp_path / f"late-{kind}.csv", [*rows, {**rows[0], "audio": str(music_formats[kind]), "start": 7.2}], columns)
        with pytest.raises(
            PhospheneError, match=rf"late-{kind}.csv row 4: start 7.2 s lies past the end of .*house.{kind} \(7.10 s long\)"
        ):
            read_manifest(late)


def test_a_folder_or_a_missing_manifest_says_which_and_where(tmp_path, monkeypatch):
    with pytest.raises(PhospheneError, match="is a folder: give a .csv or .jsonl file, or pass .* as --dataset"):
        read_manifest(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PhospheneError, match=rf"manifest clips.csv does not exist \(looked for {tmp_path}/clips.csv\)"):
        read_manifest("clips.csv")


def test_random_crop_is_seeded_exact_and_not_only_the_start(house_music):
    full = decoded(house_music)  # (113678,)
    assert len(full) == HOUSE_SAMPLES_16K
    offsets = []
    for seed in range(4):
        dataset = ClipDataset([Clip(house_music, "House")], window_s=2.0, seed=seed, active_crop=False)  # uniform crops
        example = dataset[0]
        assert example.waveform.dtype == torch.float32 and example.waveform.shape == (32_000,)
        assert bool(example.mask.all())
        offset = int(np.random.default_rng([seed, 0, 0]).integers(0, HOUSE_SAMPLES_16K - 32_000 + 1))
        np.testing.assert_allclose(example.waveform.numpy(), full[offset : offset + 32_000], atol=1e-6)
        again = ClipDataset([Clip(house_music, "House")], window_s=2.0, seed=seed, active_crop=False)[0]
        assert torch.equal(example.waveform, again.waveform)
        offsets.append(offset)
    assert len(set(offsets)) == 4 and max(offsets) > 32_000  # crops come from all over the clip

    dataset = ClipDataset([Clip(house_music, "House")], window_s=2.0, seed=0)
    first = dataset[0].waveform
    dataset.set_epoch(1)
    assert not torch.equal(first, dataset[0].waveform)
    start_only = ClipDataset([Clip(house_music, "House")], window_s=2.0, random_crop=False, active_crop=False)[0]
    np.testing.assert_allclose(start_only.waveform.numpy(), full[:32_000], atol=1e-6)


def test_active_crops_land_on_the_notes_and_keep_the_mask_honest(tmp_path, house_music):
    """A 4 s clip: 1 s of silence, 0.5 s of music, 2.5 s of silence. Uniform 0.5 s crops are mostly
    silent; active crops hold the music, are still random and seeded, and no sample is masked."""
    from tests.conftest import write_audio

    music = decoded(house_music)[16_000:24_000]  # (8000,) 0.5 s
    clip = np.zeros(64_000, np.float32)
    clip[16_000:24_000] = music
    path = write_audio(tmp_path / "note.wav", clip[:, None], SR, "pcm_s16le")

    def loud(example) -> float:  # share of the window's samples that are the music
        return float(np.mean(np.abs(example.waveform.numpy()) > 1e-3))

    uniform = [ClipDataset([Clip(path, "A note")], window_s=0.5, seed=s, active_crop=False)[0] for s in range(40)]
    active = [ClipDataset([Clip(path, "A note")], window_s=0.5, seed=s)[0] for s in range(40)]
    assert np.mean([loud(e) < 0.05 for e in uniform]) > 0.6  # most uniform crops miss the note
    assert min(loud(e) for e in active) > 0.3  # every active crop holds at least half of the note's frames
    assert all(bool(e.mask.all()) for e in active)  # real audio, quiet parts included: nothing masked
    assert len({int(np.argmax(np.abs(e.waveform.numpy()) > 1e-3)) for e in active}) > 5  # still random
    assert torch.equal(active[3].waveform, ClipDataset([Clip(path, "A note")], window_s=0.5, seed=3)[0].waveform)
    best = ClipDataset([Clip(path, "A note")], window_s=0.5, random_crop=False)[0]  # eval's window: the most active
    np.testing.assert_allclose(best.waveform.numpy(), clip[16_000:24_000], atol=1e-3)
    first = ClipDataset([Clip(path, "A note")], window_s=0.5, random_crop=False, active_crop=False)[0]
    assert float(np.abs(first.waveform.numpy()).max()) == 0.0  # audio2img's first window: silence


def test_short_clip_is_padded_and_masked(other_music, house_music):
    example = ClipDataset([Clip(other_music, "Cosmic", label="synth")], window_s=4.0)[0]
    assert example.caption == "Cosmic" and example.label == "synth"
    assert int(example.mask.sum()) == OTHER_SAMPLES_16K
    assert bool(example.mask[:OTHER_SAMPLES_16K].all()) and not bool(example.mask[OTHER_SAMPLES_16K:].any())
    assert float(example.waveform[OTHER_SAMPLES_16K:].abs().max()) == 0.0
    assert float(example.waveform[:OTHER_SAMPLES_16K].square().mean().sqrt()) > 0.01  # real music there

    segment = ClipDataset([Clip(house_music, "House", start_s=1.0, end_s=3.0)], window_s=4.0)[0]  # 2 s of a 7.1 s file
    assert int(segment.mask.sum()) == 32_000
    edge = 64  # the resampler restarts at the segment's edges: only the first and last few samples differ
    np.testing.assert_allclose(
        segment.waveform[edge : 32_000 - edge].numpy(), decoded(house_music)[16_000 + edge : 48_000 - edge], atol=2e-3
    )


def test_unreadable_files_are_skipped_counted_and_listed(house_music, bad_audio):
    bad = ["missing", "empty", "text_wav", "truncated_mp3", "zero_length", "image"]
    clips = [Clip(house_music, "House")] + [Clip(bad_audio[k], k) for k in bad] + [Clip(bad_audio["silence"], "Silence")]
    dataset = ClipDataset(clips, window_s=1.0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, collate_fn=collate)
    batches = list(loader)  # 3 batches; the second holds only broken files and is empty

    assert sorted(c for b in batches for c in b.captions) == ["House", "Silence"]  # silence is valid audio
    assert sum(b.skipped for b in batches) == len(bad)
    assert set(dataset.skipped) == {bad_audio[k] for k in bad}
    assert "does not exist" in dataset.skipped[bad_audio["missing"]]
    # the batches carry the same list, so a training loop with decoding workers can report it
    assert {s.audio: s.reason for b in batches for s in b.skipped_files} == dataset.skipped
    assert all(b.waveforms.shape[1:] == (16_000,) and b.masks.dtype == torch.bool for b in batches if len(b))
    assert [len(b) for b in batches] == [1, 0, 1]
    assert collate([None, None]).waveforms.shape == (0, 0)


# --- dataset layouts ------------------------------------------------------------------------------


def test_audiocaps_reader_finds_each_known_file_layout(tmp_path, house_music, other_music):
    audio = tmp_path / "audiocaps"
    audio.mkdir()
    shutil.copy(house_music, audio / "Yaaa.ogg")  # AudioSet style: Y<youtube_id>
    shutil.copy(other_music, audio / "102.wav")  # <audiocap_id>
    columns = ("audiocap_id", "youtube_id", "start_time", "caption")
    manifest = write_csv(
        tmp_path / "train.csv",
        [
            {"audiocap_id": "101", "youtube_id": "aaa", "start_time": "30", "caption": "A dog barks"},
            {"audiocap_id": "102", "youtube_id": "bbb", "start_time": "0", "caption": "Rain falls"},
            {"audiocap_id": "103", "youtube_id": "ccc", "start_time": "10", "caption": "Wind blows"},
        ],
        columns=columns,
    )
    clips = read_audiocaps(manifest, audio)
    assert [c.audio.name for c in clips] == ["Yaaa.ogg", "102.wav", "103.wav"]  # the missing one keeps its first candidate
    assert clips[0].start_s == 0.0 and clips[0].end_s is None
    full = read_audiocaps(manifest, audio, full_length=True)
    assert (full[0].start_s, full[0].end_s) == (30.0, 40.0)
    dataset = ClipDataset(clips, window_s=1.0)
    assert [isinstance(dataset[i], Skipped) for i in range(3)] == [False, False, True]


def test_clotho_reader_gives_one_clip_per_caption(tmp_path):
    columns = ("file_name", *(f"caption_{k}" for k in range(1, 6)))
    rows = [
        {"file_name": "a.wav", **{f"caption_{k}": f"a caption {k}" for k in range(1, 6)}},
        {"file_name": "b b.wav", **{f"caption_{k}": f"b caption {k}" for k in range(1, 5)}, "caption_5": ""},
    ]
    clips = read_clotho(write_csv(tmp_path / "clotho.csv", rows, columns), tmp_path / "dev")
    assert len(clips) == 9
    assert clips[5] == Clip(tmp_path / "dev" / "b b.wav", "b caption 1")


def test_musiccaps_reader_reads_times_and_split(tmp_path, house_music):
    shutil.copy(house_music, tmp_path / "xyz_30-40.ogg")
    columns = ("ytid", "start_s", "end_s", "caption", "is_audioset_eval")
    rows = [{"ytid": "xyz", "start_s": "30", "end_s": "40", "caption": "Low-fi hip hop", "is_audioset_eval": "True"}]
    clips = read_musiccaps(write_csv(tmp_path / "musiccaps.csv", rows, columns), tmp_path)
    assert clips == [Clip(tmp_path / "xyz_30-40.ogg", "Low-fi hip hop", 0.0, None, None, "eval")]
    full = read_musiccaps(tmp_path / "musiccaps.csv", tmp_path, full_length=True)
    assert (full[0].start_s, full[0].end_s) == (30.0, 40.0)
    with pytest.raises(PhospheneError, match="no ytid, start_s, end_s column"):
        read_musiccaps(write_csv(tmp_path / "wrong.csv", [{"audio": "a", "caption": "b"}]), tmp_path)
