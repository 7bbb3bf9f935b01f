"""Entry point the RunPod Hub asks for.

This worker is the Rust binary `flaky-detector`, which the image starts through run.sh; this
file starts it the same way, passing its arguments through (for example `--test_input`).
"""

import os
import sys

if __name__ == "__main__":
    os.execvp("flaky-detector", ["flaky-detector", "worker", *sys.argv[1:]])
