"""Runs every benchmark in bench/ and prints its figures (`make bench`).

Each benchmark starts its own embedded PostgreSQL and broker on free ports, so nothing else
needs to be running. The figures and the commands that produce them are kept in BENCHMARKS.md.
"""

import subprocess
import sys

BENCHMARKS = (
    ("start-up", ["bench.startup"]),
    ("ledger throughput and latency", ["bench.ledger_throughput"]),
    ("evidence file of 1,000,000 rows", ["bench.evidence_ingest", "--throwaway"]),
    ("gateway latencies", ["bench.gateway_latency"]),
)

if __name__ == "__main__":
    failed = []
    for title, module in BENCHMARKS:
        print(f"== {title}: python -m {' '.join(module)} ==", flush=True)
        # Each in its own process, so that one benchmark's memory and threads are not another's.
        if subprocess.run([sys.executable, "-m", *module], check=False).returncode != 0:
            failed.append(title)
    if failed:
        sys.exit(f"benchmarks that failed: {', '.join(failed)}")
