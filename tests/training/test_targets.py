"""Targets from the frozen (tiny, seeded) text encoder, cached on disk: the second run computes none."""

import torch

from live.models.conditioning import encode_text
from live.models.diffusion import tiny_diffusion
from training.targets import TargetCache

CAPTIONS = ["Dog barking", "Rain falls on a tin roof", "Dog barking", "A piano plays a slow chord"]


def cache(parts, folder, encoder_id="tiny"):
    return TargetCache(parts.text_encoder, parts.tokenizer, encoder_id=encoder_id, folder=folder)


def test_targets_are_the_text_encoders_hidden_states(tmp_path):
    parts = tiny_diffusion()
    targets = cache(parts, tmp_path).get(CAPTIONS)
    assert targets.shape == (4, 77, 32)
    assert torch.allclose(targets[1], encode_text(parts, CAPTIONS[1]), atol=1e-6)
    assert torch.equal(targets[0], targets[2])  # the same caption, the same target


def test_a_second_run_computes_none(tmp_path):
    parts = tiny_diffusion()
    first = cache(parts, tmp_path)
    a = first.get(CAPTIONS)
    assert first.computed == 3  # three distinct captions, each once
    second = cache(parts, tmp_path)
    b = second.get(CAPTIONS)
    assert second.computed == 0 and second.loaded == 3
    assert torch.equal(a, b)
    # another text encoder id is another text space: nothing shared
    other = cache(parts, tmp_path, encoder_id="stabilityai/sd-turbo")
    other.get(CAPTIONS[:1])
    assert other.computed == 1 and "stabilityai--sd-turbo-L77" in str(other.path(CAPTIONS[0]))


def test_a_damaged_cache_file_is_computed_again(tmp_path):
    parts = tiny_diffusion()
    first = cache(parts, tmp_path)
    good = first.get(CAPTIONS[:1])
    first.path(CAPTIONS[0]).write_bytes(b"torn")
    again = cache(parts, tmp_path)
    assert torch.equal(again.get(CAPTIONS[:1]), good) and again.computed == 1
    assert not list(tmp_path.rglob("*.tmp"))  # no half-written files left behind


def test_text_encoder_loads_from_a_diffusion_model_folder(tmp_path):
    """load_text_encoder's real path: text_encoder/ and tokenizer/ of a diffusers-layout folder,
    written with save_pretrained, give the same targets as the model they were written from."""
    from live.models.diffusion import load_text_encoder
    from live.models.tiny_text import tiny_text_encoder

    text_encoder, tokenizer = tiny_text_encoder()
    text_encoder.save_pretrained(tmp_path / "model" / "text_encoder")
    tokenizer.save_pretrained(tmp_path / "model" / "tokenizer")
    loaded, loaded_tokenizer = load_text_encoder(str(tmp_path / "model"))
    a = TargetCache(text_encoder, tokenizer, encoder_id="a", folder=tmp_path / "a").get(CAPTIONS)
    b = TargetCache(loaded, loaded_tokenizer, encoder_id="b", folder=tmp_path / "b").get(CAPTIONS)
    assert torch.equal(a, b)
