"""`python -m bench [--quick] [--json FILE]`: measure the recipe and the whole stack, print a table.

Exits 0 when every target holds, 1 when one is missed. Progress goes to stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench import report, suite

MIN_SYSTEM_VIDEOS = 20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller corpus, fewer repeats (< 10 min)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--workdir", type=Path, help="keep corpus, GIFs and logs here (reused next time)")
    parser.add_argument(
        "--only",
        choices=suite.PARTS,
        help="run only one part (redis: Redis memory only; overhead: job_fixed_overhead_ms only)",
    )
    parser.add_argument("--repeat", type=int, help="runs per recipe command (the fastest counts)")
    parser.add_argument("--videos", type=int, help=f"videos for system_efficiency (>= {MIN_SYSTEM_VIDEOS})")
    parser.add_argument("--no-gifski", action="store_true", help="skip the gifski comparison")
    args = parser.parse_args(argv)
    if args.videos is not None and args.videos < MIN_SYSTEM_VIDEOS:
        parser.error(f"--videos must be at least {MIN_SYSTEM_VIDEOS}")
    return args


def recipe_table(outcome: suite.Outcome) -> str:
    """Per clip: wall seconds, MB and SSIM of each contender; bytes and clean-picture SSIM vs gifski."""
    return clips_table(outcome.details.get("recipe", {}).get("clips", []))


def clips_table(clips: list[dict]) -> str:
    """The per-clip table from the JSON details' clip rows."""
    names = [n for n in ("product", "twopass", "gifski") if any(n in c for c in clips)]
    header = ["clip", "source -> GIF", *(f"{n} s" for n in names), *(f"{n} MB" for n in names)]
    header += [f"{n} SSIM" for n in names]
    pair = "product" in names and "gifski" in names
    header += ["bytes vs gifski", "clean SSIM product/gifski"] if pair else []
    rows = []
    for c in clips:
        row = [c["clip"], f"{c['source']} -> {c['gif']}"]
        row += [f"{c[n]['wall_s']:.2f}" if n in c else "-" for n in names]
        row += [f"{c[n]['bytes'] / 1e6:.2f}" if n in c else "-" for n in names]
        row += [f"{c[n]['ssim']:.4f}" if n in c else "-" for n in names]
        if pair:
            ours, theirs = c.get("product"), c.get("gifski")
            row.append(f"{ours['bytes'] / theirs['bytes']:.2f}" if ours and theirs else "-")
            clean = ours and theirs and ours.get("ssim_clean") is not None and theirs.get("ssim_clean")
            row.append(f"{ours['ssim_clean']:.4f}/{theirs['ssim_clean']:.4f}" if clean else "-")
        rows.append(row)
    return report.markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and report; the exit status tells whether every target held."""
    args = parse_args(argv)
    plan = suite.Plan.make(
        args.quick,
        repeat=args.repeat,
        system_videos=args.videos,
        gifski=False if args.no_gifski else None,
        parts=(args.only,) if args.only else None,
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gifbot-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log = suite.Log()
    machine = suite.machine()
    log(f"{machine['cores']} cores, load {machine['load_before']}, ffmpeg {machine['ffmpeg']}")
    try:
        outcome = suite.run(plan, workdir.resolve(), log)
    except BaseException:
        print(f"bench failed; corpus, GIFs and process logs are in {workdir}", file=sys.stderr)
        raise
    machine["load_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    mode = "quick" if plan.quick else "full"
    print(
        f"\n{mode} run: {machine['cores']} cores, load average (1/5/15 min) {machine['load_before']} "
        f"before, {machine['load_after']} after; ffmpeg {machine['ffmpeg']}\n"
    )
    if "recipe" in outcome.details:
        print(recipe_table(outcome) + "\n")
    print(report.figures_table(outcome.figures))
    misses = report.missed(outcome.figures)
    print("\nevery target holds" if not misses else "\ntargets missed: " + ", ".join(misses))
    if args.json:
        details = {"mode": mode, **outcome.details}
        report.write_json(args.json, report.document(outcome.figures, machine, details))
        print(f"figures written to {args.json}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
