"""`python -m training`: make and inspect the encoder checkpoints that render, live and export load.

Only the standard library is imported at the top, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import sys

from live.core.cli import dispatch, top_parser
from live.core.units import COUNT, DURATION, Number

DESCRIPTION = """\
Phosphene's encoder checkpoints: a Hugging Face folder (config.json, model.safetensors,
preprocessor_config.json) plus phosphene.json naming the text space it maps into (model id,
tokens L, width D).

commands:
  fit    train an encoder on captioned audio (a manifest or a `datasets` folder)
  eval   retrieval, zero-shot and token-cosine scores of an encoder on captioned clips
  bench  training samples per second and peak memory, tiny and full size
  init   write a new, untrained checkpoint (a tiny one for tests and smoke runs)
  info   print what a checkpoint folder declares and what its model gives
  manifest  a manifest of a folder of videos (for fit --target clip-image)

  python -m training fit --manifest clips.csv --output runs/a            # w2v-bert-2.0 into sd-turbo's text space
  python -m training fit --config run.toml --output runs/a --resume      # continue after a crash or a kill
  python -m training fit --init-from youzarsif/wav2vec2bert_2_diffusion --manifest clips.csv --output runs/b   # from audio2img
  python -m training eval --encoder runs/a/encoder --manifest clips.csv --split test
  accelerate launch -m training fit --config run.toml --output runs/a    # several GPUs or machines
  python -m training manifest --videos clips/ -o videos.csv              # one row per video, labelled by its folder
  python -m training fit --target clip-image --clip openai/clip-vit-base-patch32 --manifest videos.csv --output runs/w2c
"""

FIT_DESCRIPTION = """Train the audio encoder: random crops of each clip are augmented (TANGO mix, gain, noise, shift),
encoded to L x D tokens and pulled towards the frozen text encoder's tokens for their captions by
audio2img's per-token contrastive loss, a CLAP-style InfoNCE on pooled tokens, and a per-token
distance (weights below). Settings come from --config FILE.toml (keys as the flags, underscores or
dashes, at the top level or under [fit]), then flags on top.

OUT/encoder is the newest checkpoint as an encoder for `python -m live render --encoder OUT/encoder`
and `python -m export onnx --encoder OUT/encoder`; OUT/checkpoints holds the resumable states,
OUT/logs the TensorBoard logs, OUT/log.jsonl the same figures as lines.

A new encoder is --backbone with --weights on it and a new token head; --init-from DIR|HUB_ID
goes on from an encoder that exists (own or audio2img format): its backbone, and its token head
when L, D and the head sizes match (the log says which). --weights tiny trains a 2-layer backbone
against a seeded tiny text encoder: a smoke run or a test, not a model. Several GPUs: `accelerate launch -m training fit ...` (or torchrun -m training fit);
the batch size is per process and negatives are gathered from every process.
"""


TOKENS = Number("tokens per window", lo=1, hi=77, example="77", whole=True)
WORKERS = Number("a whole number of processes", lo=0, example="2", whole=True)


# which window of a longer clip `eval` scores: --window-at's choices, their words, and its default (said in its help)
WINDOW_AT = {"active": "its most active window", "start": "its first window (audio2img's)"}
WINDOW_AT_DEFAULT = "active"

def build_parser(prog: str = "python -m training") -> argparse.ArgumentParser:
    parser, sub = top_parser(prog, DESCRIPTION)
    init = sub.add_parser(
        "init",
        help="write a new, untrained checkpoint",
        description="Write an untrained own-format checkpoint: seeded random weights, for tests and smoke runs (its pictures mean nothing).",
    )
    init.add_argument("-o", "--output", required=True, help="folder to write (must not exist)")
    init.add_argument("--encoder", choices=["tiny"], default="tiny", help="architecture: tiny (a 2-layer w2v-bert, 32 wide, in the tiny text space)")
    init.add_argument("--tokens", type=TOKENS, default=77, help="L, tokens per window (77: a whole SD prompt)")
    init.set_defaults(func=cmd_init)
    add_fit(sub)
    add_eval(sub)
    manifest = sub.add_parser(
        "manifest",
        help="a manifest of a folder of videos, for --target clip-image",
        description="Write a manifest of every video file under a folder (rows video,label; the label is the name of the "
        "file's parent folder, none for files directly in it), for `fit --target clip-image`.",
    )
    manifest.add_argument("--videos", required=True, metavar="DIR", help="folder of video files (one folder per class, or flat)")
    manifest.add_argument("-o", "--output", required=True, metavar="FILE.csv", help="manifest to write")
    manifest.add_argument("--hold-out-every", type=WORKERS, default=0, metavar="N", help="every Nth video of a label is split test (0: no split column)")
    manifest.set_defaults(func=cmd_manifest)
    bench = sub.add_parser(
        "bench",
        help="training speed and peak memory",
        description="Time training steps (forward, backward, optimiser; real audio windows) for the tiny model and "
        "the full-size backbone with random weights, and print samples per second and peak memory.",
    )
    bench.add_argument("--models", default="tiny,w2v-bert-2.0", help="comma-separated: tiny and/or backbone names")
    bench.add_argument("--batch-size", type=COUNT, default=4, help="clips per step")
    bench.add_argument("--window-s", type=DURATION, default=4.0, help="seconds per clip")
    bench.add_argument("--steps", type=COUNT, default=5, help="timed steps per model, after one warm-up step")
    bench.add_argument("--gradient-checkpointing", action="store_true", help="also time each model with gradient checkpointing")
    bench.set_defaults(func=cmd_bench, tiny="--models tiny")
    info = sub.add_parser(
        "info",
        help="print a checkpoint's metadata and output shape",
        description="Load a checkpoint (own or audio2img format) and print its text space and the shape it gives for a 3.76 s window.",
    )
    info.add_argument("encoder", help="checkpoint folder, hub id, or tiny")
    info.set_defaults(func=cmd_info, tiny="tiny as the encoder")
    return parser


def add_fit(sub) -> None:
    import dataclasses

    from training.config import FitConfig

    fit = sub.add_parser("fit", help="train an encoder", description=FIT_DESCRIPTION)
    fit.add_argument("--config", metavar="FILE.toml", help="settings file (paths in it are relative to its folder); flags override it")
    fit.add_argument("--resume", action="store_true", help="continue the run in --output from its newest checkpoint")
    fit.add_argument("--encoder", dest="old_encoder", help=argparse.SUPPRESS)  # renamed: --weights, or --init-from
    defaults, tiny = FitConfig(), FitConfig(weights="tiny")
    for f in dataclasses.fields(FitConfig):
        flag, default = "--" + f.name.replace("_", "-"), getattr(defaults, f.name)
        shown = f" (default: {default})" if default not in (None, "") else ""
        if f.name != "weights" and getattr(tiny, f.name) != default:
            shown = f" (default: {default}; {getattr(tiny, f.name)} with --weights tiny)"
        if isinstance(default, bool):
            fit.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f.metadata["help"] + shown)
            continue
        kind = f.type.split(" | ")[0] if isinstance(f.type, str) else getattr(f.type, "__name__", "str")
        example = next((str(v) for v in (default, getattr(tiny, f.name)) if v not in (None, "")), "1")
        kind = {"float": Number(example=example), "int": Number("a whole number", example=example, whole=True)}.get(kind, str)
        fit.add_argument(flag, type=kind, default=None, metavar=f.name.upper(), help=f.metadata["help"] + shown)  # ranges: FitConfig.check
    fit.set_defaults(func=cmd_fit, tiny="--weights tiny")


def add_eval(sub) -> None:
    ev = sub.add_parser(
        "eval",
        help="score an encoder on captioned clips",
        description=f"Encode one window of each clip (--window-at; by default {WINDOW_AT[WINDOW_AT_DEFAULT]}) and score the "
        "tokens against the captions' targets: retrieval R@1/5/10 and mAP@10 both ways (identical captions are one target), "
        "zero-shot accuracy with 'This is a sound of {label}' when clips have labels, and mean token cosine. Works on own "
        "and audio2img-format checkpoints.",
    )
    ev.add_argument("--encoder", required=True, help="checkpoint folder, hub id, a training run's OUT/encoder, or tiny")
    source = ev.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", help="CSV or JSONL manifest")
    source.add_argument("--dataset", help="a Hugging Face `datasets` folder")
    ev.add_argument("--split", help="only clips of this split (default: every clip)")
    ev.add_argument("--text-encoder", help="targets from this diffusion model's text encoder (default: the one the checkpoint names)")
    ev.add_argument("--window-s", type=DURATION, help="seconds per clip (default: the window the encoder was trained on)")
    which = "; ".join(f"{name}: {words}" for name, words in WINDOW_AT.items())
    ev.add_argument("--window-at", choices=list(WINDOW_AT), default=WINDOW_AT_DEFAULT, help=f"which window of a longer clip: {which}")
    ev.add_argument(
        "--baseline-manifest",
        metavar="FILE",
        help="labelled clips that fit the nearest-centroid baseline (default: the manifest's train split)",
    )
    ev.add_argument("--batch-size", type=COUNT, default=16, help="clips per encoder call")
    ev.add_argument("--num-workers", type=WORKERS, default=2, help="decoding processes")
    ev.add_argument("--cache-dir", help="target cache (default: ~/.cache/phosphene/targets)")
    ev.add_argument("--compute", choices=["cpu", "cuda"], default="cpu", help="torch device")
    ev.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    ev.set_defaults(func=cmd_eval, tiny="--encoder tiny")


def main(argv: list[str] | None = None, prog: str = "python -m training") -> int:
    return dispatch(build_parser(prog), argv)  # fit says itself where Ctrl-C stopped it


def cmd_fit(args) -> int:
    import dataclasses
    from pathlib import Path

    from live.core.errors import PhospheneError
    from training.config import FitConfig, check_new_output, load_run_config, renamed_encoder

    if args.old_encoder is not None:
        raise PhospheneError(f"fit --encoder {args.old_encoder}: {renamed_encoder(args.old_encoder, flags=True)}")
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(FitConfig) if getattr(args, f.name) is not None}
    if args.resume:
        if not args.output:
            raise PhospheneError("--resume needs --output: the folder of the run to continue")
        config = FitConfig.from_dict({**load_run_config(Path(args.output)), **flags}, f"{args.output}/fit.json")
    elif args.config:
        config = FitConfig.from_toml(args.config, overrides=flags)
    else:
        config = FitConfig.from_dict(flags, "flags")
    config.check()  # the settings and the output folder, before torch and the models load
    if not args.resume:
        check_new_output(Path(config.output))
    from training.fit import fit

    encoder = fit(config, resume=args.resume)
    print(f"encoder: {encoder}  (python -m live render --encoder {encoder} ...; python -m training eval --encoder {encoder} ...)")
    return 0


def cmd_eval(args) -> int:
    import json
    from pathlib import Path

    from live.core.paths import check_output_file
    from training.clip_eval import encoder_target
    from training.data import read_manifest
    from training.eval import evaluate, format_report, to_json

    if args.json:  # checked before the evaluation, not after it
        check_output_file(args.json, flag="--json")
    if encoder_target(args.encoder) == "clip-image":
        return cmd_eval_image(args)
    from training.data import read_hf_dataset

    if args.manifest:
        clips = read_manifest(args.manifest, split=args.split)
    else:
        clips = read_hf_dataset(args.dataset, split=args.split)
    if args.baseline_manifest:
        baseline, source = read_manifest(args.baseline_manifest), args.baseline_manifest
    elif args.manifest:
        baseline, source = [c for c in read_manifest(args.manifest) if c.split == "train"], "the manifest's train split"
    else:
        baseline, source = [c for c in read_hf_dataset(args.dataset) if c.split == "train"], "the dataset's train split"
    report = evaluate(
        args.encoder,
        clips,
        window_at=args.window_at,
        baseline_clips=baseline,
        baseline_source=source,
        text_encoder=args.text_encoder,
        window_s=args.window_s,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        device=args.compute,
    )
    print(format_report(report))
    if args.json:
        partial = Path(args.json).with_name(f".{Path(args.json).name}.partial")
        partial.write_text(json.dumps(to_json(report), indent=2) + "\n")
        partial.replace(args.json)  # whole or not at all
    return 0


def cmd_eval_image(args) -> int:
    """eval of a clip-image checkpoint (its phosphene.json says so): audio <-> picture retrieval, zero-shot, baseline."""
    import json
    from pathlib import Path

    from live.core.errors import PhospheneError
    from live.models.audio_prompt import EncoderMeta
    from training.clip_eval import evaluate_image, format_image_report
    from training.eval import to_json
    from training.pictures import read_picture_manifest

    if not args.manifest:
        raise PhospheneError(f"--encoder {args.encoder} is a clip-image encoder: give --manifest (rows video[,label] or audio,image[,label]), not --dataset")
    window_s = args.window_s or EncoderMeta.load(Path(args.encoder).expanduser()).window_s
    clips = read_picture_manifest(args.manifest, window_s=window_s, split=args.split)
    if args.baseline_manifest:
        baseline, source = read_picture_manifest(args.baseline_manifest, window_s=window_s), args.baseline_manifest
    else:
        baseline, source = read_picture_manifest(args.manifest, window_s=window_s, split="train") if any(
            c.split == "train" for c in read_picture_manifest(args.manifest, window_s=window_s)
        ) else [], "the manifest's train split"
    report = evaluate_image(
        args.encoder,
        clips,
        window_s=args.window_s,
        window_at=args.window_at,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        device=args.compute,
        baseline_clips=baseline,
        baseline_source=source,
    )
    print(format_image_report(report))
    if args.json:
        partial = Path(args.json).with_name(f".{Path(args.json).name}.partial")
        partial.write_text(json.dumps(to_json(report), indent=2) + "\n")
        partial.replace(args.json)  # whole or not at all
    return 0


def cmd_manifest(args) -> int:
    from live.core.paths import check_output_file
    from training.pictures import write_video_manifest

    check_output_file(args.output, flag="-o")
    out, rows = write_video_manifest(args.videos, args.output, hold_out_every=args.hold_out_every)
    print(f"wrote {out}: {rows} videos (python -m training fit --target clip-image --clip MODEL --manifest {out} ...)")
    return 0


def cmd_bench(args) -> int:
    from training.bench import run_bench

    return run_bench(
        [m for m in args.models.split(",") if m],
        batch_size=args.batch_size,
        window_s=args.window_s,
        steps=args.steps,
        checkpointing=args.gradient_checkpointing,
    )


def cmd_init(args) -> int:
    from pathlib import Path

    from live.core.errors import PhospheneError
    from training.config import MAX_TOKENS

    out = Path(args.output)
    if out.exists():
        raise PhospheneError(f"-o {out} already exists ({'a file' if out.is_file() else 'a folder'}): give a new folder for the checkpoint")
    if not 1 <= args.tokens <= MAX_TOKENS:
        raise PhospheneError(f"--tokens {args.tokens}: SD text encoders take 1 to {MAX_TOKENS} positions")
    from live.models.audio_prompt import save_encoder
    from live.models.encoder import tiny_own_encoder

    model, fe, meta = tiny_own_encoder(tokens=args.tokens)
    save_encoder(model, fe, meta, out)
    print(f"wrote {out}: untrained tiny encoder, {meta.tokens} x {meta.width} tokens in the '{meta.text_encoder}' text space")
    return 0


def cmd_info(args) -> int:
    from training.info import info  # checkpoints, ONNX exports, and one line for anything else

    return info(args.encoder)


if __name__ == "__main__":
    sys.exit(main())
