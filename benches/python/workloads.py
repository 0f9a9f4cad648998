#!/usr/bin/env python3
"""CPython running the object-graph workloads of `gc-stress` (benches/src/jobs.rs), so
`gc-stress --compare` can spawn it as one more contender.

Usage: python3 benches/python/workloads.py JOB_JSON [--clock wall|cpu]

JOB_JSON is one serialized `Job` (benches/src/jobs.rs), e.g.
    {"workload":"rings","nodes":1000000,"ring_size":10}
    {"workload":"live","nodes":1000000,"ring_size":10,"reps":5}
    {"workload":"trees","depth":16}
    {"workload":"churn","cycles":1000000}
    {"workload":"mixed","old_objects":1000000,"ring_size":10,
     "young_cycles":1000000,"sample_every":100}

Prints exactly one JSON line on stdout with the field names of the matching `JobResult`
(plus "python", the interpreter version, and a few CPython-only extras that serde
ignores) and exits 0:
    rings: alloc_ns_per_obj, drop_ns_per_obj, collect_ns_per_obj, dropped,
           reported_collected, peak_rss_bytes
    live:  full_collect_ns_per_obj, collected, young_collect_ns, young_collect_empty_ns
    trees: total_ms, checksum; extra: collections [g0, g1, g2]
    churn: total_ms, dropped, total_ms_gc_off, collections [g0, g1, g2],
           pauses_us {count, p50, p99, max} (all generations); extra: reported_collected
    mixed: young_pauses_us, young_pauses_empty_us, max_outstanding_garbage,
           collections, total_ms; extra: the no-old-heap run's
           max_outstanding_garbage_empty, collections_empty, total_ms_empty
Every output also has "workload", "python" and "clock". Times are wall time
(time.perf_counter_ns) by default; with `--clock cpu` they are the process's CPU time
(clock_gettime(CLOCK_PROCESS_CPUTIME_ID)), the clock `gc-stress --clock cpu` gives its Rust
contenders. Bad input: a message on stderr and exit status 2. If a consistency check fails (e.g. `dropped != nodes`) the result is still
printed, with a warning on stderr, so the caller can see the numbers.

How destroyed objects are counted. The Rust node types count their destructor runs; here
a `__del__` would turn every node into an object with a finalizer, which changes what
CPython's collector does (finalizers are called in a separate pass, and their objects
need a resurrection check) and therefore the timing being measured. Instead:
  * the collector's own counts: `gc.collect()`'s return value and the "collected" fields
    of `gc.get_stats()` / the gc.callbacks "stop" info, and
  * an untimed census of the live `Node` objects (`gc.get_objects()` filtered by type,
    see `census`), taken before and after the timed parts, which checks those counts
    directly: nodes alive after building minus nodes alive at the end = nodes gone.
Neither touches the node class or the timed loops.
"""

import gc
import json
import math
import operator
import os
import sys
import time

PYTHON = sys.version.split()[0]
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# The clock every timed figure is read from; `--clock cpu` rebinds it (see main).
perf_counter_ns = time.perf_counter_ns
CLOCK = "wall"


def process_cpu_time_ns():
    """CPU time of this process so far (user + system), as `gc-stress --clock cpu` reads it."""
    return time.clock_gettime_ns(time.CLOCK_PROCESS_CPUTIME_ID)


class UsageError(Exception):
    """Bad command line or job; reported on stderr with exit status 2."""


class Node:
    """A ring / churn node, like `GcNode` in graphs.rs (and like collect.py's)."""

    __slots__ = ("next",)

    def __init__(self, nxt=None):
        self.next = nxt


class Tree:
    """A binary-trees node, like `RcTree` in graphs.rs."""

    __slots__ = ("left", "right")

    def __init__(self, left, right):
        self.left = left
        self.right = right


# ---------------------------------------------------------------------------- helpers


def rss_bytes():
    """Current resident set size: /proc/self/statm second field times the page size."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


def census(cls=Node):
    """Live (gc-tracked) instances of `cls`. Untimed: it walks every tracked object."""
    return sum(1 for o in gc.get_objects() if type(o) is cls)


def collections():
    """Collections so far per generation, from gc.get_stats()."""
    return [s["collections"] for s in gc.get_stats()]


def collected_total():
    """Objects the collector has reported collected so far, all generations."""
    return sum(s["collected"] for s in gc.get_stats())


def delta(after, before):
    return [a - b for a, b in zip(after, before)]


def pause_summary(pauses_ns):
    """`PauseSummary` in microseconds: nearest-rank percentiles; all 0 when empty."""
    if not pauses_ns:
        return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    s = sorted(pauses_ns)
    n = len(s)

    def rank(p):
        return s[max(1, math.ceil(p / 100.0 * n)) - 1] / 1000.0

    return {"count": n, "p50": rank(50), "p99": rank(99), "max": s[-1] / 1000.0}


def warn(msg):
    print(f"workloads.py: warning: {msg}", file=sys.stderr)


def check(ok, msg):
    if not ok:
        warn(msg)


def rings(nodes, size):
    """`nodes // size` rings of `size` nodes; one handle per ring (as `gc_rings`)."""
    heads = []
    for _ in range(nodes // size):
        first = Node()
        prev = first
        for _ in range(size - 1):
            prev = Node(prev)
        first.next = prev
        heads.append(first)
    return heads


class PauseRecorder:
    """A gc.callbacks entry timing each collection from its "start" to its "stop" call.

    The pause therefore includes the callback overhead itself (building the info dict,
    calling into Python); runs that report a total time measure it without callbacks
    where the job allows it. It also sums info["collected"] over all generations.
    """

    def __init__(self, generation=None, on_stop=None):
        self.generation = generation  # only record pauses of this generation (None: all)
        self.on_stop = on_stop
        self.pauses = []
        self.collected = 0
        self._t0 = 0

    def __call__(self, phase, info):
        if phase == "start":
            self._t0 = perf_counter_ns()
            return
        elapsed = perf_counter_ns() - self._t0
        if self.generation is None or info["generation"] == self.generation:
            self.pauses.append(elapsed)
        self.collected += info["collected"]
        if self.on_stop is not None:
            self.on_stop()

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)
        return False


# ------------------------------------------------------------------------------- jobs


def job_rings(nodes, ring_size):
    gc.disable()
    gc.collect()
    base = census()
    rss0 = rss_bytes()

    t0 = perf_counter_ns()
    heads = rings(nodes, ring_size)
    t1 = perf_counter_ns()
    rss1 = rss_bytes()
    built = census() - base  # untimed

    t2 = perf_counter_ns()
    del heads  # frees the handle list only: every ring keeps its first node alive
    t3 = perf_counter_ns()
    found = gc.collect()
    t4 = perf_counter_ns()

    dropped = built - (census() - base)  # untimed check of what gc.collect() reported
    check(built == nodes, f"built {built} nodes, expected {nodes}")
    check(dropped == nodes, f"dropped {dropped} nodes, expected {nodes}")
    check(found == dropped, f"gc.collect() reported {found}, census says {dropped} gone")
    return {
        "workload": "rings",
        "alloc_ns_per_obj": (t1 - t0) / nodes,
        "drop_ns_per_obj": (t3 - t2) / nodes,
        "collect_ns_per_obj": (t4 - t3) / nodes,
        "dropped": dropped,
        "reported_collected": found,
        "peak_rss_bytes": max(0, rss1 - rss0),
        "python": PYTHON,
    }


def best_ns(reps, f):
    """Best time (on the chosen clock) of `reps` calls of f(); also the sum of f()'s return values."""
    best = None
    total = 0
    for _ in range(reps):
        t0 = perf_counter_ns()
        r = f()
        elapsed = perf_counter_ns() - t0
        total += r
        best = elapsed if best is None else min(best, elapsed)
    return best, total


def job_live(nodes, ring_size, reps):
    gc.disable()  # only the timed gc.collect() calls collect
    gc.collect()
    heads = rings(nodes, ring_size)
    gc.collect()  # warm-up; moves the rings to the oldest generation
    gc.collect()

    full_ns, collected = best_ns(reps, gc.collect)
    # CPython's generation-0 collection (like ours) only traverses generation 0: the
    # live heap sits in generation 2 and is not looked at, so this should cost about the
    # same as the empty case below.
    young_ns, young_found = best_ns(reps, lambda: gc.collect(0))
    live = census()
    check(live == nodes, f"{live} nodes alive, expected {nodes}")

    del heads
    gc.collect()
    young_empty_ns, _ = best_ns(reps, lambda: gc.collect(0))

    check(collected == 0, f"full collections of a live heap collected {collected}")
    check(young_found == 0, f"young collections of a live heap collected {young_found}")
    return {
        "workload": "live",
        "full_collect_ns_per_obj": full_ns / nodes,
        "collected": collected,
        "young_collect_ns": float(young_ns),
        "young_collect_empty_ns": float(young_empty_ns),
        "python": PYTHON,
    }


def make_tree(depth):
    """A complete tree of `depth` levels below the root (`rc_tree`)."""
    if depth == 0:
        return Tree(None, None)
    depth -= 1
    return Tree(make_tree(depth), make_tree(depth))


def check_tree(t):
    """Nodes of a tree (`rc_check`)."""
    left = t.left
    right = t.right
    return (
        1
        + (0 if left is None else check_tree(left))
        + (0 if right is None else check_tree(right))
    )


def binary_trees(max_depth):
    """The Benchmarks-Game program exactly as `rc_binary_trees`; returns the checksum."""
    total = check_tree(make_tree(max_depth + 1))
    long_lived = make_tree(max_depth)
    depth = 4
    while depth <= max_depth:
        iterations = 1 << (max_depth - depth + 4)
        for _ in range(iterations):
            total += check_tree(make_tree(depth))
        depth += 2
    return total + check_tree(long_lived)


def expected_checksum(max_depth):
    """binary_trees()'s checksum from the formula (a tree of depth d has 2**(d+1)-1 nodes)."""
    nodes = lambda d: (1 << (d + 1)) - 1  # noqa: E731
    total = nodes(max_depth + 1) + nodes(max_depth)
    for d in range(4, max_depth + 1, 2):
        total += (1 << (max_depth - d + 4)) * nodes(d)
    return total


def job_trees(depth):
    gc.collect()
    gc.enable()  # automatic collection at its default thresholds
    before = collections()
    t0 = perf_counter_ns()
    checksum = binary_trees(depth)
    t1 = perf_counter_ns()
    after = collections()
    want = expected_checksum(depth)
    check(checksum == want, f"checksum {checksum}, formula gives {want}")
    return {
        "workload": "trees",
        "total_ms": (t1 - t0) / 1e6,
        "checksum": checksum,
        "collections": delta(after, before),
        "python": PYTHON,
    }


def churn_loop(n):
    for _ in range(n):
        a = Node()
        b = Node(a)
        a.next = b
        del a, b  # the cycle is garbage from here on


def churn_run(cycles, enabled, recorder=None):
    """One churn run: (elapsed ns, collections per generation, nodes gone, reported)."""
    gc.disable()
    gc.collect()
    base = census()
    reported0 = collected_total()
    before = collections()
    if enabled:
        gc.enable()
    if recorder is not None:
        gc.callbacks.append(recorder)
    try:
        t0 = perf_counter_ns()
        churn_loop(cycles)
        t1 = perf_counter_ns()
    finally:
        if recorder is not None:
            gc.callbacks.remove(recorder)
        gc.disable()
    after = collections()
    gc.collect()  # untimed: whatever the automatic collections left behind
    reported = collected_total() - reported0
    gone = 2 * cycles - (census() - base)
    gc.enable()
    return t1 - t0, delta(after, before), gone, reported


def job_churn(cycles):
    # Total time without gc.callbacks (they cost a little per collection) ...
    total_ns, colls, gone, reported = churn_run(cycles, enabled=True)
    # ... pauses in a second, otherwise identical run with the callback installed ...
    rec = PauseRecorder()
    _, colls_cb, gone_cb, _ = churn_run(cycles, enabled=True, recorder=rec)
    # ... and the same loop with automatic collection off (2 * cycles objects pile up,
    # freed by one untimed gc.collect() afterwards).
    off_ns, _, gone_off, _ = churn_run(cycles, enabled=False)

    want = 2 * cycles
    check(gone == want, f"{gone} nodes gone, expected {want}")
    check(reported == gone, f"collector reported {reported}, census says {gone} gone")
    check(gone_cb == want and gone_off == want, "callback / gc-off runs leaked nodes")
    check(colls_cb == colls, f"callback run made {colls_cb} collections, plain {colls}")
    return {
        "workload": "churn",
        "total_ms": total_ns / 1e6,
        "dropped": gone,
        "reported_collected": reported,
        "total_ms_gc_off": off_ns / 1e6,
        "collections": colls,
        "pauses_us": pause_summary(rec.pauses),
        "python": PYTHON,
    }


def young_phase(cycles, sample_every):
    """`cycles` 2-node garbage cycles with automatic collection on (the caller enabled
    it), recording generation-0 pauses and sampling outstanding garbage (garbage created
    so far minus objects collected so far) after each collection and every
    `sample_every` cycles. Returns (elapsed ns, collections, recorder, max outstanding).

    Garbage created so far is 2 * (cycles completed). To avoid a counter in the loop,
    the stop callback reads the loop position from the chunk's range iterator
    (length_hint = items not yet handed out). In CPython 3.11 a collection starts only
    at the allocation of a gc-tracked object, and the code between chunks allocates
    none (no tuples: `min(a, b)` would build one, so k is a conditional expression;
    `range`, its iterator, ints and stores into `st` are untracked). So a collection
    always starts inside the loop body, at a Node allocation of cycle `done + j`, when
    exactly 2 * (done + j) objects have become garbage.
    """
    st = {"done": 0, "k": 0, "it": iter(()), "max": 0}

    def sample_in_collection():
        remaining = operator.length_hint(st["it"])
        j = max(st["k"] - remaining - 1, 0)
        out = 2 * (st["done"] + j) - rec.collected
        if out > st["max"]:
            st["max"] = out

    rec = PauseRecorder(generation=0, on_stop=sample_in_collection)
    before = collections()
    gc.callbacks.append(rec)
    try:
        t0 = perf_counter_ns()
        done = 0
        while done < cycles:
            k = sample_every if cycles - done > sample_every else cycles - done
            it = iter(range(k))
            st["done"] = done
            st["k"] = k
            st["it"] = it
            for _ in it:
                a = Node()
                b = Node(a)
                a.next = b
                del a, b
            done += k
            out = 2 * done - rec.collected
            if out > st["max"]:
                st["max"] = out
        t1 = perf_counter_ns()
    finally:
        gc.callbacks.remove(rec)
    return t1 - t0, delta(collections(), before), rec, st["max"]


def job_mixed(old_objects, ring_size, young_cycles, sample_every):
    want = 2 * young_cycles

    # No old heap.
    gc.disable()
    gc.collect()
    gc.enable()
    empty_ns, empty_colls, empty_rec, empty_max = young_phase(young_cycles, sample_every)
    gc.disable()
    left = gc.collect()
    check(empty_rec.collected + left == want,
          f"no-old-heap run: collected {empty_rec.collected} + {left}, created {want}")

    # With an old heap of `old_objects` nodes, built with collection off and then moved
    # to the oldest generation.
    old = rings(old_objects, ring_size)
    gc.collect()
    gc.collect()
    gc.enable()
    total_ns, colls, rec, max_out = young_phase(young_cycles, sample_every)
    gc.disable()
    left = gc.collect()
    check(rec.collected + left == want,
          f"old-heap run: collected {rec.collected} + {left}, created {want}")
    alive = census()
    check(alive == old_objects, f"{alive} nodes alive, expected the {old_objects} old ones")
    del old
    gc.collect()
    gc.enable()

    return {
        "workload": "mixed",
        "young_pauses_us": pause_summary(rec.pauses),
        "young_pauses_empty_us": pause_summary(empty_rec.pauses),
        "max_outstanding_garbage": max_out,
        "collections": colls,
        # Time of the young phase, gc.callbacks and sampling included.
        "total_ms": total_ns / 1e6,
        "max_outstanding_garbage_empty": empty_max,
        "collections_empty": empty_colls,
        "total_ms_empty": empty_ns / 1e6,
        "python": PYTHON,
    }


# -------------------------------------------------------------------------- arguments

# workload -> (function, [(field, minimum)])
JOBS = {
    "rings": (job_rings, [("nodes", 1), ("ring_size", 1)]),
    "live": (job_live, [("nodes", 1), ("ring_size", 1), ("reps", 1)]),
    "trees": (job_trees, [("depth", 0)]),
    "churn": (job_churn, [("cycles", 1)]),
    "mixed": (
        job_mixed,
        [("old_objects", 0), ("ring_size", 1), ("young_cycles", 1), ("sample_every", 1)],
    ),
}


def parse_job(text):
    try:
        job = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"JOB_JSON is not JSON: {e}") from None
    if not isinstance(job, dict):
        raise UsageError("JOB_JSON must be a JSON object")
    name = job.get("workload")
    if name not in JOBS:
        raise UsageError(f"unknown workload {name!r}; expected one of {', '.join(JOBS)}")
    func, fields = JOBS[name]
    unknown = set(job) - {"workload"} - {f for f, _ in fields}
    if unknown:
        raise UsageError(f"{name}: unknown field(s) {', '.join(sorted(unknown))}")
    args = []
    for field, minimum in fields:
        if field not in job:
            raise UsageError(f"{name}: missing field {field!r}")
        v = job[field]
        if type(v) is not int or v < minimum:
            raise UsageError(f"{name}: {field} must be an integer >= {minimum}, got {v!r}")
        args.append(v)
    if name in ("rings", "live") and job["nodes"] % job["ring_size"]:
        raise UsageError(f"{name}: nodes must be a multiple of ring_size")
    if name == "mixed" and job["old_objects"] % job["ring_size"]:
        raise UsageError("mixed: old_objects must be a multiple of ring_size")
    if name == "trees" and job["depth"] > 40:
        raise UsageError("trees: depth above 40 would not fit in memory")
    return func, args


def main(argv):
    global perf_counter_ns, CLOCK
    usage = f"usage: {argv[0]} JOB_JSON [--clock wall|cpu]"
    rest = argv[2:]
    if len(argv) < 2 or rest not in ([], ["--clock", "wall"], ["--clock", "cpu"]):
        raise UsageError(usage)
    if rest == ["--clock", "cpu"]:
        perf_counter_ns = process_cpu_time_ns
        CLOCK = "cpu"
    func, args = parse_job(argv[1])
    result = func(*args)
    result["clock"] = CLOCK
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except UsageError as e:
        print(f"workloads.py: {e}", file=sys.stderr)
        sys.exit(2)
