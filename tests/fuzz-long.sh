#!/bin/bash
# `make fuzz-long`: every libFuzzer target in $BUILD/fuzz for FUZZ_LONG_SECONDS (default 600) each,
# then one table: target, seconds run, executions, exec/s, coverage (cov: edges, ft: features),
# corpus size and findings (crashes, leaks, timeouts, OOMs: the inputs saved in
# $OUT/artifacts). Seeds: tests/fuzz/seeds/NAME plus LUKS1/LUKS2 headers cryptsetup makes now.
#
#   FUZZ_LONG_SECONDS=120 FUZZ_LONG_JOBS=2 tests/fuzz-long.sh [NAME_fuzz...]
#
# FUZZ_LONG_JOBS targets run at a time (default 1). The corpora grow in $OUT/corpus/NAME (OUT
# defaults to $BUILD/fuzz-long) and are kept, so a second run starts where the first ended.
# The table is also written to $OUT/table.md. Exit status 1 if any target had a finding.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="${BUILD:-build}"
SECONDS_EACH="${FUZZ_LONG_SECONDS:-600}"
JOBS="${FUZZ_LONG_JOBS:-1}"
OUT="${OUT:-$ROOT/$BUILD/fuzz-long}"
mkdir -p "$OUT/artifacts" "$OUT/logs" "$OUT/corpus"

if (($# > 0)); then
    bins=()
    for n in "$@"; do bins+=("$ROOT/$BUILD/fuzz/$n"); done
else
    shopt -s nullglob
    bins=("$ROOT/$BUILD/fuzz/"*_fuzz)
fi
((${#bins[@]} > 0)) || { echo "no fuzzers in $BUILD/fuzz (make fuzz)"; exit 1; }

# Common LUKS seeds (the header parsers); cheap KDFs.
seeds="$OUT/luks-seeds"
if [[ ! -d "$seeds" ]]; then
    tmp="$(mktemp -d)"
    (
        set -e
        cd "$tmp"
        printf 'seed' >pw
        truncate -s 4M l1.img l2.img
        cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file pw l1.img
        cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
            --key-file pw --luks2-metadata-size 16k --luks2-keyslots-size 512k l2.img
        mkdir -p "$seeds"
        head -c 65536 l1.img >"$seeds/luks1.bin"
        head -c 32768 l2.img >"$seeds/luks2-hdr.bin"
        cryptsetup luksDump --dump-json-metadata l2.img >"$seeds/luks2.json"
    ) >"$OUT/logs/seeds.log" 2>&1 || { echo "cannot make seeds: see $OUT/logs/seeds.log"; exit 1; }
    rm -rf "$tmp"
fi

run_one() {
    local bin="$1" name corpus
    name="$(basename "$bin")"
    corpus="$OUT/corpus/$name"
    mkdir -p "$corpus"
    cp -n "$seeds"/* "$corpus"/ 2>/dev/null
    [[ -d "$ROOT/tests/fuzz/seeds/$name" ]] && cp -n "$ROOT/tests/fuzz/seeds/$name"/* "$corpus"/
    local start=$SECONDS
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$name-" "$corpus" >"$OUT/logs/$name.log" 2>&1
    echo "rc=$? seconds=$((SECONDS - start))" >>"$OUT/logs/$name.log"
}

touch "$OUT/.start"
running=0
for bin in "${bins[@]}"; do
    [[ -x "$bin" ]] || { echo "missing $bin"; exit 1; }
    echo "fuzzing $(basename "$bin") for ${SECONDS_EACH}s" >&2
    run_one "$bin" &
    running=$((running + 1))
    if ((running >= JOBS)); then
        wait -n
        running=$((running - 1))
    fi
done
wait

findings_total=0
{
    printf '| target | seconds | execs | exec/s | cov | ft | corpus | findings |\n'
    printf '|---|---:|---:|---:|---:|---:|---:|---|\n'
    for bin in "${bins[@]}"; do
        name="$(basename "$bin")"
        log="$OUT/logs/$name.log"
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
        cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
        ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
        corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
        secs=$(sed -n 's/^rc=[0-9]* seconds=//p' "$log")
        rc=$(sed -n 's/^rc=\([0-9]*\).*/\1/p' "$log")
        n=$(find "$OUT/artifacts" -name "$name-*" -newer "$OUT/.start" | wc -l)
        found="none"
        if [[ "$rc" != 0 || "$n" != 0 ]]; then
            found="$n saved (exit $rc): $(find "$OUT/artifacts" -name "$name-*" -newer "$OUT/.start" -printf '%f ' | head -c 200)"
            findings_total=$((findings_total + 1))
        fi
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "${secs:-?}" "${execs:-?}" \
            "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$found"
    done
} >"$OUT/table.md"
cat "$OUT/table.md"
((findings_total == 0))
