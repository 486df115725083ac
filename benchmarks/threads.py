"""Which torch thread count to train with: 1 and 2 threads, on a quiet CPU and beside a
competing process, for chapter 8's MLP and chapter 9's conv VAE.

torch's default uses every core; on a shared machine (a laptop with a browser open, Colab, a
build beside another job) its threads wait for each other while one core is taken, and a
chapter can take several times as long. This script runs `benchmarks/fit_speed.py` in a fresh
process for each thread count, first alone, then beside one busy process (a pure-Python loop
at the same priority), and prints seconds per 60,000-image epoch for each case. The policy
chosen from it is in `vae_lib.device.use_usable_threads` and the README.

    python benchmarks/threads.py [--threads 1 2] [--images 12800]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

SPEED = Path(__file__).with_name("fit_speed.py")
BUSY = [sys.executable, "-c", "while True: pass"]


def epoch_seconds(threads: int, images: int) -> dict[str, float]:
    """{model: seconds per 60,000-image epoch} from one fresh process with `threads` threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, str(SPEED), "--images", str(images)], env=env,
                          capture_output=True, text=True, check=True)
    return {m: float(s) for m, s in re.findall(r"^(\w+):.* ([\d.]+) s per", done.stdout, re.M)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--images", type=int, default=12_800)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; seconds per 60,000-image epoch (lower is better)")
    print(f"{'threads':>7}  {'beside':<14} {'mlp':>7} {'conv':>7}")
    for competing in (False, True):
        busy = subprocess.Popen(BUSY) if competing else None
        try:
            for threads in args.threads:
                times = epoch_seconds(threads, args.images)
                beside = "a busy process" if competing else "nothing"
                print(f"{threads:>7}  {beside:<14} {times['mlp']:>7.1f} {times['conv']:>7.1f}",
                      flush=True)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()


if __name__ == "__main__":
    main()
