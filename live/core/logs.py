"""One log format for every entry point: `phosphene: message` on stderr, libraries kept quiet."""

import logging
import os
import sys


def setup_logging(quiet: bool) -> None:
    """Cheap: imports nothing heavy, so torch-free commands stay torch-free. `quiet` keeps warnings
    (a fallback, a setting with no effect): they change what the output is."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="phosphene: %(message)s", stream=sys.stderr)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # their load-time chatter is not for VJs
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    for name in ("transformers", "diffusers", "huggingface_hub", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)
