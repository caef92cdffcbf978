"""Naming and finding models, and choosing where they run, without importing torch at module level
(the CLI's --help and the shader engine read from here).

Every model is named the same way: a Hugging Face hub id (looked up in the local cache first, then
downloaded if the hub can be reached), a local folder in the same layout, or `tiny`, which builds a
seeded set with random weights, offline, for tests and smoke runs. Its pictures mean nothing, and
the log says so. `random` builds the full-size architectures from live/models/configs with random
weights, offline, for timing (`random-own`: the encoder in our own format).

    Models(diffusion, vae, encoder, encoder_backend, encoder_threads, lora, ip_adapter)   # what a command asked for
    resolve_folder(name, what)                                          # a local folder, or one clear error
    pick_device("auto")                                                 # (torch.device, dtype)
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from live.core.defaults import DEFAULT_DIFFUSION, DEFAULT_ENCODER, DEFAULT_VAE, RANDOM, RANDOM_CLIP_IMAGE, RANDOM_OWN, RANDOM_SD15, TINY, TINY_SD15
from live.core.errors import ModelNotFound, PhospheneError

log = logging.getLogger("phosphene")

ENCODER_BACKENDS = ("torch", "onnx", "tensorrt", "auto")
EXPORT_FILE = "export.json"  # what makes a folder an ONNX export (`python -m export onnx`; runtimes.py reads it)


@dataclass(frozen=True)
class Models:
    diffusion: str = DEFAULT_DIFFUSION  # hub id, folder or tiny
    vae: str = DEFAULT_VAE  # hub id, folder, `full` (the diffusion model's own) or tiny
    encoder: str = DEFAULT_ENCODER  # hub id, folder (a checkpoint or an ONNX export) or tiny
    encoder_backend: str | None = None  # one of ENCODER_BACKENDS; None: an export folder's runtime, else torch; auto = the fastest
    encoder_threads: int | None = None  # ONNX Runtime CPU threads; None = physical cores, at most 4
    lora: str | None = None  # a few-step LoRA file for an SD 1.5 diffusion model; None: the folder's lora/*.safetensors if any
    ip_adapter: str | None = None  # an IP-Adapter .safetensors for --condition image|both; None: the folder's ip_adapter/*.safetensors

    @classmethod
    def all_tiny(cls) -> Models:
        return cls(TINY, TINY, TINY)

    @classmethod
    def all_random(cls) -> Models:
        """The full-size architectures with random weights (live/models/configs): for timing, offline."""
        return cls(RANDOM, RANDOM, RANDOM)


def pick_device(name: str):
    """`auto` takes CUDA when present. fp16 weights on CUDA, fp32 on the CPU (fp16 convs are slow there)."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PhospheneError(f"--compute {name}: no CUDA GPU is visible to torch here; use --compute cpu")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise PhospheneError(f"--compute {name}: choose auto, cpu or cuda[:N]")
    return torch.device(name), (torch.float16 if name.startswith("cuda") else torch.float32)


TINY_NOTICE = "{what} 'tiny': seeded random weights built offline for tests and smoke runs; its pictures mean nothing"
RANDOM_NOTICE = "{what} '{name}': the full-size architecture with random weights (for timing); its pictures mean nothing"


def missing_models(models: Models) -> list[str]:
    """The models that cannot be had here: not `tiny`/`full`, not a local path, not in the Hugging
    Face cache, while the hub cannot be reached. Checked for all of them at once, before any loads,
    so one line can name every missing model."""
    named = [("encoder", models.encoder), ("diffusion", models.diffusion), ("vae", models.vae)]
    candidates = [
        (what, name)
        for what, name in named
        if name not in (TINY, TINY_SD15, RANDOM, RANDOM_SD15, RANDOM_OWN, RANDOM_CLIP_IMAGE, "full") and not looks_like_path(name) and not Path(name).exists()
    ]
    if not candidates or hub_reachable():
        return []
    from huggingface_hub import snapshot_download

    missing = []
    for what, name in candidates:
        try:
            snapshot_download(name, local_files_only=True)
        except Exception:  # LocalEntryNotFoundError, or an id that is not one (ValueError): either way not here
            missing.append(f"{what} {name}")
    return missing


def not_found_message(missing: list[str]) -> str:
    """One short line naming every missing model and how to get them."""
    return f"no weights here for {', '.join(missing)} (not cached, hub unreachable; `hf download ID` on a connected machine)"


@functools.cache
def hub_reachable(host: str = "huggingface.co", timeout_s: float = 3.0) -> bool:
    """A quick look before a download, so an offline machine fails in seconds, not after retries."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def looks_like_path(name: str) -> bool:
    """A folder or file someone meant (./x, /x, ~/x, a/b/c, x.onnx), not a hub id (owner/name)."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or Path(name).suffix != ""


def resolve_folder(name: str, what: str, allow_patterns: list[str] | None = None) -> Path:
    """A local folder holding model `name` (a folder path or a hub id), or a PhospheneError saying
    what was tried and how to get the model."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise PhospheneError(f"{what} '{name}' is a file, not a model folder; give the folder that holds the model, a hub id, or 'tiny'")
    if looks_like_path(name):
        raise PhospheneError(f"{what} '{name}': no such folder; give a model folder, a hub id, or 'tiny'")

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, allow_patterns=allow_patterns, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, ValueError):
        pass
    from huggingface_hub.constants import HF_HUB_CACHE

    if not hub_reachable():
        raise ModelNotFound(
            f"{what} '{name}' is not a local folder, not in the Hugging Face cache ({HF_HUB_CACHE}), "
            f"and the hub cannot be reached: on a connected machine run `hf download {name}` and copy "
            f"the cache (or the folder, then pass its path)",
            tiny="--models tiny",  # the live CLI's; run_main gives each command its own
        )
    log.info("downloading %s '%s' from the Hugging Face hub", what, name)
    try:
        return Path(snapshot_download(name, allow_patterns=allow_patterns))
    except (HfHubHTTPError, OSError) as e:
        raise ModelNotFound(f"{what} '{name}': download failed ({str(e).splitlines()[0]})") from None


def folder_kind(folder: Path) -> str | None:
    """What a folder is when it is one of Phosphene's other folders or holds nothing, in words
    ("an ONNX export (export.json)"), for the errors of loaders given the wrong one; None otherwise."""
    folder = Path(folder)
    if not folder.is_dir() or (folder / "config.json").is_file():  # a model folder of some kind: its loader says more
        return None
    if (folder / EXPORT_FILE).is_file():
        return f"an ONNX export ({EXPORT_FILE}, written by `python -m export onnx`)"
    if any(folder.glob("*.engine")) or any(folder.glob("*.plan")):
        return "a folder of TensorRT engines (written by `python -m export trt`)"
    if (folder / "model_index.json").is_file() or (folder / "unet" / "config.json").is_file():
        return "a diffusers model folder (a diffusion model: give it to --diffusion)"
    if not any(folder.iterdir()):
        return "an empty folder"
    return None


def require_files(folder: Path, what: str, groups: dict[str, list[str]]) -> None:
    """Each group is satisfied by any one of its glob patterns; name every missing group at once."""
    missing = [label for label, patterns in groups.items() if not any(any(folder.glob(p)) for p in patterns)]
    if missing:
        raise PhospheneError(f"{what} folder '{folder}' is missing {', '.join(missing)}: copy the whole model folder")


def load_errors() -> tuple[type[BaseException], ...]:
    from safetensors import SafetensorError

    # what a corrupt, truncated or mismatched checkpoint raises from from_pretrained
    return (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError)


def first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def quiet_model_loading(*, diffusers: bool = False) -> None:
    """Called by the model loaders and savers (which import transformers anyway): no per-tensor or
    per-shard progress bars from transformers ("Loading weights", "Writing model shards"), nor from
    diffusers where the caller uses it (importing diffusers takes seconds: only then). Hub downloads
    keep theirs."""
    import transformers.utils.logging as tlog

    tlog.disable_progress_bar()
    if diffusers:
        import diffusers.utils.logging as dlog

        dlog.disable_progress_bar()
