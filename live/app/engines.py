"""The two engines, as parts the clocks wire up: the model side loaded once for render and run alike,
the shader stages around img2img, and the per-frame engines of the live loop.

    models = select_models(args)                        # the one place --models / --encoder / ... are read
    side = load_diffusion_side(models, device="auto")   # encoder + diffusion parts, width checked
    hooks = DiffusionHooks(size)                        # warp + structure before img2img, post after
    build_live_pipeline(...) / build_shader_pipeline(profile) -> LiveParts   # what `run` draws with

torch is imported here (the diffusion engine needs it); the shader engine's path never reaches it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from live.analysis.clock import Drive
from live.app.finite import check_finite, check_record
from live.core.defaults import RANDOM, RANDOM_CLIP_IMAGE, RANDOM_SD15, TINY, TINY_SD15
from live.core.errors import ModelNotFound, PhospheneError
from live.core.units import parse_size
from live.draw.shaders import ShaderEngine, ShaderLook, Structure
from live.models.loading import Models

log = logging.getLogger("phosphene")

MODEL_FLAGS = ("diffusion", "vae", "encoder", "encoder_backend", "encoder_threads", "lora", "ip_adapter")  # Models' fields, by their CLI names


def select_models(args) -> Models:
    """The models a command was asked for. `--models tiny` (or `random`: the full-size architectures
    with random weights) sets every model at once; a model flag given beside it (`--models tiny
    --encoder DIR`) wins for that model. Unset flags are None and take the defaults of `Models`."""
    chosen = getattr(args, "models", None)
    base = Models.all_tiny() if chosen == TINY else Models.all_random() if chosen == RANDOM else Models()
    if chosen == TINY_SD15:  # the tiny SD 1.5 + LCM-LoRA set (its own tiny VAE in vae/), the tiny encoder
        base = replace(Models.all_tiny(), diffusion=TINY_SD15)
    if chosen == RANDOM and getattr(args, "condition", "text") != "text":  # the image road's family: SD 1.5 (+ LCM), where ip-adapter_sd15 exists
        base = replace(base, diffusion=RANDOM_SD15, encoder=RANDOM_CLIP_IMAGE)
    given = {name: getattr(args, name) for name in MODEL_FLAGS if getattr(args, name, None) is not None}
    return replace(base, **given)


@dataclass
class DiffusionSide:
    """The loaded models of the diffusion engine, on one device: what render and run both start from."""

    device: object  # torch.device
    dtype: object  # torch.dtype
    encoder: object  # TorchEncoder | OnnxEncoder | TensorRTEncoder
    parts: object  # DiffusionParts


def load_diffusion_side(models: Models, *, device: str = "auto", vae: str | None = None, condition: str = "text") -> DiffusionSide:
    """Load the encoder and the diffusion model (with `vae`, default the one `models` names) and refuse,
    at start-up, an encoder whose width the diffusion model cannot take. `condition` image / both: the
    encoder must be an image-space one, and the UNet gets its IP-Adapter (live/models/image_prompt.py)."""
    from live.models.diffusion import load_diffusion
    from live.models.encoder import check_width, load_encoder
    from live.models.image_prompt import attach_image_adapter, check_condition, check_image_width
    from live.models.loading import missing_models, not_found_message, pick_device

    if missing := missing_models(replace(models, vae=vae or models.vae)):
        raise ModelNotFound(not_found_message(missing))
    torch_device, dtype = pick_device(device)
    encoder = load_encoder(models.encoder, device=torch_device, dtype=dtype, backend=models.encoder_backend, threads=models.encoder_threads)
    check_condition(encoder.meta, condition, models.encoder)  # before the diffusion model loads
    parts = load_diffusion(models.diffusion, vae or models.vae, device=torch_device, dtype=dtype, lora=models.lora)
    if condition == "text":
        check_width(encoder, models.diffusion, parts.width)
    else:
        width = attach_image_adapter(parts, image_width=None, file=models.ip_adapter)
        check_image_width(encoder.meta, models.encoder, width, models.diffusion)
    return DiffusionSide(torch_device, dtype, encoder, parts)


class ImageSide:
    """--condition image | both, per frame: the audio's image embedding (1, 1, P) from the Conditioner
    (slerped and smoothed as tokens are) goes to the IP-Adapter; the text side is fixed: the empty
    prompt (image) or --prompt (both); --image-scale weighs the image against it."""

    def __init__(self, parts, condition: str, scale: float, prompt: str | None):
        from live.models.conditioning import encode_text
        from live.models.image_prompt import set_image_scale

        if condition == "both" and not prompt:
            raise PhospheneError("--condition both blends the audio's picture with a text prompt: give --prompt TEXT (or use --condition image)")
        if condition == "image" and prompt:
            raise PhospheneError("--condition image takes no --prompt (the text side is the empty prompt): use --condition both to blend one in")
        self.parts = parts
        self.text = encode_text(parts, prompt or "")[None]  # (1, 77, D)
        self.scale = scale
        set_image_scale(parts.unet, scale)

    def set_scale(self, scale: float) -> None:
        from live.models.image_prompt import set_image_scale

        self.scale = float(scale)
        set_image_scale(self.parts.unet, self.scale)

    def generate(self, generator, embeds, init_image=None):
        """embeds (1, 1, P) -> the frame, as generator(prompt_embeds, init) is for text."""
        return generator(self.text, init_image=init_image, image_embeds=embeds[:, 0])


def image_side(side: DiffusionSide, conditioning, prompt: str | None) -> ImageSide | None:
    return None if conditioning.condition == "text" else ImageSide(side.parts, conditioning.condition, conditioning.image_scale, prompt)


def start_token(side: DiffusionSide):
    """The start-token embedding (D,) that audio2img-style encoders leave out, or None."""
    from live.models.conditioning import encode_text

    meta = side.encoder.meta
    return encode_text(side.parts, "", length=meta.tokens + 1)[0] if meta.prepend_bos else None


class DiffusionHooks:
    """The shader stages around img2img (live.app.render's FrameLoop calls these):

    init = hooks.init_image(previous_output, drive)   # (1, 3, H, W) in [-1, 1], like the input
    rgb = hooks.post(generated_uint8, drive)           # uint8 (H, W, 3)
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        *,
        look: ShaderLook | None = None,
        structure: Structure | None = None,
        seed: int = 0,
        fps: float = 24.0,
        ctx=None,
    ):
        width, height = parse_size(size)
        self.engine = ShaderEngine(
            width, height, look=look or ShaderLook(), structure=structure or Structure(), seed=seed, fps=fps, ctx=ctx, full_feedback=True  # init_image reads the warped frame back at its size
        )

    def init_image(self, previous, drive: Drive):
        """previous: uint8 (H, W, 3), or a float tensor/array (1, 3, H, W) or (3, H, W) in [-1, 1].
        Returns the warped, structure-mixed frame as a (1, 3, H, W) tensor in [-1, 1], on the
        input's device and dtype (float32 on the CPU for a uint8 input)."""
        import torch

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


class LookBox:
    """The look the live engines draw with, changed by controls on the loop's thread and read by the
    generator thread each frame (one reference swap: no lock needed)."""

    def __init__(self, look: ShaderLook | None = None):
        self.look = look or ShaderLook()

    def set(self, name: str, value: float) -> None:
        self.look = replace(self.look, **{name: float(value)})


@dataclass
class LiveParts:
    """What the loop runs: the encoder side (None for the shader engine) and a factory, called on
    the generator's thread, for the per-frame engine (drive, level, dt_s, now) -> (rgb, sample index)."""

    encoder: object | None
    conditioner: object | None
    generator: object | None
    prompts: list
    make_engine: object
    look: LookBox = field(default_factory=LookBox)
    encode_prompt: object = None  # text -> (77, D) prompt embeddings; None for the shader engine
    director: object = None  # live.app.director.Director: scenes (both engines), or None
    gl_engine: bool = False  # make_engine(lock, ctx) draws into a given GL context and hands back textures


def build_live_pipeline(
    models, profile, *, device: str, prompts: list[str], shaders: bool = True, director=None, condition: str = "text", image_scale: float = 1.0
) -> LiveParts:
    """Load encoder, diffusion model and generator for the live loop, checked like a render's. With a
    `director`, scenes switch the shader stage's look and the prompt, strength and audio weight,
    travelling between scenes (live/app/travel.py); every prompt the set can reach is encoded here.
    `condition` image / both: the image road (ImageSide); its text side is fixed for the set (the
    first --prompt for both), so prompts are not switched live on it, and scenes move only the
    shader look, the strength and the image scale there."""
    import torch

    from live.app.travel import PromptTravel
    from live.core.timing import StageTimer
    from live.models.conditioning import Conditioner, encode_text
    from live.app.frame_upload import HostFrames
    from live.models.generator import Img2Img
    from live.models.settings import VAE_FACTOR, ConditioningConfig, GeneratorConfig

    vae = models.vae if models.vae == TINY or profile.vae == "taesd" else "full"
    config = GeneratorConfig(size=profile.size, steps=profile.steps, strength=profile.strength)
    config.validate(VAE_FACTOR, said=profile.said("size"))  # the diffusion engine's size rule, before any model loads
    conditioning = ConditioningConfig(condition=condition, image_scale=image_scale)  # checked before any model loads
    side = load_diffusion_side(models, device=device, vae=vae, condition=condition)
    encoder, parts = side.encoder, side.parts
    image = image_side(side, conditioning, prompts[0] if prompts else None)  # None on the text road
    if image is not None:
        prompts = []  # the text side is the image road's: nothing for the controls to switch or mix
    cuda = side.device.type == "cuda"  # a CUDA stage's time is true only once the GPU has finished it (not measured yet)
    timer = StageTimer(sync=(lambda: torch.cuda.synchronize(side.device)) if cuda else None)
    generator = Img2Img(parts, config, timer=timer)
    bos = start_token(side)
    prompt_embeds = [(text, encode_text(parts, text)) for text in prompts]  # (77, D) each
    prompt = prompt_embeds[0][1] if prompt_embeds else None
    weight = ConditioningConfig.default_audio_weight(prompt is not None)
    travel, first = None, None
    if director is not None:
        travel = PromptTravel(
            director, lambda text: encode_text(parts, text), strength=profile.strength, prompt=prompts[0] if prompts else None,
            image_scale=image_scale,
        )  # fmt: skip
        travel.warm()  # not mid-set
        start = travel.start()
        if image is None:  # the image road keeps its own text side: scenes move its look, strength and image scale only
            prompt, weight = start.prompt, start.audio_weight
        generator.set_strength(start.strength)
        first = director.library[director.current]
        if image is not None:
            image.set_scale(start.image_scale)  # the first scene's image_scale, else --image-scale
    look = LookBox(first.look if first else None)
    conditioner = Conditioner(ConditioningConfig(profile.attack_s, profile.release_s, weight), bos=bos, prompt=prompt)
    image_side_ = image

    def make_engine(lock):
        hooks = None
        if shaders:
            try:
                hooks = DiffusionHooks(profile.size, fps=profile.display_fps, look=look.look, structure=first.structure if first else None)
            except PhospheneError as e:
                log.warning("shader stage off: %s", e)
        previous = None
        host = HostFrames()  # on CUDA through pinned memory (live/app/frame_upload.py; unverified)

        def scenes(drive) -> None:
            """The director's frame: the shader stage's scene, then the prompt, strength and weight."""
            state = director.step(drive)
            if hooks is not None:
                if state.begin is not None:
                    target = director.library[state.begin[0]]
                    try:
                        hooks.engine.begin(target.look, target.structure, state.begin[1].kind)
                        look.look = target.look  # the controls move the new scene's look from here on
                    except PhospheneError as e:  # a generator that does not compile: the last good scene stays
                        log.warning("scene %s not shown, keeping the last good one: %s", target.name, e)
                hooks.engine.progress(state.progress)
            current = (generator.config.strength, conditioner.config.audio_weight) + ((image_side_.scale,) if image_side_ else ())
            settings = travel.at(state, current=current)
            if settings is not None:
                if image_side_ is None:  # the image road keeps its own text side
                    conditioner.prompt = settings.prompt
                    conditioner.config = replace(conditioner.config, audio_weight=settings.audio_weight)
                else:  # its IP-Adapter scale travels over the transition, as the strength does
                    image_side_.set_scale(settings.image_scale)
                generator.set_strength(settings.strength)

        def frame(drive, level, dt_s, now, newest_index):
            nonlocal previous
            with lock:
                if not conditioner.timeline.entries:
                    return None
                with timer.section("conditioning"):
                    if director is not None:
                        scenes(drive)
                    embeds, sample_index = conditioner.at(now, level, dt_s)
                    check_finite(embeds, "the conditioning")  # a fault the run counts; the last good frame stays
            if hooks is not None:
                hooks.engine.look = look.look  # what the controls set, from this frame on
            with timer.section("shaders"):
                init = hooks.init_image(previous, drive) if hooks is not None and previous is not None else None
            image = generator(embeds, init_image=init) if image_side_ is None else image_side_.generate(generator, embeds, init_image=init)
            check_finite(image, "the picture img2img made")  # never fed back, never shown
            previous = image
            rgb = host(image)  # uint8 (H, W, 3): the window uploads it once, the outputs send it
            with timer.section("shaders"):
                return (hooks.post(rgb, drive) if hooks is not None else rgb), sample_index

        return frame

    def encode(text: str):  # (77, D), for prompts sent live (OSC)
        return encode_text(parts, text)

    encode_prompt = encode if image is None else None  # the image road takes no prompt sent live (OSC)
    return LiveParts(encoder, conditioner, generator, prompt_embeds, make_engine, look, encode_prompt, director=director)


def build_shader_pipeline(profile, director=None) -> LiveParts:
    """`--engine shader`: the shaders alone, driven by the features. No weights, no torch. With a
    `director` (live.app.director), scenes switch on the music's bars as it says. `make_engine(lock,
    ctx)` with a GL context (the live window's): the engine draws there and each frame is its output
    texture, which stays in GL (the window draws it, outputs read it back); without one, its own
    headless context and uint8 frames read back at once."""

    first = director.library[director.current] if director is not None else None
    look = LookBox(first.look if first else None)
    scene_now = [first.structure if first else Structure()]  # the scene on screen: a new engine (a new window) starts from it

    def make_engine(lock, ctx=None):
        engine = ShaderEngine(*parse_size(profile.size), look=look.look, structure=scene_now[0], fps=profile.display_fps, ctx=ctx)

        def frame(drive, level, dt_s, now, newest_index):
            check_record(drive, "the audio analysis")  # NaN uniforms draw black: a fault the run counts instead
            if director is not None:
                state = director.step(drive)
                if state.begin is not None:
                    target = director.library[state.begin[0]]
                    try:
                        engine.begin(target.look, target.structure, state.begin[1].kind)
                        look.look, scene_now[0] = target.look, target.structure  # the controls move the new scene's look from here on
                    except PhospheneError as e:  # a generator that does not compile: the last good scene stays
                        log.warning("scene %s not shown, keeping the last good one: %s", target.name, e)
                engine.progress(state.progress)
            engine.look = look.look  # what the controls set, from this frame on
            if ctx is not None:
                engine.render(drive)
                return engine.output_tex, newest_index  # stays in GL
            return engine.frame(drive), newest_index  # the features went up to the newest sample

        return frame

    return LiveParts(None, None, None, [], make_engine, look, director=director, gl_engine=True)
