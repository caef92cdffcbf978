"""The tiny text space: its width and its offline tokenizer, shared by the tiny diffusion model
(diffusion.py), the tiny encoders (encoder.py) and the random-weight text encoder (random_weights.py).

    TINY_WIDTH          D of the tiny text space; the tiny encoders produce this width
    tiny_tokenizer()    a CLIP tokenizer built offline (byte-level, one token per character)
    tiny_text_encoder() the seeded 2-layer CLIP text encoder of that space, and its tokenizer

It sits below those three so that none of them needs another for these (no import circle).
"""

from __future__ import annotations

import torch

TINY_WIDTH = 32  # D of the tiny text space; the tiny encoders produce this width


def tiny_tokenizer():
    """A CLIP tokenizer built offline: byte-level vocabulary, no merges (one token per character)."""
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def tiny_text_encoder():
    """The tiny text space: a seeded 2-layer CLIP text encoder (width TINY_WIDTH) and its tokenizer."""
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=TINY_WIDTH,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(tokenizer),
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            max_position_embeddings=77,
        )
    )
    return text_encoder, tokenizer
