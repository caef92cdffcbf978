"""read_hf_dataset on real Hugging Face datasets (save_to_disk folders, audiofolders) holding pygame's recorded music."""

import json
import shutil

import numpy as np
import pytest
from datasets import Audio, ClassLabel, Dataset, DatasetDict, Features, Value

from live.core.errors import PhospheneError
from training.data import Clip, ClipDataset, read_hf_dataset

SR = 16_000


def music_dataset(rows: dict) -> Dataset:
    """rows {"audio": [path], "caption": [...], ...} with the audio column cast to Audio, as users build it."""
    return Dataset.from_dict({k: [str(v) if k == "audio" else v for v in vs] for k, vs in rows.items()}).cast_column("audio", Audio())


def loud(clip: Clip) -> float:
    """Peak of the clip's first 4 s as ClipDataset decodes it (0 when the file could not be used)."""
    example = ClipDataset([clip], window_s=4.0, random_crop=False)[0]
    return 0.0 if example is None else float(example.waveform.abs().max())


def test_save_to_disk_embeds_the_audio_and_the_clips_point_at_decodable_files(tmp_path, house_music, other_music):
    rows = {"audio": [house_music, other_music], "caption": ["House beat", "Cosmic synth"], "label": ["house", None]}
    music_dataset(rows).save_to_disk(tmp_path / "music")  # datasets stores the file bytes inside, with only the file name as path

    clips = read_hf_dataset(tmp_path / "music")
    assert [(c.caption, c.label, c.split, c.start_s, c.end_s) for c in clips] == [
        ("House beat", "house", None, 0.0, None),
        ("Cosmic synth", None, None, 0.0, None),
    ]
    cache = tmp_path / "music.audio"
    assert [c.audio.parent for c in clips] == [cache, cache]  # written beside the dataset, never inside it
    assert clips[0].audio.name.startswith("house_lo-") and clips[0].audio.suffix == ".ogg"
    assert clips[0].audio.read_bytes() == house_music.read_bytes()
    assert clips[1].audio.read_bytes() == other_music.read_bytes()
    assert loud(clips[0]) > 0.1 and loud(clips[1]) > 0.1

    before = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert read_hf_dataset(tmp_path / "music") == clips  # the second read finds the same files and writes nothing
    assert {p: p.stat().st_mtime_ns for p in cache.iterdir()} == before
    assert not list(cache.glob("*.partial"))


def test_dataset_dict_gives_split_names_and_split_keeps_one(tmp_path, house_music, other_music):
    features = Features({"audio": Value("string"), "caption": Value("string"), "label": ClassLabel(names=["ambient", "house"])})
    rows = {"train": ([house_music], ["House beat"], [1]), "test": ([other_music, house_music], ["Cosmic", "Beats"], [0, -1])}
    splits = DatasetDict(
        {
            name: Dataset.from_dict(
                {"audio": [str(a) for a in audio], "caption": captions, "label": labels}, features=features
            ).cast_column("audio", Audio())
            for name, (audio, captions, labels) in rows.items()
        }
    )
    splits.save_to_disk(tmp_path / "music")

    clips = read_hf_dataset(tmp_path / "music")
    assert [(c.split, c.caption, c.label) for c in clips] == [
        ("train", "House beat", "house"),
        ("test", "Cosmic", "ambient"),
        ("test", "Beats", None),
    ]
    assert clips[0].audio == clips[2].audio  # the same music in two rows is written once
    test = read_hf_dataset(tmp_path / "music", split="test")
    assert [(c.split, c.caption) for c in test] == [("test", "Cosmic"), ("test", "Beats")]
    assert loud(test[0]) > 0.1
    with pytest.raises(PhospheneError, match=r"has no split 'val' \(it has: train, test\)"):
        read_hf_dataset(tmp_path / "music", split="val")


def test_rows_whose_audio_file_exists_are_used_in_place(tmp_path, house_music):
    music = Dataset.from_dict({"audio": [str(house_music)], "caption": ["House beat"]})  # a plain path column, no bytes
    music.save_to_disk(tmp_path / "paths")
    assert read_hf_dataset(tmp_path / "paths") == [Clip(house_music, "House beat")]
    assert not (tmp_path / "paths.audio").exists()


def test_audiofolder_with_split_folders_and_both_metadata_formats(tmp_path, house_music, other_music):
    folder = tmp_path / "music"
    (folder / "train").mkdir(parents=True)
    (folder / "test").mkdir()
    shutil.copy(house_music, folder / "train" / "house.ogg")
    shutil.copy(other_music, folder / "test" / "cosmic.wav")
    (folder / "train" / "metadata.csv").write_text("file_name,caption,label\nhouse.ogg,House beat,house\n")
    (folder / "test" / "metadata.jsonl").write_text(
        json.dumps({"file_name": "cosmic.wav", "caption": ["Cosmic synth", "Space pad", ""]}) + "\n"
    )

    clips = read_hf_dataset(folder)
    assert clips == [
        Clip(folder / "train" / "house.ogg", "House beat", label="house", split="train"),
        Clip(folder / "test" / "cosmic.wav", "Cosmic synth", split="test"),  # a list of captions: one Clip each, empty ones dropped
        Clip(folder / "test" / "cosmic.wav", "Space pad", split="test"),
    ]
    assert [c.caption for c in read_hf_dataset(folder, split="train")] == ["House beat"]
    assert loud(clips[0]) > 0.1 and loud(clips[1]) > 0.1
    with pytest.raises(PhospheneError, match=r"no split 'val' \(it has: train, test\)"):
        read_hf_dataset(folder, split="val")


def test_flat_audiofolder_is_one_train_split(tmp_path, house_music):
    shutil.copy(house_music, tmp_path / "house.ogg")
    (tmp_path / "metadata.csv").write_text("file_name,caption\nhouse.ogg,House beat\n")
    assert read_hf_dataset(tmp_path) == [Clip(tmp_path / "house.ogg", "House beat", split="train")]


def test_parquet_folder_is_read_with_load_dataset(tmp_path, house_music):
    (tmp_path / "music").mkdir()
    music_dataset({"audio": [house_music], "caption": ["House beat"]}).to_parquet(tmp_path / "music" / "test.parquet")
    clips = read_hf_dataset(tmp_path / "music", cache_dir=tmp_path / "hf_cache")
    assert [(c.caption, c.split) for c in clips] == [("House beat", "test")]  # the file name gives the split, as on the Hub
    assert loud(clips[0]) > 0.1
    assert (tmp_path / "hf_cache").is_dir()  # load_dataset's Arrow copy went where it was told


def test_hf_input_mistakes_are_one_line_errors(tmp_path, house_music):
    Dataset.from_dict({"audio": [str(house_music)], "text": ["House"]}).save_to_disk(tmp_path / "no_caption_column")
    with pytest.raises(PhospheneError, match=r"has no 'caption' column \(it has: audio, text\)"):
        read_hf_dataset(tmp_path / "no_caption_column")
    assert read_hf_dataset(tmp_path / "no_caption_column", caption_column="text")[0].caption == "House"

    Dataset.from_dict({"audio": [str(house_music)] * 3, "caption": ["House", "  ", "Beats"]}).save_to_disk(tmp_path / "blank_caption")
    with pytest.raises(PhospheneError, match=r"row 1 has no caption: write one, or remove the row"):
        read_hf_dataset(tmp_path / "blank_caption")

    music_dataset({"audio": [house_music], "caption": ["House"]}).select([]).save_to_disk(tmp_path / "empty")
    with pytest.raises(PhospheneError, match=r"has no rows"):
        read_hf_dataset(tmp_path / "empty")

    with pytest.raises(PhospheneError, match=r"is not a folder"):
        read_hf_dataset(tmp_path / "nowhere")
    (tmp_path / "bare").mkdir()
    with pytest.raises(PhospheneError, match=r"has no data files"):
        read_hf_dataset(tmp_path / "bare")

    (tmp_path / "af").mkdir()
    shutil.copy(house_music, tmp_path / "af" / "house.ogg")
    (tmp_path / "af" / "metadata.csv").write_text("file_name,text\nhouse.ogg,House\n")
    with pytest.raises(PhospheneError, match=r"metadata.csv has no 'caption' column \(it has: file_name, text\)"):
        read_hf_dataset(tmp_path / "af")
    (tmp_path / "af" / "metadata.csv").unlink()
    with pytest.raises(PhospheneError, match=r"no metadata.csv or metadata.jsonl"):
        read_hf_dataset(tmp_path / "af")


def test_unreadable_audio_cache_folder_is_one_line_error(tmp_path, house_music):
    music_dataset({"audio": [house_music], "caption": ["House"]}).save_to_disk(tmp_path / "music")
    (tmp_path / "music.audio").write_text("a file where the cache folder should go")
    with pytest.raises(PhospheneError, match=r"cannot write the audio embedded in .* make that folder writable"):
        read_hf_dataset(tmp_path / "music")


def test_embedded_audio_decodes_to_the_same_samples_as_the_original(tmp_path, house_music):
    music_dataset({"audio": [house_music], "caption": ["House"]}).save_to_disk(tmp_path / "music")
    (clip,) = read_hf_dataset(tmp_path / "music")
    original = ClipDataset([Clip(house_music, "House")], window_s=4.0, random_crop=False)[0]
    embedded = ClipDataset([clip], window_s=4.0, random_crop=False)[0]
    assert embedded.mask.all() and len(embedded.waveform) == 4 * SR
    np.testing.assert_array_equal(embedded.waveform.numpy(), original.waveform.numpy())
