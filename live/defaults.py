"""Model names the CLI shows in --help, kept free of heavy imports so --help answers at once."""

TINY = "tiny"  # seeded random weights, built offline: for tests and smoke runs only
DEFAULT_ENCODER = "youzarsif/wav2vec2bert_2_diffusion"  # audio2img: w2v-bert-2.0 into SD 2.1's text space
DEFAULT_DIFFUSION = "stabilityai/sd-turbo"  # distilled SD 2.1: 1-4 steps, guidance 0, 512 px
DEFAULT_VAE = "madebyollin/taesd"  # AutoencoderTiny: ~2.4 M parameters instead of the 84 M VAE
FULL_VAE = "full"  # --vae full: the diffusion model's own AutoencoderKL
