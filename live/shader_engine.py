"""The shader engine: pictures from the GLSL stages alone, driven by the audio features. No model
weights, no torch: the embedded default when diffusion weights cannot be found.

Per frame:  structure.glsl (features -> procedural image)
            warp.glsl      (previous frame zoomed/rotated/shifted/rippled, structure mixed in) -> feedback
            post.glsl      (beat flash, colour grade, vignette; not fed back)           -> the output frame

    FeatureClock().advance(audio under the frame, t_s) -> Drive    features + beat clock, per video frame
    ShaderEngine(width, height).frame(drive)           -> uint8 (H, W, 3)
    render_shader(input, output, fps=24, size=512)     -> an MP4 with the audio muxed in

The diffusion path uses the same stages as hooks (`DiffusionHooks`): the warp + structure mix makes
the next img2img init image from the previous output, and post finishes each generated frame.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from live.beats import ANALYSIS_SR, Analyzer
from live.gl import N_BANDS, SHADER_DIR, ShaderProgram, create_context, new_texture, read_rgb, upload
from live.timing import StageTimer
from live.video import AAC_RATES, AudioMuxer, RenderResult

log = logging.getLogger("phosphene")


@dataclass(frozen=True)
class Drive:
    """What the shaders see of the audio at one frame (all 0..1 unless a unit is given)."""

    time_s: float = 0.0
    level: float = 0.0  # RMS over its running maximum
    peak: float = 0.0  # sample peak, full scale = 1
    bands: tuple[float, ...] = (0.0,) * N_BANDS  # sub, bass, low-mid, mid, high-mid, air
    onset: float = 0.0  # strongest onset strength under the frame
    beat_phase: float = 0.0  # 0 on the beat
    tempo_bpm: float = 120.0
    confidence: float = 0.0


@dataclass(frozen=True)
class ShaderLook:
    """How the features move the picture. Per-frame amounts assume 24 fps; they scale with fps."""

    zoom: float = 0.004  # zoom per frame at rest (content drifts outward)
    zoom_bass: float = 0.03  # extra zoom per frame at full bass
    rotate: float = 0.002  # radians per frame at rest
    rotate_mid: float = 0.02  # extra radians per frame at full mid
    drift: float = 0.002  # translation per frame (uv), circling with time
    pulse: float = 0.006  # ripple amplitude on the beat (uv)
    structure_mix: float = 0.08  # structure mixed in per frame at rest ...
    structure_onset: float = 0.35  # ... plus this at a full onset: the picture renews on hits
    decay: float = 0.985  # feedback gain per frame
    flash: float = 0.8  # stops of exposure on the beat (times confidence)
    beat_decay: float = 5.0  # the beat pulse falls as exp(-beat_decay * phase)
    saturation: float = 1.15
    contrast: float = 1.05
    tint: tuple[float, float, float] = (1.0, 0.97, 1.04)  # a cool grade
    vignette: float = 0.45


class FeatureClock:
    """Features + beat tracker on one audio stream (16 kHz mono), summarised per video frame.
    Feed it the audio under each frame, in order, once: the same on the live and offline clocks."""

    def __init__(self, sr: int = ANALYSIS_SR, *, half_beat: bool = False):
        self.analyzer = Analyzer(sr)
        self.analyzer.beats.half_beat = half_beat  # the beat moved by half a period (--half-beat, the O key)
        self.last = Drive()

    def advance(self, samples: np.ndarray, t_s: float) -> Drive:
        frames, _ = self.analyzer.push(samples)
        beat = self.analyzer.beats.state(t_s)
        if len(frames):
            self.last = Drive(
                time_s=t_s,
                level=float(frames.level.mean()),
                peak=float(frames.peak.max()),
                bands=tuple(float(b) for b in frames.bands.mean(axis=0)),
                onset=float(frames.onset.max()),
                beat_phase=beat.phase,
                tempo_bpm=beat.tempo_bpm,
                confidence=beat.confidence,
            )
        else:  # a frame shorter than one analysis hop: keep the levels, move the clock
            self.last = replace(self.last, time_s=t_s, beat_phase=beat.phase, tempo_bpm=beat.tempo_bpm, confidence=beat.confidence)
        return self.last


def audio_uniforms(drive: Drive, look: ShaderLook, width: int, height: int, seed: int) -> dict:
    pulse = math.exp(-look.beat_decay * drive.beat_phase) * min(1.0, 2.0 * drive.confidence)
    return {
        "u_resolution": (float(width), float(height)),
        "u_time": drive.time_s,
        "u_seed": (seed * 0.618034) % 1.0,  # golden-ratio steps: neighbouring seeds look unrelated
        "u_level": drive.level,
        "u_peak": drive.peak,
        "u_bands": tuple(drive.bands),
        "u_onset": drive.onset,
        "u_beat_phase": drive.beat_phase,
        "u_beat_pulse": pulse,
        "u_tempo": drive.tempo_bpm,
        "u_confidence": drive.confidence,
    }


def warp_uniforms(drive: Drive, look: ShaderLook, fps: float) -> dict:
    k = 24.0 / fps  # the look is tuned at 24 fps
    bass, mid = max(drive.bands[0], drive.bands[1]), drive.bands[3]
    angle = 0.3 * drive.time_s
    return {
        "u_zoom": 1.0 + k * (look.zoom + look.zoom_bass * bass),
        "u_rotate": k * (look.rotate + look.rotate_mid * mid),
        "u_translate": (k * look.drift * math.cos(angle), k * look.drift * math.sin(angle)),
        "u_pulse": look.pulse * math.exp(-look.beat_decay * drive.beat_phase) * min(1.0, 2.0 * drive.confidence),
        "u_structure_mix": min(1.0, k * (look.structure_mix + look.structure_onset * drive.onset)),
        "u_decay": look.decay**k,
    }


def post_uniforms(look: ShaderLook) -> dict:
    return {
        "u_flash": look.flash,
        "u_saturation": look.saturation,
        "u_contrast": look.contrast,
        "u_tint": look.tint,
        "u_vignette": look.vignette,
    }


class ShaderEngine:
    """The four programs, their textures, and the feedback state, for one output size."""

    def __init__(
        self,
        width: int,
        height: int,
        *,
        look: ShaderLook = ShaderLook(),
        seed: int = 0,
        fps: float = 24.0,
        shader_dir: Path = SHADER_DIR,
        ctx=None,
    ):
        self.width, self.height, self.look, self.seed, self.fps = width, height, look, seed, fps
        self.ctx = ctx or create_context()
        self.programs = {name: ShaderProgram(self.ctx, shader_dir / f"{name}.glsl") for name in ("structure", "warp", "post", "crossfade")}
        size = (width, height)
        self.structure_tex = new_texture(self.ctx, *size, dtype="f2")
        self.feedback = [new_texture(self.ctx, *size, dtype="f2") for _ in range(2)]  # ping-pong: read one, write the other
        self.input_tex = [new_texture(self.ctx, *size, dtype="f2") for _ in range(2)]  # frames handed in (hooks, crossfade)
        self.output_tex = new_texture(self.ctx, *size, dtype="f1")
        self.structure_fbo = self.ctx.framebuffer([self.structure_tex])
        self.feedback_fbo = [self.ctx.framebuffer([t]) for t in self.feedback]
        self.output_fbo = self.ctx.framebuffer([self.output_tex])
        self.current = 0  # index of the feedback texture holding the latest frame

    def reload_if_changed(self) -> None:
        for program in self.programs.values():
            program.reload_if_changed()

    def _common(self, drive: Drive) -> dict:
        return audio_uniforms(drive, self.look, self.width, self.height, self.seed)

    def _structure(self, drive: Drive) -> None:
        self.programs["structure"].draw(self.structure_fbo, self._common(drive))

    def _warp(self, source, drive: Drive) -> None:
        """feedback[other] = warp(source) with the structure mixed in; it becomes the current frame."""
        target = 1 - self.current
        values = {**self._common(drive), **warp_uniforms(drive, self.look, self.fps)}
        self.programs["warp"].draw(self.feedback_fbo[target], values, {"u_prev": source, "u_structure": self.structure_tex})
        self.current = target

    def _post(self, source, drive: Drive) -> np.ndarray:
        values = {**self._common(drive), **post_uniforms(self.look)}
        self.programs["post"].draw(self.output_fbo, values, {"u_image": source})
        return read_rgb(self.output_fbo)

    def frame(self, drive: Drive) -> np.ndarray:
        """The next frame of the shader-only engine: uint8 (H, W, 3)."""
        self._structure(drive)
        self._warp(self.feedback[self.current], drive)
        return self._post(self.feedback[self.current], drive)

    def warp_frame(self, rgb: np.ndarray, drive: Drive) -> np.ndarray:
        """Warp a given frame (uint8, or float in [0, 1]) with the structure mixed in: float32 (H, W, 3) in [0, 1]."""
        upload(self.input_tex[0], rgb)
        self._structure(drive)
        self._warp(self.input_tex[0], drive)
        data = self.feedback_fbo[self.current].read(components=3, dtype="f4")
        return np.frombuffer(data, dtype=np.float32).reshape(self.height, self.width, 3)

    def post_frame(self, rgb: np.ndarray, drive: Drive) -> np.ndarray:
        upload(self.input_tex[0], rgb)
        return self._post(self.input_tex[0], drive)

    def crossfade(self, a: np.ndarray, b: np.ndarray, mix: float) -> np.ndarray:
        """Display-rate crossfade: mix = 0 gives a, 1 gives b. uint8 (H, W, 3)."""
        upload(self.input_tex[0], a)
        upload(self.input_tex[1], b)
        self.programs["crossfade"].draw(self.output_fbo, {"u_mix": float(mix)}, {"u_a": self.input_tex[0], "u_b": self.input_tex[1]})
        return read_rgb(self.output_fbo)

    def release(self) -> None:
        self.ctx.release()


def crossfade_mix(now_s: float, older_s: float, newer_s: float) -> float:
    """Where `now` lies between the times two generator frames became ready: the crossfade's u_mix.
    The newer frame fades in over the interval the generator took to make it."""
    span = newer_s - older_s
    return 1.0 if span <= 0 else min(1.0, max(0.0, (now_s - newer_s) / span))


class DiffusionHooks:
    """The shader stages around img2img (live.render's FrameLoop calls these):

    init = hooks.init_image(previous_output, drive)   # (1, 3, H, W) in [-1, 1], like the input
    rgb = hooks.post(generated_uint8, drive)           # uint8 (H, W, 3)
    """

    def __init__(self, size: int, *, look: ShaderLook = ShaderLook(), seed: int = 0, fps: float = 24.0, ctx=None):
        self.engine = ShaderEngine(size, size, look=look, seed=seed, fps=fps, ctx=ctx)

    def init_image(self, previous, drive: Drive):
        """previous: uint8 (H, W, 3), or a float tensor/array (1, 3, H, W) or (3, H, W) in [-1, 1].
        Returns the warped, structure-mixed frame as a (1, 3, H, W) tensor in [-1, 1], on the
        input's device and dtype (float32 on the CPU for a uint8 input)."""
        import torch  # only the diffusion path gets here, and it has torch loaded already

        self.engine.reload_if_changed()
        if isinstance(previous, np.ndarray) and previous.dtype == np.uint8:
            rgb, device, dtype = previous, torch.device("cpu"), torch.float32
        else:
            t = previous if isinstance(previous, torch.Tensor) else torch.as_tensor(previous)
            device, dtype = t.device, (t.dtype if t.is_floating_point() else torch.float32)
            chw = t.detach().reshape(-1, *t.shape[-3:])[0].to(torch.float32).cpu()  # (3, H, W)
            rgb = ((chw.permute(1, 2, 0).numpy() + 1.0) * 0.5).clip(0.0, 1.0)  # (H, W, 3) in [0, 1]
        warped = self.engine.warp_frame(rgb, drive)  # (H, W, 3) in [0, 1]
        out = torch.from_numpy(np.array(warped, dtype=np.float32)).permute(2, 0, 1)[None] * 2.0 - 1.0  # (1, 3, H, W)
        return out.to(device=device, dtype=dtype)

    def post(self, rgb: np.ndarray, drive: Drive) -> np.ndarray:
        return self.engine.post_frame(rgb, drive)


# --- offline render ---------------------------------------------------------------------------


class _Samples:
    """Exact slices [a, b) of a stream of mono blocks, read in order."""

    def __init__(self, blocks):
        self.blocks, self.pending, self.position = blocks, np.zeros(0, np.float32), 0

    def take_until(self, end: int) -> np.ndarray:
        parts, need = [], end - self.position
        while need > 0:
            if not len(self.pending):
                block = next(self.blocks, None)
                if block is None:
                    break
                self.pending = block[:, 0]
            part, self.pending = self.pending[:need], self.pending[need:]
            parts.append(part)
            need -= len(part)
        out = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        self.position += len(out)
        return out


def render_shader(
    input_path,
    output_path,
    *,
    fps: int = 24,
    size: int | tuple[int, int] = 512,
    start_s: float = 0.0,
    duration_s: float | None = None,
    seed: int = 0,
    progress: bool = True,
    look: ShaderLook = ShaderLook(),
    half_beat: bool = False,
) -> RenderResult:
    """Render a music file with the shader engine to an MP4 with its audio muxed in (as live.render.render)."""
    from tqdm import tqdm

    from live.audio import open_segment, stream
    from live.errors import PhospheneError
    from live.video import Mp4Writer, check_output_path

    width, height = (size, size) if isinstance(size, int) else size
    if not 1 <= fps <= 240:
        raise PhospheneError(f"--fps {fps}: must be between 1 and 240")
    output = check_output_path(output_path)
    segment = open_segment(input_path, start_s, duration_s)
    timer = StageTimer()
    engine = ShaderEngine(width, height, look=look, seed=seed, fps=fps)  # fails here (no EGL, bad shader) before any output exists
    n_frames = max(1, round(segment.duration_s * fps))
    log.info(
        "rendering %s (%.2f s) -> %s with the shader engine: %d frames at %d fps, %dx%d",
        segment.path.name,
        segment.duration_s,
        output,
        n_frames,
        fps,
        width,
        height,
    )
    started = time.perf_counter()
    mux_sr = segment.source_sr if segment.source_sr in AAC_RATES else 48_000
    mux_channels = min(segment.channels, 2)
    clock = FeatureClock(ANALYSIS_SR, half_beat=half_beat)
    samples = _Samples(stream(segment, sr=ANALYSIS_SR, channels=1, block_s=0.25))
    try:
        with Mp4Writer(output, fps=fps, width=width, height=height, audio_sr=mux_sr, audio_channels=mux_channels) as writer:
            muxer = AudioMuxer(writer, stream(segment, sr=mux_sr, channels=mux_channels, block_s=0.5), mux_sr)
            bar = tqdm(total=n_frames, unit="frame", desc="render", disable=not progress, dynamic_ncols=True)
            for k in range(n_frames):
                with timer.section("decode"):
                    under_frame = samples.take_until(round((k + 1) / fps * ANALYSIS_SR))  # the audio playing while frame k shows
                with timer.section("features"):
                    drive = clock.advance(under_frame, k / fps)
                with timer.section("shaders"):
                    engine.reload_if_changed()
                    rgb = engine.frame(drive)
                with timer.section("mux"):
                    muxer.write_until((k + 1) / fps)
                    writer.write_frame(rgb)
                bar.update(1)
            with timer.section("mux"):
                muxer.write_until(math.inf)
            bar.close()
    finally:
        engine.release()
    seconds = time.perf_counter() - started
    log.info("wrote %s: %d frames in %.1f s (%.1f fps)", output, n_frames, seconds, n_frames / seconds)
    return RenderResult(output, n_frames, seconds, timer.per_frame_ms(n_frames))


# --- benchmarks: `python -m live bench features` / `bench shaders` ---------------------------------


def bench_features(args=None) -> int:
    """Feature + beat tracker cost per second of audio, on one core, in two block sizes."""
    from live.audio import open_segment, stream

    demo = Path(__file__).resolve().parent.parent / "demo" / "phosphene-demo.mp3"
    seconds = float(getattr(args, "seconds", 60.0) or 60.0)
    clip = np.concatenate([b[:, 0] for b in stream(open_segment(demo), sr=ANALYSIS_SR, channels=1)])
    audio = np.resize(clip, round(seconds * ANALYSIS_SR))  # the demo clip looped
    print(f"features + beat tracker on {seconds:g} s of {demo.name} at {ANALYSIS_SR} Hz (one thread)")
    print("CPU time of this process (one thread: no BLAS in the hot path), best of 3; wall time beside it")
    print(f"{'block':>12}{'CPU ms per s of audio':>24}{'x real time':>14}{'wall x real time':>18}")
    for block_s in (1.0, 0.064, 0.016):
        block = round(block_s * ANALYSIS_SR)
        best_cpu = best_wall = math.inf
        for _ in range(3):
            analyzer = Analyzer(ANALYSIS_SR)
            c0, t0 = time.process_time(), time.perf_counter()
            for i in range(0, len(audio), block):
                analyzer.push(audio[i : i + block])
            best_cpu, best_wall = min(best_cpu, time.process_time() - c0), min(best_wall, time.perf_counter() - t0)
        print(f"{block_s * 1000:>9.0f} ms{1000 * best_cpu / seconds:>24.3f}{seconds / best_cpu:>14.0f}{seconds / best_wall:>18.0f}")
    return 0


def bench_shaders(args=None) -> int:
    """Milliseconds per engine frame (structure + warp + post + readback) at 512x512 and 1920x1080."""
    drive = Drive(time_s=1.0, level=0.7, peak=0.8, bands=(0.8, 0.7, 0.5, 0.4, 0.3, 0.2), onset=0.5, beat_phase=0.2, confidence=0.8)
    ctx = create_context()
    print(f"shader engine frames on {ctx.info['GL_RENDERER']}")
    print(f"{'size':>12}{'ms/frame':>10}{'fps':>8}{'  (of which readback ms)':>26}")
    for width, height in ((512, 512), (1920, 1080)):
        engine = ShaderEngine(width, height, ctx=ctx)
        for _ in range(3):
            engine.frame(drive)  # warm up: shader compile and first allocations
        n = 20
        t0 = time.perf_counter()
        for k in range(n):
            engine.frame(replace(drive, time_s=k / 24))
        per = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for _ in range(n):
            read_rgb(engine.output_fbo)
        readback = (time.perf_counter() - t0) / n
        print(f"{width:>5}x{height:<6}{per * 1000:>10.2f}{1 / per:>8.1f}{readback * 1000:>26.2f}")
    ctx.release()
    return 0


def add_bench_args(bench_sub) -> None:
    """`bench features` and `bench shaders`, added to the `bench` subcommand's subparsers."""
    features = bench_sub.add_parser("features", help="features + beat tracker cost per second of audio, one core")
    features.add_argument("--seconds", type=float, default=60.0, help="audio to analyse (default: %(default)s)")
    bench_sub.add_parser("shaders", help="shader engine ms per frame at 512x512 and 1920x1080")


def add_engine_args(p) -> None:
    p.add_argument(
        "--half-beat",
        action="store_true",
        help="move the beat clock by half a beat: for music where the tracker finds the tempo but sits on the off-beat "
        "(live, the O key toggles it)",
    )
    p.add_argument(
        "--engine",
        choices=["diffusion", "shader"],
        default="diffusion",
        help="diffusion: the audio encoder + img2img; shader: the GLSL stages alone, driven by the audio features (no weights, no torch)",
    )


def cmd_render_shader(args) -> int:
    """`render --engine shader`: the same input/output/segment/fps/size/seed options as diffusion."""
    result = render_shader(
        args.input,
        args.output,
        fps=args.fps,
        size=args.size,
        start_s=args.start,
        duration_s=args.duration,
        seed=args.seed,
        half_beat=args.half_beat,
        progress=not args.quiet,
    )
    if getattr(args, "stats_json", None):
        from live.__main__ import write_stats

        write_stats(args.stats_json, result)
    return 0
