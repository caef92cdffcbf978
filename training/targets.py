"""Training targets: the frozen text encoder's `last_hidden_state` (L x D) for each caption.

Thousands of clips share a few hundred captions and the text encoder never changes during a run,
so each target is computed once and kept on disk, keyed by the text encoder's id, L and the caption:
a second run (or a resumed one) computes none. One safetensors file per caption, written to a
temporary name and renamed, so a run killed mid-write never leaves a torn file behind; a file that
cannot be read is computed again.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


class TargetCache:
    def __init__(self, text_encoder, tokenizer, *, encoder_id: str, folder: Path, tokens: int = 77, batch_size: int = 64):
        self.text_encoder, self.tokenizer = text_encoder.eval(), tokenizer
        self.encoder_id, self.tokens, self.batch_size = encoder_id, tokens, batch_size
        safe_id = re.sub(r"[^A-Za-z0-9._-]+", "--", encoder_id)  # stabilityai/sd-turbo -> stabilityai--sd-turbo
        self.folder = Path(folder) / f"{safe_id}-L{tokens}"
        self.computed = 0  # targets this instance had to run the text encoder for
        self.loaded = 0  # targets read back from disk

    def path(self, caption: str) -> Path:
        key = hashlib.sha256(f"{self.encoder_id}\0{self.tokens}\0{caption}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key}.safetensors"

    def get(self, captions: list[str]) -> torch.Tensor:
        """(B, L, D) float32 targets for `captions`, from disk where cached."""
        found: dict[str, torch.Tensor] = {}
        for caption in dict.fromkeys(captions):  # each distinct caption once
            target = self._load(caption)
            if target is not None:
                found[caption] = target
        missing = [c for c in dict.fromkeys(captions) if c not in found]
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            for caption, target in zip(chunk, self._encode(chunk), strict=True):
                self._save(caption, target)
                found[caption] = target
        return torch.stack([found[c] for c in captions])

    @torch.inference_mode()
    def _encode(self, captions: list[str]) -> torch.Tensor:
        ids = self.tokenizer(captions, padding="max_length", max_length=self.tokens, truncation=True, return_tensors="pt").input_ids
        states = self.text_encoder(ids.to(self.text_encoder.device)).last_hidden_state  # (B, L, D)
        self.computed += len(captions)
        return states.float().cpu()

    def _load(self, caption: str) -> torch.Tensor | None:
        path = self.path(caption)
        if not path.exists():
            return None
        try:
            tensors = load_file(path)
        except (SafetensorError, OSError):
            return None  # torn or damaged: computed again and overwritten
        target = tensors.get("target")
        if target is None or target.shape[0] != self.tokens:
            return None
        self.loaded += 1
        return target

    def _save(self, caption: str, target: torch.Tensor) -> None:
        path = self.path(caption)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        save_file({"target": target.contiguous()}, tmp, metadata={"encoder_id": self.encoder_id, "caption": caption})
        os.replace(tmp, path)
