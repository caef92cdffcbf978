"""The trained encoder's parts on tiny models: masks carried to the backbone's rate, freezing,
gradient checkpointing, every backbone through the same option, and the training inputs."""

import pytest
import torch

from live.models.fbank import fbank_for
from training.model import build_encoder, frame_multiple, freeze, model_inputs

BACKBONES = ["w2v-bert-2.0", "wav2vec2", "hubert", "wavlm"]


def tiny(backbone):
    model, fe = build_encoder(backbone, tokens=8, width=32, weights="tiny", head_layers=1, head_heads=2)
    return model, fe, fbank_for(fe) if backbone == "w2v-bert-2.0" else None


def music(seconds: float, house_music) -> torch.Tensor:
    import numpy as np

    from live.audio.decode import open_segment, stream

    x = np.concatenate(list(stream(open_segment(house_music), sr=16_000)))[:, 0]
    return torch.from_numpy(x[: round(seconds * 16_000)].copy())


def padded_and_alone(backbone, house_music, n: int):
    """Tokens of an n-sample clip padded to 1 s in a batch, alone, and padded but read without its mask."""
    model, fe, fbank = tiny(backbone)
    model.eval()
    multiple = frame_multiple(model)
    x = music(1.0, house_music)
    waveforms = torch.stack([x, torch.cat([x[:n], torch.zeros(16_000 - n)])])
    masks = torch.ones(2, 16_000, dtype=torch.bool)
    masks[1, n:] = False
    batched = model(**model_inputs(fe, waveforms, masks, fbank=fbank, frame_multiple=multiple)).last_hidden_state[1:]
    alone = model(**model_inputs(fe, x[None, :n], torch.ones(1, n, dtype=torch.bool), fbank=fbank)).last_hidden_state
    unmasked = model(**model_inputs(fe, waveforms[1:], torch.ones(1, 16_000, dtype=torch.bool), fbank=fbank)).last_hidden_state
    return batched, alone, unmasked


def test_padding_does_not_change_a_clips_tokens(house_music):
    """w2v-bert: a 0.5 s clip padded to 1 s in a batch gives exactly the tokens it gives alone; the
    padding is masked in the features, the conformer, the adapter and the head's cross-attention."""
    batched, alone, unmasked = padded_and_alone("w2v-bert-2.0", house_music, 8_000)
    assert batched.shape == (1, 8, 32)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)
    assert (unmasked - alone).abs().max() > 0.1  # the mask is what does it


def test_padded_examples_are_cut_to_whole_adapter_frames(house_music):
    model, fe, fbank = tiny("w2v-bert-2.0")
    x = music(1.0, house_music)
    masks = torch.ones(2, 16_000, dtype=torch.bool)
    masks[1, 9_600:] = False  # 58 fbank frames, 29 stacked: an odd count the adapter would read past
    lengths = model_inputs(fe, torch.stack([x, x]), masks, fbank=fbank, frame_multiple=frame_multiple(model))["attention_mask"].sum(-1)
    assert frame_multiple(model) == 4 and lengths.tolist() == [49, 28]  # the full clip keeps all its frames


@pytest.mark.parametrize("backbone", ["wav2vec2", "hubert", "wavlm"])
def test_padding_is_masked_for_raw_waveform_backbones(backbone, house_music):
    """Their base configs group-normalise the conv features over time, padding included (transformers
    documents it: such checkpoints are meant to be fed zero-padded input without a mask), so
    padding still leaks a little; the mask removes most of its effect."""
    batched, alone, unmasked = padded_and_alone(backbone, house_music, 8_000)
    assert (batched - alone).abs().max() < 0.3 * (unmasked - alone).abs().max()


@pytest.mark.parametrize("backbone", BACKBONES)
def test_frozen_parts_do_not_move(backbone, house_music):
    model, fe, fbank = tiny(backbone)
    total = sum(p.numel() for p in model.parameters())
    trainable = freeze(model, feature_projection=True, layers=1)
    assert 0 < trainable < total
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    assert any(".layers.0." in n for n in frozen) and not any(".layers.1." in n for n in frozen)
    assert any("feature_projection" in n for n in frozen)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = music(1.0, house_music)[None]
    model(**model_inputs(fe, x, torch.ones_like(x, dtype=torch.bool), fbank=fbank)).last_hidden_state.square().mean().backward()
    optimizer.step()
    assert all(torch.equal(frozen[n], p) for n, p in model.named_parameters() if n in frozen)


def test_freezing_more_layers_than_exist_is_an_error():
    from live.core.errors import PhospheneError

    model, _, _ = tiny("w2v-bert-2.0")
    with pytest.raises(PhospheneError, match="has 2 layers"):
        freeze(model, layers=3)


def test_gradient_checkpointing_gives_the_same_gradients(house_music):
    x = music(1.0, house_music)[None]
    grads = []
    for checkpointing in (False, True):
        model, fe, fbank = tiny("w2v-bert-2.0")
        model.train()
        if checkpointing:
            model.activation_checkpointing_enable()
            assert model.backbone.encoder.gradient_checkpointing
        model(**model_inputs(fe, x, torch.ones_like(x, dtype=torch.bool), fbank=fbank)).last_hidden_state.square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1])


def test_a_backbone_of_another_kind_is_refused(tmp_path):
    from transformers import BertConfig

    from live.core.errors import PhospheneError

    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(tmp_path)
    with pytest.raises(PhospheneError, match="is a bert model"):
        build_encoder(str(tmp_path), weights="random")


@pytest.mark.parametrize("backbone", ["w2v-bert-2.0", "wav2vec2"])
def test_pretrained_backbone_weights_are_loaded_from_a_folder(backbone, tmp_path):
    """The real loading path (hub id or folder -> from_pretrained) on a folder written by save_pretrained.
    w2v-bert gets audio2img's adapter added on top of the checkpoint's config, its layers new."""
    from transformers import AutoModel, SeamlessM4TFeatureExtractor, Wav2Vec2FeatureExtractor

    source, _, _ = tiny(backbone)
    source.backbone.config.add_adapter = False  # a plain pretrained checkpoint has no adapter
    plain = AutoModel.from_config(source.backbone.config)
    plain.load_state_dict(source.backbone.state_dict(), strict=False)
    plain.save_pretrained(tmp_path)
    extractor = (
        SeamlessM4TFeatureExtractor(stride=2) if backbone == "w2v-bert-2.0" else Wav2Vec2FeatureExtractor(return_attention_mask=True)
    )
    extractor.save_pretrained(tmp_path)
    model, fe = build_encoder(str(tmp_path), tokens=8, width=32, weights="pretrained", head_layers=1, head_heads=2)
    loaded = model.backbone.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in plain.state_dict().items())
    assert any(k.startswith("adapter.") for k in loaded) == (backbone == "w2v-bert-2.0")
    assert type(fe) is type(extractor)
