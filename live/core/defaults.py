"""Constants every stage agrees on, kept free of heavy imports so --help answers at once."""

from pathlib import Path

SAMPLE_RATE = 16_000  # Hz: the encoder's rate (w2v-bert-2.0 and its feature extractor); analysis and render decode to it too

TINY = "tiny"  # seeded random weights, built offline: for tests and smoke runs only
RANDOM = "random"  # the full-size architectures (live/models/configs) with random weights: for timing, offline
TINY_SD15 = "tiny-sd15"  # --models / --diffusion: a tiny SD 1.5-shaped UNet + a seeded LCM-LoRA, written as a folder and read back
RANDOM_SD15 = "random-sd15"  # --diffusion: SD 1.5's full-size UNet + LCMScheduler, random weights (--models random --condition image picks it)
RANDOM_OWN = "random-own"  # --encoder: the same, in our own encoder format (w2v-bert-2.0 + token head)
RANDOM_CLIP_IMAGE = "random-clip-image"  # --encoder: the same backbone, one 1024-wide output: a ViT-H/14 image embedding (--condition image)
DEFAULT_ENCODER = "youzarsif/wav2vec2bert_2_diffusion"  # audio2img: w2v-bert-2.0 into SD 2.1's text space
DEFAULT_DIFFUSION = "stabilityai/sd-turbo"  # distilled SD 2.1: 1-4 steps, guidance 0, 512 px
DEFAULT_VAE = "madebyollin/taesd"  # AutoencoderTiny: ~2.4 M parameters instead of the 84 M VAE
FULL_VAE = "full"  # --vae full: the diffusion model's own AutoencoderKL

ROOT = Path(__file__).resolve().parents[2]  # the checkout: live/core/defaults.py -> ../../
DEMO_CLIP = ROOT / "demo" / "phosphene-demo.mp3"  # 12 s of music shipped with the repository: benches and the README's demo
