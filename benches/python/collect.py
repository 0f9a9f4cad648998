"""CPython's cycle collector on the same object graphs as gc-stress and the criterion
benches: 1M nodes in 100k rings of 10 (drop the handles, time gc.collect() alone), and a
live heap of the same rings (time a full gc.collect() that finds nothing).

Usage: python3 benches/python/collect.py [NODES] [RING_SIZE]
Prints one JSON object: ns per object for each measurement (best of 3).
"""
import gc
import json
import sys
import time


# The same node class and ring builder as gc-stress's CPython contender.
from workloads import Node, rings  # noqa: E402,F401


def best_of(n, f):
    return min(f() for _ in range(n))


def main():
    nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    gc.disable()
    gc.collect()

    def reclaim():
        heads = rings(nodes, size)
        del heads
        t = time.perf_counter_ns()
        found = gc.collect()
        elapsed = time.perf_counter_ns() - t
        assert found >= nodes, found
        return elapsed / nodes

    def live():
        heads = rings(nodes, size)
        gc.collect()
        t = time.perf_counter_ns()
        gc.collect()
        elapsed = time.perf_counter_ns() - t
        del heads
        gc.collect()
        return elapsed / nodes

    result = {
        "python": sys.version.split()[0],
        "nodes": nodes,
        "ring_size": size,
        "rings_collect_ns_per_obj": best_of(3, reclaim),
        "live_full_collect_ns_per_obj": best_of(3, live),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
