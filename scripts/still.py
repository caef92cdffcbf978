"""Save one frame of an MP4 as a PNG: the front page's still, made by `make sheet` from a render.

    python scripts/still.py VIDEO.mp4 OUT.png --at SECONDS
"""

import argparse

import av


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("out")
    parser.add_argument("--at", type=float, default=0.0, help="the moment, in seconds (the first frame at or after it)")
    args = parser.parse_args()
    with av.open(args.video) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= args.at:
                frame.to_image().save(args.out, optimize=True)  # Pillow writes no time chunk
                return
    raise SystemExit(f"error: {args.video} has no frame at or after {args.at} s")


if __name__ == "__main__":
    main()
