"""Offline render: a music file in, an MP4 with the audio muxed in out, on a virtual clock.

Frame k is at t = k / fps. Embedding j describes the audio around t = j * hop_s: its window is
centred there (the renderer may look ahead, so the pictures change when a sound happens rather than
window_s later). A frame between two embeddings gets their per-token slerp, then attack/release
smoothing driven by the level of the audio under that frame, then the optional text mix, then one
img2img step from the previous frame. Everything streams: memory does not grow with the file.

    decode (PyAV) -> 16 kHz mono blocks -> SampleBuffer -> windows -> encoder (batched)
                                                    \\-> frame level          |
    Conditioner (slerp, smoothing, text mix) <--------------------------------/
        -> Img2Img -> Mp4Writer (+ the original audio, AAC)
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from live.audio import SAMPLE_RATE, AudioSegment, open_segment, stream
from live.conditioning import ConditioningConfig
from live.defaults import DEFAULT_DIFFUSION, DEFAULT_ENCODER, DEFAULT_VAE, TINY
from live.errors import PhospheneError
from live.generator import GeneratorConfig
from live.timing import StageTimer
from live.video import AAC_RATES, AudioMuxer, Mp4Writer, RenderResult, check_output_path, make_bar
from live.windows import SampleBuffer

log = logging.getLogger("phosphene")


@dataclass(frozen=True)
class RenderConfig:
    fps: int = 24  # output frame rate; the generator runs once per frame
    window_s: float | None = None  # encoder window; None = the length the encoder was trained on (3.76 s)
    hop_s: float = 0.125  # one embedding per hop (8 Hz, as live); frames between hops are slerped
    encoder_batch: int = 8  # windows per encoder call: larger is faster on a GPU and costs memory
    shaders: bool = True  # feedback warp + structure before img2img, beat flash + grade after (EGL)
    half_beat: bool = False  # the beat clock moved by half a period (the tracker on the off-beat)
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)

    def validate(self) -> None:
        if not 1 <= self.fps <= 240:
            raise PhospheneError(f"--fps {self.fps}: must be between 1 and 240")
        if self.window_s is not None and not 0.1 <= self.window_s <= 30.0:
            raise PhospheneError(f"--window {self.window_s} s: must be between 0.1 and 30 s")
        if not 0.01 <= self.hop_s <= 10.0:
            raise PhospheneError(f"--hop {self.hop_s} s: must be between 0.01 and 10 s")
        if self.encoder_batch < 1:
            raise PhospheneError(f"--encoder-batch {self.encoder_batch}: must be at least 1")


@dataclass(frozen=True)
class Models:
    diffusion: str = DEFAULT_DIFFUSION  # hub id, folder or tiny
    vae: str = DEFAULT_VAE  # hub id, folder, `full` (the diffusion model's own) or tiny
    encoder: str = DEFAULT_ENCODER  # hub id, folder (a checkpoint or an ONNX export) or tiny
    encoder_backend: str = "torch"  # torch | onnx | tensorrt | auto (the fastest available)
    encoder_threads: int | None = None  # ONNX Runtime CPU threads; None = physical cores, at most 4

    @classmethod
    def all_tiny(cls) -> Models:
        return cls(TINY, TINY, TINY)


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


class Pipeline:
    """The loaded models and the per-render state, built and checked before any output exists."""

    def __init__(self, models: Models, config: RenderConfig, *, device: str = "auto", prompt: str | None = None):
        import torch

        from live.conditioning import Conditioner, encode_text
        from live.encoder import check_width, load_encoder
        from live.generator import Img2Img
        from live.models import load_diffusion

        config.validate()
        self.config = config
        self.device, self.dtype = pick_device(device)
        self.timer = StageTimer(sync=torch.cuda.synchronize if self.device.type == "cuda" else None)
        self.encoder = load_encoder(
            models.encoder, device=self.device, dtype=self.dtype, backend=models.encoder_backend, threads=models.encoder_threads
        )
        self.parts = load_diffusion(models.diffusion, models.vae, device=self.device, dtype=self.dtype)
        check_width(self.encoder, models.diffusion, self.parts.width)
        self.generator = Img2Img(self.parts, config.generator, timer=self.timer)
        meta = self.encoder.meta
        bos = encode_text(self.parts, "", length=meta.tokens + 1)[0] if meta.prepend_bos else None  # (D,)
        prompt_embeds = encode_text(self.parts, prompt) if prompt else None  # (77, D)
        self.conditioner = Conditioner(config.conditioning, bos=bos, prompt=prompt_embeds)
        self.window_samples = round((config.window_s or meta.window_s) * SAMPLE_RATE)


def render(
    input_path: str | Path,
    output_path: str | Path,
    *,
    models: Models = Models(),
    config: RenderConfig = RenderConfig(),
    start_s: float = 0.0,
    duration_s: float | None = None,
    device: str = "auto",
    prompt: str | None = None,
    progress: bool = True,
) -> RenderResult:
    """Render `input_path` to `output_path` (an .mp4). Every check that can fail on bad input runs
    before the output file is opened; a failure after that removes the partial file."""
    output = check_output_path(output_path)
    segment = open_segment(input_path, start_s, duration_s)
    pipeline = Pipeline(models, config, device=device, prompt=prompt)
    n_frames = max(1, round(segment.duration_s * config.fps))
    log.info(
        "rendering %s (%.2f s) -> %s: %d frames at %d fps, %d px, %d UNet call(s) per frame, on %s",
        segment.path.name,
        segment.duration_s,
        output,
        n_frames,
        config.fps,
        config.generator.size,
        config.generator.unet_calls,
        pipeline.device,
    )
    started = time.perf_counter()
    mux_sr = segment.source_sr if segment.source_sr in AAC_RATES else 48_000
    mux_channels = min(segment.channels, 2)
    size = config.generator.size
    with Mp4Writer(output, fps=config.fps, width=size, height=size, audio_sr=mux_sr, audio_channels=mux_channels) as writer:
        frames = FrameLoop(pipeline, segment, n_frames)
        muxer = AudioMuxer(writer, stream(segment, sr=mux_sr, channels=mux_channels, block_s=0.5), mux_sr)
        bar = make_bar(n_frames, progress)
        for k in range(n_frames):
            rgb = frames.render(k)
            with pipeline.timer.section("mux"):
                muxer.write_until((k + 1) / config.fps)
                writer.write_frame(rgb)
            bar.update(1)
        with pipeline.timer.section("mux"):
            muxer.write_until(math.inf)
        bar.close()
    seconds = time.perf_counter() - started
    stage_ms = pipeline.timer.per_frame_ms(n_frames)
    log.info("wrote %s: %d frames in %.1f s (%.1f fps)", output, n_frames, seconds, n_frames / seconds)
    return RenderResult(output, n_frames, seconds, stage_ms)


class FrameLoop:
    """Frame k's picture: embeddings computed just ahead of the frame that needs them."""

    def __init__(self, pipeline: Pipeline, segment: AudioSegment, n_frames: int):
        self.p = pipeline
        self.cfg = pipeline.config
        self.total = segment.samples(SAMPLE_RATE)
        self.buffer = SampleBuffer(timed(stream(segment, sr=SAMPLE_RATE, channels=1), pipeline.timer, "decode"), self.total)
        self.hop_samples = max(1, round(self.cfg.hop_s * SAMPLE_RATE))
        self.n_embeddings = self.total // self.hop_samples + 2  # one past the last frame, to slerp towards
        self.next_embedding = 0
        self.hooks, self.clock, self.previous = None, None, None
        if self.cfg.shaders:
            from live.shader_engine import DiffusionHooks, FeatureClock

            try:
                self.hooks = DiffusionHooks(self.cfg.generator.size, seed=self.cfg.generator.seed, fps=self.cfg.fps)
                self.clock = FeatureClock(half_beat=self.cfg.half_beat)  # features and beats at 16 kHz, fed the audio under each frame
            except PhospheneError as e:  # no EGL here: plain img2img feedback still makes a video
                log.warning("shader stage off: %s", e)

    def window_bounds(self, j: int) -> tuple[int, int]:
        centre = j * self.hop_samples
        a = centre - self.p.window_samples // 2
        return a, a + self.p.window_samples

    def compute_embeddings(self, upto_s: float) -> None:
        """Encode windows (in batches) until the timeline reaches `upto_s` or the audio ends."""
        import torch

        while self.next_embedding < self.n_embeddings and self.p.conditioner.timeline.last_time_s < upto_s:
            js = range(self.next_embedding, min(self.next_embedding + self.cfg.encoder_batch, self.n_embeddings))
            bounds = [self.window_bounds(j) for j in js]
            windows = np.stack([self.buffer.get(a, b) for a, b in bounds])  # (B, S); decoding is timed in timed()
            with self.p.timer.section("encoder"):
                tokens = self.p.encoder.encode(windows)  # (B, T, D)
            with self.p.timer.section("conditioning"):
                for j, (_, b), tok in zip(js, bounds, tokens, strict=True):
                    newest = min(b, self.total) - 1
                    self.p.conditioner.add(j * self.hop_samples / SAMPLE_RATE, newest, tok.to(torch.float32))
            self.next_embedding = js[-1] + 1

    def render(self, k: int) -> np.ndarray:
        from live.generator import to_uint8

        fps = self.cfg.fps
        t_s = k / fps
        self.compute_embeddings(t_s + self.cfg.hop_s)  # the embedding after t, to slerp towards
        frame_a, frame_b = round(t_s * SAMPLE_RATE), round((k + 1) / fps * SAMPLE_RATE)
        under_frame = self.buffer.get(frame_a, frame_b)  # the audio playing while this frame shows
        level = float(np.sqrt(np.mean(under_frame**2))) if len(under_frame) else 0.0
        with self.p.timer.section("conditioning"):
            embeds, _sample_index = self.p.conditioner.at(t_s, level, 1.0 / fps)
        init = None
        if self.hooks is not None:
            with self.p.timer.section("shaders"):
                drive = self.clock.advance(under_frame, t_s)  # consecutive frames partition the audio
                if self.previous is not None:  # warp + structure: motion follows the music
                    init = self.hooks.init_image(self.previous, drive)
        image = self.p.generator(embeds, init_image=init)
        self.previous = image  # fed back before the post effects
        with self.p.timer.section("vae"):
            rgb = to_uint8(image)
        if self.hooks is not None:
            with self.p.timer.section("shaders"):
                rgb = self.hooks.post(rgb, drive)
        next_window_start = self.window_bounds(self.next_embedding)[0]
        self.buffer.forget_before(min(frame_b, next_window_start))
        return rgb


def timed(blocks, timer: StageTimer, name: str):
    """Wrap a generator so the time spent producing each item counts towards stage `name`."""
    iterator = iter(blocks)
    while True:
        with timer.section(name):
            item = next(iterator, None)
        if item is None:
            return
        yield item
