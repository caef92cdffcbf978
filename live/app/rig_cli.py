"""What a rig can connect to, listed: `devices` (audio inputs and outputs), `midi` (controllers
and the default map), `osc` (the address space `run --osc-port` answers)."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    devices = sub.add_parser(
        "devices",
        help="list audio inputs (index, name, host API, channels, default rate)",
        description="List the audio inputs PortAudio sees (--outputs: the outputs, for run --monitor).",
    )
    devices.add_argument("--outputs", action="store_true", help="list the outputs instead (for --monitor)")
    devices.set_defaults(func=run_devices)
    midi = sub.add_parser("midi", help="list MIDI inputs and the controls they can reach", description="List MIDI inputs (for --midi).")
    midi.add_argument("--midi-api", choices=["auto", "alsa", "jack"], default="auto", help="MIDI system (auto: ALSA where it exists, else JACK)")
    midi.set_defaults(func=run_midi)
    osc = sub.add_parser("osc", help="the OSC address space", description="Print the OSC addresses `run --osc-port N` answers.")
    osc.set_defaults(func=run_osc)


def run_devices(args: argparse.Namespace) -> int:
    from live.audio.capture import list_inputs, list_outputs

    found = [d for d in (list_outputs() if args.outputs else list_inputs()) if d.channels > 0]
    if not found:
        print(f"no audio {'outputs' if args.outputs else 'inputs'} found (is an audio server running? is libportaudio2 installed?)")
        return 1
    print(f"{'index':>5}  {'name':<40} {'host API':<28} {'out ch' if args.outputs else 'in ch':>5} {'rate':>7}")
    for d in found:
        print(f"{d.index:>5}  {d.name:<40} {d.hostapi:<28} {d.channels:>5} {d.default_sr:>7g}")
    return 0


def run_midi(args: argparse.Namespace) -> int:
    from live.control.midi import DEFAULT_CC, DEFAULT_NOTES, input_names, pick_api

    names = input_names(args.midi_api)
    print(f"MIDI inputs ({pick_api(args.midi_api)}):" if names else f"no MIDI inputs ({pick_api(args.midi_api)})")
    for i, name in enumerate(names):
        print(f"  {i:>3}  {name}")
    print("default map (--midi-map FILE.toml to change it):")
    print("  " + "  ".join(f"CC{n}={p}" for n, p in DEFAULT_CC.items()))
    print("  " + "  ".join(f"note{n}={a}" for n, a in DEFAULT_NOTES.items()))
    return 0


def run_osc(args: argparse.Namespace) -> int:
    from live.control import osc
    from live.control.surface import describe_surface

    print(osc.__doc__.split("\n\n")[1])
    print(describe_surface())
    return 0
