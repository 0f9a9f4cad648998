#!/usr/bin/env bash
# Runs every fuzz target in fuzz/fuzz_targets for SECONDS seconds each (default 60)
# with cargo-fuzz on nightly, prints the number of executions per target, and exits
# non-zero if any target crashed (or failed to build).
#
#   bash fuzz/run.sh [SECONDS]
#
# Installs cargo-fuzz (`cargo install cargo-fuzz --locked`) if it is missing.
# Full libFuzzer logs go to fuzz/target/run-logs/<target>.log; crash inputs to
# fuzz/artifacts/<target>/. The committed seed corpus fuzz/seeds/<target>/ and the
# dictionary fuzz/<target>.dict are used when present.
#
# FUZZ_SEED=N fixes libFuzzer's random seed (-seed=N), so that a run explores the same
# inputs every time on the same code: CI uses it, so that its short runs are a repeatable
# regression check; long campaigns leave it unset.
set -uo pipefail

secs="${1:-60}"
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS]   (SECONDS must be a positive integer, got '$secs')" >&2
    exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")" || exit 2

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "run.sh: the nightly toolchain is required (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz ..." >&2
    cargo install cargo-fuzz --locked || exit 2
fi

shopt -s nullglob
targets=()
for f in fuzz_targets/*.rs; do
    t="$(basename "$f" .rs)"
    targets+=("$t")
done
if [ "${#targets[@]}" -eq 0 ]; then
    echo "run.sh: no fuzz targets in $(pwd)/fuzz_targets" >&2
    exit 2
fi

logdir="target/run-logs"
mkdir -p "$logdir"
failed=()
summary=()
for t in "${targets[@]}"; do
    log="$logdir/$t.log"
    mkdir -p "corpus/$t"
    echo "== fuzzing $t for ${secs}s (log: fuzz/$log)" >&2
    dict=()
    if [ -f "$t.dict" ]; then
        dict=(-dict="$t.dict")
    fi
    # The live corpus (corpus/<t>, not committed) grows; the committed seeds (seeds/<t>)
    # are read as extra inputs.
    dirs=("corpus/$t")
    if [ -d "seeds/$t" ]; then
        dirs+=("seeds/$t")
    fi
    # -a: debug assertions on (gc-core's debug checks catch double and foreign frees).
    seed=()
    if [ -n "${FUZZ_SEED:-}" ]; then
        seed=(-seed="$FUZZ_SEED")
    fi
    cargo +nightly fuzz run -a "$t" "${dirs[@]}" -- \
        -max_total_time="$secs" -print_final_stats=1 "${dict[@]}" "${seed[@]}" >"$log" 2>&1
    status=$?

    execs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+$')"
    if [ -z "$execs" ]; then
        execs="$(grep -Eo '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 | grep -Eo '[0-9]+' | head -n 1)"
    fi
    execs="${execs:-unknown}"

    crashed=0
    if [ "$status" -ne 0 ] || grep -Eq '^==[0-9]+== ?ERROR|^SUMMARY: libFuzzer|panicked at' "$log"; then
        crashed=1
    fi
    if [ "$crashed" -eq 1 ]; then
        failed+=("$t")
        summary+=("$(printf '%-20s %14s executions   CRASHED (exit %s)' "$t" "$execs" "$status")")
        echo "---- last 40 lines of fuzz/$log ----" >&2
        tail -n 40 "$log" >&2
        echo "----" >&2
    else
        summary+=("$(printf '%-20s %14s executions   ok' "$t" "$execs")")
    fi
done

echo
echo "fuzz summary (${secs}s per target):"
for line in "${summary[@]}"; do
    echo "  $line"
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]} (crash inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "all ${#targets[@]} target(s) ran without crashing"
