"""How long a hub model takes to fail without network: plain ``from_pretrained`` (the hub
client's retries) vs kampai's check (``hub_offline()`` then the cache only), interleaved.

    python benchmarks/offline_hub.py [--repeats 2] [--model sentence-transformers/all-MiniLM-L6-v2]

Meaningful on a machine without network (or with HF_ENDPOINT pointing nowhere); an empty
HF_HOME is used so that nothing comes from the cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

PLAIN = """
import sys
from transformers import AutoTokenizer
try:
    AutoTokenizer.from_pretrained(sys.argv[1])
except OSError:
    pass
"""
KAMPAI = """
import sys
from kampai.plugins.transformers.model import hub_offline
from transformers import AutoTokenizer
reason = hub_offline()
try:
    AutoTokenizer.from_pretrained(sys.argv[1], **({"local_files_only": True} if reason else {}))
except OSError:
    pass
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(__file__))
    from _timing import CPU, wall

    env = {**os.environ, "HF_HOME": tempfile.mkdtemp(prefix="kampai-hf-empty-")}
    env.pop("HF_HUB_OFFLINE", None)
    times: dict[str, list[float]] = {"plain": [], "kampai": []}
    for _ in range(args.repeats):
        for label, code in (("plain", PLAIN), ("kampai", KAMPAI)):
            times[label].append(wall([sys.executable, "-c", code, args.model], os.getcwd(), env, label))
    load = os.getloadavg()[0]
    print(f"time to fail offline ({args.model}), median of {args.repeats}, load average {load:.1f}")
    for label in times:
        print(f"  {label:7s} wall {statistics.median(times[label]):6.2f}s  cpu {statistics.median(CPU[label]):6.2f}s")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"  (benchmark {time.perf_counter() - start:.0f}s)")
