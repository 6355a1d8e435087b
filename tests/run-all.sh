#!/bin/bash
# The `make check` runner.
#
#   tests/run-all.sh [UNIT_TEST_BINARY...]
#
# Runs, one test each: every unit-test binary given as an argument (gtest), tests/check-layering.sh,
# every libFuzzer binary build/fuzz/*_fuzz for FUZZ_SECONDS (default 10) over a seed corpus made now
# with cryptsetup (LUKS1/LUKS2 headers), and every tests/integration/*.sh (under `timeout 300`).
# Each prints "PASS name (Ns)" or "FAIL name (Ns)" plus the tail of its log on failure; logs are
# kept in $TEST_LOG_DIR (default build/test-logs). The last line is "N passed, N failed"; the exit
# status is non-zero if anything failed or nothing ran.
#
# The FUSE integration scripts run a second time over FUSE-over-io_uring (LUKSFS_IO_URING=on,
# with the fuse module's enable_uring switched on for that pass) where the kernel has it.
# crypto_test runs twice: as is, and with LUKSFS_XTS=portable (the non-VAES XTS path).
# Last, asan/NAME: a subset of the integration scripts against build/luksfs-asan (ASan, UBSan,
# LSan), if it is built; any sanitizer report fails it.
# Environment: ONLY=REGEX runs only tests whose name matches; FUZZ_SECONDS=0 skips fuzzing;
# LUKSFS=path overrides build/luksfs for the integration scripts.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOG_DIR="${TEST_LOG_DIR:-$ROOT/build/test-logs}"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
ONLY="${ONLY:-}"
mkdir -p "$LOG_DIR"
passed=0
failed=0

selected() { [[ -z "$ONLY" || "$1" =~ $ONLY ]]; }

# run_test NAME CMD...: run one test with its output in $LOG_DIR/NAME.log
run_test() {
    local name="$1"
    shift
    selected "$name" || return 0
    local log="$LOG_DIR/${name//\//_}.log" start=$SECONDS rc
    "$@" </dev/null >"$log" 2>&1
    rc=$?
    local took=$((SECONDS - start))
    if ((rc == 0)); then
        printf 'PASS %s (%ss)\n' "$name" "$took"
        passed=$((passed + 1))
    else
        printf 'FAIL %s (%ss)\n' "$name" "$took"
        failed=$((failed + 1))
        if [[ "$name" == unit/* ]]; then
            grep -E '^\[  FAILED  \]|Failure|error:' "$log" | head -20 | sed 's/^/    /'
        fi
        ((rc == 124)) && echo "    (timed out)"
        tail -n 25 "$log" | sed 's/^/    | /'
        echo "    full log: $log"
    fi
}

# --- unit tests ----------------------------------------------------------------------------------
run_unit() {
    local bin="$1"
    [[ -x "$bin" ]] || { echo "unit test binary $bin missing (build failed?)"; return 1; }
    "$bin" --gtest_color=no
}
for bin in "$@"; do
    run_test "unit/$(basename "$bin")" run_unit "$bin"
    # The crypto tests once more on the portable XTS path (XtsBatch and OpenSSL), which CPUs
    # without VAES/AVX-512 run: on this CPU the default run exercises the VAES kernel.
    if [[ "$(basename "$bin")" == crypto_test ]]; then
        run_test "unit/crypto_test-portable-xts" env LUKSFS_XTS=portable "$bin" --gtest_color=no
    fi
done

# --- layering ------------------------------------------------------------------------------------
run_test check-layering "$ROOT/tests/check-layering.sh"

# --- fuzzers -------------------------------------------------------------------------------------
# make_seed_corpus DIR: LUKS1/LUKS2 headers made by cryptsetup (cheap KDFs), LUKS2 JSON areas, and
# a qemu-img LUKS1 header.
make_seed_corpus() {
    local dir="$1" tmp
    tmp="$(mktemp -d)"
    mkdir -p "$dir"
    (
        set -e
        cd "$tmp"
        printf 'seed' >pw
        truncate -s 4M l1.img l1e.img l2.img l2e.img l2s.img
        cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file pw l1.img
        cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file pw \
            --cipher aes-cbc-essiv:sha256 --key-size 256 --hash sha1 l1e.img
        cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file pw \
            --luks2-metadata-size 16k --luks2-keyslots-size 512k l2.img
        cryptsetup luksFormat -q --type luks2 --pbkdf argon2id --pbkdf-force-iterations 4 --pbkdf-memory 32768 \
            --pbkdf-parallel 2 --key-file pw --cipher aes-cbc-essiv:sha256 --key-size 256 \
            --luks2-metadata-size 16k --luks2-keyslots-size 512k --label seed l2e.img
        cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file pw \
            --luks2-metadata-size 16k --luks2-keyslots-size 512k l2s.img
        cryptsetup luksAddKey -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file pw l2s.img pw
        head -c 65536 l1.img >"$dir/luks1-xts.bin"
        head -c 65536 l1e.img >"$dir/luks1-essiv.bin"
        head -c 32768 l2.img >"$dir/luks2-hdr.bin"
        head -c 1048576 l2.img >"$dir/luks2-1m.bin"
        head -c 32768 l2e.img >"$dir/luks2-argon2-hdr.bin"
        head -c 32768 l2s.img >"$dir/luks2-2slots-hdr.bin"
        for f in l2 l2e l2s; do
            cryptsetup luksDump --dump-json-metadata "$f.img" >"$dir/json-$f.json"
        done
        for _ in 1 2 3 4 5 6; do  # qemu's PBKDF2 benchmark sometimes fails: "Unable to get accurate CPU usage"
            qemu-img create -q -f luks --object secret,id=s,file=pw -o key-secret=s,iter-time=10 q.img 1M && break
        done
        head -c 65536 q.img >"$dir/qemu-luks1.bin"
        # partition tables (partition_table_fuzz): a small GPT and MBR disk made by sfdisk
        truncate -s 64K "$dir/gpt-disk.bin" "$dir/mbr-disk.bin"
        printf 'label: gpt\nstart=40, size=40\nstart=80, size=20\n' | sfdisk -q "$dir/gpt-disk.bin"
        printf 'label: dos\nstart=1, size=60\n' | sfdisk -q "$dir/mbr-disk.bin"
        # qcow2 seeds for qcow2_fuzz (plaintext qcow2: no PBKDF2 benchmark, small files).
        qemu-img create -q -f qcow2 -o cluster_size=512 qc.qcow2 1M
        qemu-io -c 'write -P 1 0 4k' -c 'write -z 8k 1k' -c 'write -P 2 500k 3k' qc.qcow2 >/dev/null
        qemu-img create -q -f qcow2 -o cluster_size=16k,extended_l2=on qx.qcow2 4M
        qemu-io -c 'write -P 1 0 6k' -c 'write -z 64k 4k' qx.qcow2 >/dev/null
        cp qc.qcow2 "$dir/qcow2-512.bin"
        cp qx.qcow2 "$dir/qcow2-extl2.bin"
    ) >"$LOG_DIR/fuzz-seeds.log" 2>&1
    local rc=$?
    rm -rf "$tmp"
    return $rc
}

# run_fuzzer BIN CORPUS: fuzz for FUZZ_SECONDS from a fixed seed. It fails only on a finding (a
# crash, a sanitizer report, a leak, an out-of-memory or a hang of FUZZ_TIMEOUT seconds, generous
# because 8 jobs may share 2 cores); the input that caused it is saved as
# $LOG_DIR/fuzz-artifacts/NAME-crash-<sha1> (or leak-, oom-, timeout-) and named in the log.
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-60}"
run_fuzzer() {
    local bin="$1" corpus="$2" name rc
    name="$(basename "$bin")"
    mkdir -p "$LOG_DIR/fuzz-artifacts"
    "$bin" -seed=1 -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$LOG_DIR/fuzz-artifacts/$name-" "$corpus"
    rc=$?
    ((rc == 0)) && return 0
    echo "FINDING (exit $rc): artifacts:"
    ls -l "$LOG_DIR/fuzz-artifacts/" | grep -F "$name-" || echo "    (none written)"
    return "$rc"
}

shopt -s nullglob
fuzzers=("$ROOT"/build/fuzz/*_fuzz)
if ((FUZZ_SECONDS > 0 && ${#fuzzers[@]} > 0)); then
    seeds="$(mktemp -d)"
    if make_seed_corpus "$seeds/seeds"; then
        for bin in "${fuzzers[@]}"; do
            name="fuzz/$(basename "$bin")"
            selected "$name" || continue
            corpus="$seeds/$(basename "$bin")"
            cp -r "$seeds/seeds" "$corpus"
            # Small committed seeds for the parsers that do not read LUKS headers.
            if [[ -d "$ROOT/tests/fuzz/seeds/$(basename "$bin")" ]]; then
                cp "$ROOT/tests/fuzz/seeds/$(basename "$bin")"/* "$corpus"/
            fi
            run_test "$name" run_fuzzer "$bin" "$corpus"
        done
    else
        printf 'FAIL fuzz-seed-corpus (0s)\n'
        tail -n 10 "$LOG_DIR/fuzz-seeds.log" | sed 's/^/    | /'
        failed=$((failed + 1))
    fi
    rm -rf "$seeds"
fi

# --- integration ---------------------------------------------------------------------------------
for script in "$ROOT"/tests/integration/*.sh; do
    run_test "integration/$(basename "$script" .sh)" timeout -k 10 300 "$script"
done

# --- the FUSE tests again over FUSE-over-io_uring ------------------------------------------------
# Linux 6.14+ carries FUSE requests through io_uring when the fuse module's enable_uring is on. As
# root, switch it on for this pass only (and put it back), and run the scripts that mount and do
# I/O with LUKSFS_IO_URING=on, so luksfs must serve through the rings or fail to mount.
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_SCRIPTS=(luks1 luks2 writes concurrency mount_semantics kms_keystore kms_kmip_e2e)
if [[ -w "$URING_PARAM" ]]; then
    uring_before="$(cat "$URING_PARAM")"
    echo Y >"$URING_PARAM"
    for s in "${URING_SCRIPTS[@]}"; do
        [[ -x "$ROOT/tests/integration/$s.sh" ]] || continue
        run_test "integration-io_uring/$s" env LUKSFS_IO_URING=on \
            timeout -k 10 300 "$ROOT/tests/integration/$s.sh"
    done
    echo "$uring_before" >"$URING_PARAM"
else
    echo "SKIP integration-io_uring: $URING_PARAM is not writable (not root, or a kernel before 6.14)"
fi

# --- sanitizers ----------------------------------------------------------------------------------
# A representative subset of the integration scripts again, against luksfs built with
# ASan+UBSan (`make build/luksfs-asan`, which `make check` does: clang, the fuzz build's objects):
# mount semantics, concurrent fio verify, writes, the keystore KMS flow with revocation, and an S3
# image growing on radosgw. Reports go to
# $LOG_DIR/sanitizers/NAME/ (log_path, so the daemon's reports are caught too), LeakSanitizer
# checks at every exit, and any report fails the test even when the script passed.
# Environment: ASAN_LUKSFS=path (default build/luksfs-asan; missing: skipped with a note),
# ASAN_TESTS="script ..." to change the subset.
ASAN_LUKSFS="${ASAN_LUKSFS:-$ROOT/build/luksfs-asan}"
ASAN_TESTS="${ASAN_TESTS:-mount_semantics fio_verify writes kms_keystore s3_grow}"
run_sanitized() {
    local script="$1" dir="$LOG_DIR/sanitizers/$1" rc
    rm -rf "$dir"
    mkdir -p "$dir"
    LUKSFS="$ASAN_LUKSFS" \
        ASAN_OPTIONS="detect_leaks=1:log_path=$dir/asan:exitcode=86:detect_stack_use_after_return=0" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$dir/ubsan:exitcode=86" \
        timeout -k 10 600 "$ROOT/tests/integration/$script.sh"
    rc=$?
    if compgen -G "$dir/*" >/dev/null; then
        echo "SANITIZER REPORTS in $dir:"
        head -n 60 "$dir"/* 
        return 1
    fi
    return "$rc"
}
if [[ -x "$ASAN_LUKSFS" ]]; then
    for t in $ASAN_TESTS; do
        run_test "asan/$t" run_sanitized "$t"
    done
elif [[ -z "$ONLY" || "asan/" =~ $ONLY ]]; then
    echo "note: $ASAN_LUKSFS not built: sanitizer runs skipped (make build/luksfs-asan)"
fi

total=$((passed + failed))
printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0 && total > 0))
