"""Scenes on the diffusion engine: per frame, the prompt embeddings, strength, audio weight and
IP-Adapter image scale the director's state asks for (live/app/director.py), for the offline render and the live loop alike.

    travel = PromptTravel(director, encode_text_fn, strength=0.5, audio_weight=None, prompt="--prompt text")
    state = director.step(drive)
    settings = travel.at(state)            # None: nothing changes this frame (the controls' values hold)
    if settings: conditioner.prompt, weight, generator.set_strength(...) <- settings

Between two scenes (or two of a timeline's prompts) the prompt embeddings travel by per-token slerp
over the transition's span: at progress t the prompt is slerp(E(from), E(to), t), token by token
(a cut: t jumps to 1). Strength, audio weight and the image scale (the image road's IP-Adapter
scale, --condition image|both) move linearly over the same span. A side with no prompt is the audio
alone: the travel from it is the audio weight going from 1 to the target's.

A scene's `strength`, `audio_weight` and `image_scale` win; a scene without them keeps the
command's (`--strength`; `--audio-weight`, else half audio, half prompt when there is a prompt;
`--image-scale`).
"""

from __future__ import annotations

from dataclasses import dataclass

from live.models.settings import ConditioningConfig


@dataclass(frozen=True)
class Settings:
    prompt: object  # torch.Tensor (77, D): the prompt embeddings mixed with the audio, or None (audio only)
    strength: float  # share of each frame repainted
    audio_weight: float  # 1 = audio only, 0 = the prompt only
    scene: str  # the scene this frame belongs to
    image_scale: float = ConditioningConfig.image_scale  # the IP-Adapter scale (read on the image road only)


def lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


class PromptTravel:
    def __init__(
        self, director, encode, *, strength: float, audio_weight: float | None = None, prompt: str | None = None,
        image_scale: float = ConditioningConfig.image_scale,
    ):  # fmt: skip
        """`encode`: text -> (77, D) prompt embeddings (cached here: each text is encoded once).
        `strength`, `audio_weight`, `image_scale`: the command's (audio_weight None: the default for a prompt).
        `prompt`: the command's prompt, for scenes that have none (None: audio alone there)."""
        self.director, self.encode = director, encode
        self.strength, self.audio_weight, self.image_scale = strength, audio_weight, image_scale
        if director.prompt is None:  # the first scene has no prompt of its own: the command's holds
            director.prompt = prompt
        self.cache: dict[str, object] = {}
        self.source = self.target = director.current  # the scenes the strength and weight move between
        self.from_values = self.values(director.current)
        self.landed = False  # the last frame applied had the transition done: nothing to do until the next

    def embeds(self, text: str | None):
        if text is None:
            return None
        if text not in self.cache:
            self.cache[text] = self.encode(text)  # (77, D)
        return self.cache[text]

    def warm(self) -> None:
        """Encode every prompt the set can reach (each scene's, each cue's) now, not mid-set."""
        texts = [t for s in self.director.library.values() for t in s.prompts[:1]]
        texts += [c.prompt for c in self.director.cues if c.prompt] + [self.director.prompt]
        for text in texts:
            self.embeds(text)

    def values(self, name: str, prompt: bool = True) -> tuple[float, float, float]:
        """(strength, audio weight, image scale) of a scene: its own, else the command's."""
        scene = self.director.library.get(name)
        strength = scene.strength if scene is not None and scene.strength is not None else self.strength
        image_scale = scene.image_scale if scene is not None and getattr(scene, "image_scale", None) is not None else self.image_scale
        if scene is not None and scene.audio_weight is not None:
            weight = scene.audio_weight
        elif self.audio_weight is not None:
            weight = self.audio_weight
        else:
            weight = ConditioningConfig.default_audio_weight(prompt)
        return strength, weight, image_scale

    def start(self) -> Settings:
        """The settings of the first frame, before the director has stepped."""
        text = self.director.prompt
        strength, weight, scale = self.values(self.director.current, text is not None)
        return Settings(self.embeds(text), strength, weight if text is not None else 1.0, self.director.current, scale)

    def at(self, state, current: tuple[float, ...] | None = None) -> Settings | None:
        """The settings for a frame of the director (`state`: its FrameState), or None where nothing
        moves (no transition under way). `current`: the (strength, audio weight[, image scale]) in force
        now (the live controls may have moved them), the start of a travel that begins this frame."""
        if state.begin is not None:
            before = self.values(self.target)
            self.from_values = (*current, *before[len(current) :]) if current is not None else before
            self.source, self.target = self.target, state.begin[0]
            self.landed = False
        elif state.progress >= 1.0 and self.landed:
            return None
        text_from, text_to, t = state.prompt
        self.landed = t >= 1.0
        a, b = self.embeds(text_from), self.embeds(text_to)
        strength_to, weight_to, scale_to = self.values(self.target, text_to is not None)
        weight_to = weight_to if b is not None else 1.0  # to the audio alone: the prompt fades out
        weight_from = self.from_values[1] if a is not None else 1.0  # from the audio alone: it fades in
        if a is None or b is None or t >= 1.0 or text_from == text_to:  # one prompt: only the weight travels
            prompt = b if b is not None else a
        else:
            from live.models.conditioning import slerp

            prompt = slerp(a, b, t)  # per token: (77, D)
        strength, scale = lerp(self.from_values[0], strength_to, t), lerp(self.from_values[2], scale_to, t)
        return Settings(prompt, strength, lerp(weight_from, weight_to, t), state.scene, scale)
