"""Command line: generate a synthetic dataset (clips, manifest, ground truth) from a seed."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from datasource.synthetic.generate import SyntheticSpec, generate_dataset, print_progress


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasource.synthetic", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="dataset directory to (re)create")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--frames", type=int, default=300, help="frames per clip")
    parser.add_argument("--density", type=float, default=1.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--no-faces", action="store_true")
    parser.add_argument("--no-pedestrians", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        spec = SyntheticSpec(
            seed=args.seed,
            width=args.width,
            height=args.height,
            fps=args.fps,
            clips=args.clips,
            frames_per_clip=args.frames,
            faces=not args.no_faces,
            pedestrians=not args.no_pedestrians,
            density=args.density,
            speed=args.speed,
            crf=args.crf,
        )
    except ValidationError as exc:
        parser.error(str(exc))
    started = time.perf_counter()
    try:
        manifest = generate_dataset(args.out, spec, None if args.quiet else print_progress)
    except ValueError as exc:
        parser.error(str(exc))
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(
        f"wrote {manifest.total_frames} frames in {len(manifest.clips)} clip(s) to {args.out} "
        f"({size / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
