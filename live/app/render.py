"""Offline render: a music file in, an MP4 with the audio muxed in out, on a virtual clock. Both
engines render through one loop (`write_mp4`): frame k is at t = k / fps, and the audio is muxed
in as the frames go.

Diffusion (`render`): embedding j describes the audio around t = j * hop_s: its window is centred
there (the renderer may look ahead, so the pictures change when a sound happens rather than
window_s later). A frame between two embeddings gets their per-token slerp, then attack/release
smoothing driven by the level of the audio under that frame, then the optional text mix, then one
img2img step from the previous frame. Everything streams: memory does not grow with the file.

    decode (PyAV) -> 16 kHz mono blocks -> SampleBuffer -> windows -> encoder (batched)
                                                    \\-> frame level          |
    Conditioner (slerp, smoothing, text mix) <--------------------------------/
        -> Img2Img -> write_mp4 (+ the original audio, AAC)

Shaders (`render_shader`): the audio under each frame -> FeatureClock -> ShaderEngine -> write_mp4.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from live.analysis.clock import FeatureClock
from live.app.beats import bars_of_file
from live.app.director import Director
from live.app.engines import DiffusionHooks, image_side, load_diffusion_side, start_token
from live.app.finite import STOPPED, check_finite, check_record
from live.app.scenes import DEFAULT_SCENE, Scene, load_library
from live.app.settings import RenderConfig, check_fps
from live.app.timeline import load_timeline
from live.app.travel import PromptTravel
from live.audio.decode import AudioSegment, open_segment, stream
from live.audio.windows import SampleBuffer
from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError
from live.core.timing import StageTimer
from live.core.units import fps_text, parse_size, size_text
from live.draw.gl import PixelReader
from live.draw.shaders import ShaderEngine, ShaderLook, Structure
from live.draw.video import AAC_RATES, AudioMuxer, Mp4Writer, RenderResult, check_output_path, make_bar
from live.models.loading import Models
from live.models.settings import GeneratorConfig

log = logging.getLogger("phosphene")


def write_mp4(
    output: Path,
    segment: AudioSegment,
    frames: Iterator[np.ndarray],
    *,
    n_frames: int,
    fps: Fraction,
    width: int,
    height: int,
    timer: StageTimer,
    progress: bool,
    engine: str,
) -> RenderResult:
    """The one mux loop: `n_frames` frames from `frames` into `output`, the segment's own audio muxed
    in step (its rate when AAC takes it, else 48 kHz; at most two channels). The file appears only
    when it is complete; an error or Ctrl-C leaves nothing behind."""
    started = time.perf_counter()
    mux_sr = segment.source_sr if segment.source_sr in AAC_RATES else 48_000
    mux_channels = min(segment.channels, 2)
    writing = Mp4Writer(output, fps=fps, width=width, height=height, audio_sr=mux_sr, audio_channels=mux_channels)
    with writing as writer, make_bar(n_frames, progress) as bar:  # the bar closes first, on Ctrl-C too: no line after "interrupted:"
        muxer = AudioMuxer(writer, stream(segment, sr=mux_sr, channels=mux_channels, block_s=0.5), mux_sr)
        for k, rgb in zip(range(n_frames), frames, strict=False):  # the frames may be a longer generator
            with timer.section("mux"):
                muxer.write_until((k + 1) / fps)
                writer.write_frame(rgb)
            bar.update(1)
        with timer.section("mux"):
            muxer.write_until(math.inf)
    seconds = time.perf_counter() - started
    log.info("wrote %s: %d frames in %.1f s (%.1f fps)", output, n_frames, seconds, n_frames / seconds)
    return RenderResult(output, n_frames, seconds, timer.per_frame_ms(n_frames), engine)


# --- the diffusion engine -----------------------------------------------------------------------


class Pipeline:
    """The loaded models and the per-render state, built and checked before any output exists."""

    def __init__(
        self,
        models: Models,
        config: RenderConfig,
        *,
        device: str = "auto",
        prompt: str | None = None,
        director: Director | None = None,
        audio_weight: float | None = None,
    ):
        """`director`: scenes (their prompts, strength and audio weight, travelling between them);
        `audio_weight`: the one the command was given for them (None: the default for a prompt)."""
        import torch

        from live.models.conditioning import Conditioner, encode_text
        from live.models.generator import Img2Img

        config.validate(prompt=bool(prompt) or director is not None)  # scenes bring their own prompts
        self.config = config
        conditioning = config.conditioning
        side = load_diffusion_side(models, device=device, condition=conditioning.condition)
        self.device, self.dtype, self.encoder, self.parts = side.device, side.dtype, side.encoder, side.parts
        self.image = image_side(side, conditioning, prompt)  # --condition image | both: the IP-Adapter path, else None
        self.timer = StageTimer(sync=torch.cuda.synchronize if self.device.type == "cuda" else None)
        self.generator = Img2Img(self.parts, config.generator, timer=self.timer)
        self.director, self.travel = director, None
        if self.image is not None:  # the image embedding is slerped and smoothed alone; the prompt is the text side's
            conditioning, prompt = replace(conditioning, audio_weight=1.0), None
        if director is not None:
            self.travel = PromptTravel(
                director,
                lambda text: encode_text(self.parts, text),
                strength=config.generator.strength,
                audio_weight=audio_weight,
                prompt=prompt,
                image_scale=conditioning.image_scale,
            )
            first = self.travel.start()
            if self.image is None:  # the image road keeps its own text side: scenes move its look and strength only
                prompt_embeds, conditioning = first.prompt, replace(conditioning, audio_weight=first.audio_weight)
            else:
                prompt_embeds = None
                self.image.set_scale(first.image_scale)  # the first scene's image_scale, else --image-scale
            self.generator.set_strength(first.strength)
        else:
            prompt_embeds = encode_text(self.parts, prompt) if prompt else None  # (77, D)
        self.conditioner = Conditioner(conditioning, bos=start_token(side), prompt=prompt_embeds)  # bos: (D,) or None
        self.window_samples = round((config.window_s or self.encoder.meta.window_s) * SAMPLE_RATE)


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
    director: Director | None = None,
    audio_weight: float | None = None,
) -> RenderResult:
    """Render `input_path` to `output_path` (an .mp4) with the diffusion engine. Every check that can
    fail on bad input runs before the output file is opened; a failure after that removes the partial file.
    `director`: scenes and a timeline, as render_shader takes them; their prompts, strength and audio
    weight (the scene's, else `audio_weight`, else the default for a prompt) apply per frame."""
    output = check_output_path(output_path, inputs=(input_path,))
    segment = open_segment(input_path, start_s, duration_s)
    follow_file_bars(director, input_path, start_s, duration_s)
    pipeline = Pipeline(models, config, device=device, prompt=prompt, director=director, audio_weight=audio_weight)
    n_frames = max(1, round(segment.duration_s * config.fps))
    width, height = config.generator.wh
    log.info(
        "rendering %s (%.2f s) -> %s: %d frames at %s fps, %s px, %d UNet call(s) per frame, on %s",
        segment.path.name,
        segment.duration_s,
        output,
        n_frames,
        fps_text(Fraction(config.fps)),
        size_text(config.generator.wh),
        config.generator.unet_calls,
        pipeline.device,
    )
    loop = FrameLoop(pipeline, segment, n_frames)
    frames = (loop.render(k) for k in range(n_frames))
    result = write_mp4(
        output,
        segment,
        frames,
        n_frames=n_frames,
        fps=Fraction(config.fps),
        width=width,
        height=height,
        timer=pipeline.timer,
        progress=progress,
        engine="diffusion",
    )
    if director is not None:  # per frame: the scene, and the strength and audio weight it drew with
        result.scenes = loop.scenes
        result.per_frame = {"strength": loop.strengths, "audio_weight": loop.weights}
        if pipeline.image is not None:
            result.per_frame["image_scale"] = loop.image_scales
        never_fired(director, result)
    return result


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
        director = pipeline.director
        first = director.library[director.current] if director is not None else None
        if self.cfg.shaders:
            try:
                self.hooks = DiffusionHooks(
                    self.cfg.generator.wh,
                    seed=self.cfg.generator.seed,
                    fps=float(self.cfg.fps),
                    look=first.look if first else None,
                    structure=first.structure if first else None,
                )
            except PhospheneError as e:  # no EGL here: plain img2img feedback still makes a video
                log.warning("shader stage off: %s", e)
        if self.hooks is not None or director is not None:  # features and beats at 16 kHz, fed the audio under each frame
            self.clock = FeatureClock(half_beat=self.cfg.half_beat)
        self.scenes: list[str] = []  # with scenes, per frame: the scene, strength and audio weight
        self.strengths: list[float] = []
        self.weights: list[float] = []
        self.image_scales: list[float] = []  # --condition image|both: the IP-Adapter scale of every frame

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
            what = f"the encoder's embeddings of the audio at {js[0] * self.cfg.hop_s:.2f}..{js[-1] * self.cfg.hop_s:.2f} s"
            check_finite(tokens, what, STOPPED)
            with self.p.timer.section("conditioning"):
                for j, (_, b), tok in zip(js, bounds, tokens, strict=True):
                    newest = min(b, self.total) - 1
                    self.p.conditioner.add(j * self.hop_samples / SAMPLE_RATE, newest, tok.to(torch.float32))
            self.next_embedding = js[-1] + 1

    def render(self, k: int) -> np.ndarray:
        from live.models.generator import to_uint8

        fps = Fraction(self.cfg.fps)
        t_s = float(k / fps)
        self.compute_embeddings(t_s + self.cfg.hop_s)  # the embedding after t, to slerp towards
        frame_a, frame_b = round(k * SAMPLE_RATE / fps), round((k + 1) * SAMPLE_RATE / fps)  # exact, at any rate
        under_frame = self.buffer.get(frame_a, frame_b)  # the audio playing while this frame shows
        level = float(np.sqrt(np.mean(under_frame**2))) if len(under_frame) else 0.0
        drive = None
        if self.clock is not None:
            with self.p.timer.section("shaders"):
                drive = self.clock.advance(under_frame, t_s)  # consecutive frames partition the audio
        if self.p.director is not None:
            with self.p.timer.section("conditioning"):
                self.direct(drive)
        with self.p.timer.section("conditioning"):
            embeds, _sample_index = self.p.conditioner.at(t_s, level, float(1 / fps))
        check_finite(embeds, f"frame {k} ({t_s:.2f} s): the conditioning (the attack/release smoothing, the prompt mix)", STOPPED)
        init = None
        if self.hooks is not None:
            with self.p.timer.section("shaders"):
                if self.previous is not None:  # warp + structure: motion follows the music
                    init = self.hooks.init_image(self.previous, drive)
        if self.p.image is not None:
            image = self.p.image.generate(self.p.generator, embeds, init_image=init)  # embeds (1, 1, P): the IP-Adapter's
        else:
            image = self.p.generator(embeds, init_image=init)
        check_finite(image, f"frame {k} ({t_s:.2f} s): the picture img2img made", STOPPED)
        self.previous = image  # fed back before the post effects
        with self.p.timer.section("vae"):
            rgb = to_uint8(image)
        if self.hooks is not None:
            with self.p.timer.section("shaders"):
                rgb = self.hooks.post(rgb, drive)
        next_window_start = self.window_bounds(self.next_embedding)[0]
        self.buffer.forget_before(min(frame_b, next_window_start))
        return rgb

    def direct(self, drive) -> None:
        """Scenes: the director's frame; the shader stage's look, and the prompt, strength and audio
        weight travelling between scenes (live/app/travel.py)."""
        director, conditioner = self.p.director, self.p.conditioner
        state = direct(director, self.hooks.engine, drive) if self.hooks is not None else director.step(drive)
        settings = self.p.travel.at(state)
        if settings is not None:
            if self.p.image is None:  # the image road keeps its own text side
                conditioner.prompt = settings.prompt
                conditioner.config = replace(conditioner.config, audio_weight=settings.audio_weight)
            else:  # its IP-Adapter scale travels over the transition, as the strength does
                self.p.image.set_scale(settings.image_scale)
            self.p.generator.set_strength(settings.strength)
        self.scenes.append(state.scene)
        self.strengths.append(self.p.generator.config.strength)
        self.weights.append(conditioner.config.audio_weight if conditioner.prompt is not None else 1.0)
        if self.p.image is not None:
            self.image_scales.append(self.p.image.scale)


# --- the shader engine --------------------------------------------------------------------------


def render_shader(
    input_path,
    output_path,
    *,
    fps: int | Fraction = RenderConfig.fps,
    size: int | tuple[int, int] = GeneratorConfig.size,
    start_s: float = 0.0,
    duration_s: float | None = None,
    seed: int = GeneratorConfig.seed,
    progress: bool = True,
    look: ShaderLook = ShaderLook(),
    half_beat: bool = RenderConfig.half_beat,
    scene: Scene | None = None,
    director: Director | None = None,
    timeline: str | Path | None = None,
) -> RenderResult:
    """Render a music file with the shader engine (no weights, no torch) to an MP4 with its audio muxed in.
    `scene` starts with that scene (its look replaces `look`); `director` (or `timeline`, a file of
    cues over the shipped scenes) switches scenes on the music's bars as the frames go."""
    width, height = parse_size(size, minimum=0)  # the engine says which sizes it draws
    fps = Fraction(fps)
    check_fps(fps)
    output = check_output_path(output_path, inputs=(input_path,))
    segment = open_segment(input_path, start_s, duration_s)
    if timeline is not None and director is None:
        library = load_library()
        bars = bars_of_file(input_path, start_s=start_s, duration_s=duration_s)
        cues = load_timeline(timeline, library, duration_s=segment.duration_s, downbeats=lambda: bars.downbeats_s)
        director = Director(library, scene.name if scene else DEFAULT_SCENE, cues=cues, bars=bars)
    follow_file_bars(director, input_path, start_s, duration_s)
    if director is not None and scene is None:
        scene = director.library[director.current]
    if scene is not None:
        look, structure = scene.look, scene.structure
    else:
        structure = Structure()
    check_record(look, f"the look{f' of scene {scene.name}' if scene else ''}", STOPPED)
    check_record(structure, f"the structure{f' of scene {scene.name}' if scene else ''}", STOPPED)
    timer = StageTimer()
    engine = ShaderEngine(
        width, height, look=look, structure=structure, seed=seed, fps=float(fps)
    )  # fails here (no EGL, bad shader) before any output exists
    n_frames = max(1, round(segment.duration_s * fps))
    log.info(
        "rendering %s (%.2f s) -> %s with the shader engine: %d frames at %s fps, %dx%d",
        segment.path.name,
        segment.duration_s,
        output,
        n_frames,
        fps_text(fps),
        width,
        height,
    )
    total = segment.samples(SAMPLE_RATE)
    buffer = SampleBuffer(stream(segment, sr=SAMPLE_RATE, channels=1, block_s=0.25), total)
    clock = FeatureClock(SAMPLE_RATE, half_beat=half_beat)
    scenes: list[str] = []  # the scene of each frame, for the stats

    reader = PixelReader(engine.ctx, (width, height))  # the MP4's pixels: asynchronous readback, 3 in flight

    def frames() -> Iterator[np.ndarray]:
        for k in range(n_frames):
            with timer.section("decode"):  # the audio playing while frame k shows
                a, b = round(k * SAMPLE_RATE / fps), min(round((k + 1) * SAMPLE_RATE / fps), total)
                under_frame = buffer.get(a, max(a, b))
                buffer.forget_before(b)
            with timer.section("features"):
                drive = clock.advance(under_frame, float(k / fps))
                check_record(drive, f"frame {k} ({float(k / fps):.2f} s): the audio analysis (does the input hold NaN samples?)", STOPPED)
            with timer.section("shaders"):
                engine.reload_if_changed()
                if director is not None:
                    scenes.append(direct(director, engine, drive).scene)
                elif scene is not None:
                    scenes.append(scene.name)
                engine.render(drive)
                rgb = reader.submit(engine.output_fbo)  # the frame from two before: GL is not waited on
            if rgb is not None:
                yield rgb
        yield from reader.drain()

    try:
        result = write_mp4(
            output,
            segment,
            frames(),
            n_frames=n_frames,
            fps=fps,
            width=width,
            height=height,
            timer=timer,
            progress=progress,
            engine="shader",
        )
        result.scenes = scenes
        if director is not None:
            never_fired(director, result)
        return result
    finally:
        reader.release()
        engine.release()


def follow_file_bars(director: Director | None, input_path, start_s: float, duration_s: float | None) -> None:
    """Offline, the director's bars, cues, auto-advance and transitions are the file's own (the bars
    `python -m live beats FILE --bars` prints), not the live clock's causal guess: computed once, here
    unless scene_director already did."""
    if director is not None and director.bars is None:
        director.follow_file(bars_of_file(input_path, start_s=start_s, duration_s=duration_s))


def never_fired(director: Director, result: RenderResult) -> None:
    """A timeline's cue the audio ended before is named in the result's notes (and the log)."""
    if director.next_cue < len(director.cues):
        cue = director.cues[director.next_cue]
        result.notes.append(f"the cue at line {cue.line} never fired: the audio ended first")
        log.warning("timeline: %s", result.notes[-1])


def direct(director: Director, engine: ShaderEngine, drive):
    """One frame of the director on a shader engine: start a switch, move the transition on; returns
    the director's FrameState. A scene whose generator does not compile is skipped with a warning:
    the last good one stays."""
    state = director.step(drive)
    if state.begin is not None:
        name, transition = state.begin
        target = director.library[name]
        check_record(target.look, f"the look of scene {name}", STOPPED)
        check_record(target.structure, f"the structure of scene {name}", STOPPED)
        try:
            engine.begin(target.look, target.structure, transition.kind)
        except PhospheneError as e:  # ShaderError: a broken generator; the scene on screen stays
            log.warning("scene %s not shown, keeping the last good one: %s", name, e)
    engine.progress(state.progress)
    return state


def timed(blocks, timer: StageTimer, name: str):
    """Wrap a generator so the time spent producing each item counts towards stage `name`."""
    iterator = iter(blocks)
    while True:
        with timer.section(name):
            item = next(iterator, None)
        if item is None:
            return
        yield item
