#!/usr/bin/env python3
"""Core pipeline benchmark: prints the figures README's Performance section quotes.

(a) 500 runs of `true` at parallelism 2, wall time / that of `seq 500 | xargs -P2 -n1 true`
    (target <= 1.15; the seed project measures 5.8).
(b) Peak RSS of the whole flaky-detector process for 200 runs that each print 1 MiB and fail
    (target <= 40 MiB; the seed project: 668 MiB).
(c) A second job on the same Python repository: install step >= 10x faster than the first.

Usage: scripts/bench_core.py [--binary target/release/flaky-detector] [--repeat 5]
Builds the release binary first unless --binary is given.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, env=None, shell=False):
    started = time.perf_counter()
    subprocess.run(cmd, env=env, shell=shell, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def job(binary, args, env):
    out = subprocess.run([binary, "run", "--json", *args], env=env, check=False,
                         capture_output=True, text=True)
    if not out.stdout.strip():
        sys.exit(f"job failed: {out.stderr}")
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary")
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    binary = opts.binary
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target", "release", "flaky-detector")

    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, FLAKY_CACHE_DIR=os.path.join(scratch, "cache"),
                   FLAKY_WORK_DIR=os.path.join(scratch, "work"))
        repo = os.path.join(scratch, "tiny")
        os.makedirs(repo)
        with open(os.path.join(repo, "README"), "w") as f:
            f.write("tiny repository\n")

        # (a) Overhead per run against xargs, interleaved so load hits both alike.
        ours, xargs = [], []
        for _ in range(opts.repeat):
            xargs.append(timed("seq 500 | xargs -P2 -n1 true", shell=True))
            ours.append(timed([binary, "run", "--repo", repo, "--command", "true",
                               "--runs", "500", "--parallelism", "2", "--json"], env=env))
        a_ours, a_xargs = statistics.median(ours), statistics.median(xargs)
        print(f"(a) 500 runs of `true`, parallelism 2: flaky-detector {a_ours:.3f} s, "
              f"xargs {a_xargs:.3f} s, ratio {a_ours / a_xargs:.2f} (target <= 1.15; "
              f"median of {opts.repeat})")

        # (b) Peak RSS of the detector process: wait4 reports that child's own high-water
        # mark (its printing children are a few MiB each and count only if larger).
        with tempfile.TemporaryFile() as out:
            child = subprocess.Popen(
                [binary, "run", "--json", "--repo", repo, "--command",
                 "sh -c 'head -c 1048576 /dev/zero | tr \"\\0\" x; exit 1'",
                 "--runs", "200", "--parallelism", "4", "--no-confirm"],
                env=env, stdout=out, stderr=subprocess.DEVNULL)
            _, _, usage = os.wait4(child.pid, 0)
            out.seek(0)
            summary = json.load(out)
        assert summary["failures"] == 200, summary["failures"]
        print(f"(b) 200 runs printing 1 MiB each (all failing, output kept): peak RSS "
              f"{usage.ru_maxrss / 1024:.1f} MiB (target <= 40 MiB)")

        # (c) Install cache: the same Python repository twice.
        pyrepo = os.path.join(scratch, "py")
        os.makedirs(os.path.join(pyrepo, "tests"))
        with open(os.path.join(pyrepo, "requirements.txt"), "w") as f:
            f.write("pytest\n")
        with open(os.path.join(pyrepo, "tests", "test_a.py"), "w") as f:
            f.write("def test_a():\n    assert True\n")
        args = ["--repo", pyrepo, "--command", "pytest -q tests", "--runs", "2"]
        first = job(binary, args, env)["install"]
        second = job(binary, args, env)["install"]
        ratio = first["duration_ms"] / max(second["duration_ms"], 1)
        print(f"(c) install of a Python repo: first {first['duration_ms']} ms "
              f"({first['status']}), second {second['duration_ms']} ms ({second['status']}), "
              f"{ratio:.0f}x faster (target >= 10x)")


if __name__ == "__main__":
    main()
