"""Drives `flaky-detector serve` with the official runpod Python SDK, as a user would.

Run by tests/serve_sdk.rs with RUNPOD_ENDPOINT_BASE_URL pointing at the server, the API key in
FLAKY_TEST_KEY and job inputs in FAST_INPUT / SLOW_INPUT (JSON). Prints one JSON document with
what each SDK call returned; the Rust test asserts on it.
"""

import json
import os
import time

import runpod

runpod.api_key = os.environ["FLAKY_TEST_KEY"]
fast = json.loads(os.environ["FAST_INPUT"])
slow = json.loads(os.environ["SLOW_INPUT"])
endpoint = runpod.Endpoint("local-endpoint")
seen = {}

seen["run_sync"] = endpoint.run_sync({"input": fast}, timeout=60)

job = endpoint.run(fast)
seen["run_first_status"] = job.status()
seen["run_output"] = job.output(timeout=60)
seen["run_final_status"] = job.status()

streamed = endpoint.run(fast)
seen["stream"] = [chunk["message"] for chunk in streamed.stream()]

victim = endpoint.run(slow)
for _ in range(600):
    if victim.status() == "IN_PROGRESS":
        break
    time.sleep(0.1)
seen["cancel"] = victim.cancel()
seen["cancelled_status"] = victim.status()
seen["health"] = endpoint.health()

print(json.dumps(seen))
