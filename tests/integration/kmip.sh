#!/bin/bash
# The KMIP driver against a real PyKMIP server: starts one (tests/kms/pykmip-up.sh) with fresh
# certificates, runs the PyKmip* gtest cases of build/tests/kms_test (kms-client/kmip_pykmip_test.cc)
# with LUKSFS_TEST_KMIP_DIR set, and fails if any case failed or was skipped, or none ran.
source "$(dirname "$0")/../lib.sh"

KMS_TEST="${KMS_TEST:-$REPO_ROOT/build/tests/kms_test}"
[[ -x "$KMS_TEST" ]] || fail "$KMS_TEST missing: run 'make build/tests/kms_test' first"
[[ -x /usr/bin/pykmip-server ]] || fail "pykmip-server missing: install python3-pykmip (make deps)"

KDIR="$WORK/pykmip"
"$REPO_ROOT/tests/kms/pykmip-up.sh" "$KDIR" || fail "PyKMIP server did not start"
register_cleanup "\"$REPO_ROOT/tests/kms/pykmip-down.sh\" \"$KDIR\""   # the EXIT trap stops it on any failure

set +e
LUKSFS_TEST_KMIP_DIR="$KDIR" timeout 240 "$KMS_TEST" --gtest_filter='PyKmip*' --gtest_color=no \
    >"$WORK/gtest.out" 2>&1
rc=$?
set -e
cat "$WORK/gtest.out"
"$REPO_ROOT/tests/kms/pykmip-down.sh" "$KDIR"

ran=$(sed -n 's/^\[==========\] \([0-9]*\) tests\{0,1\} from .* ran\..*/\1/p' "$WORK/gtest.out")
passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p' "$WORK/gtest.out")
skipped=$(grep -c '^\[  SKIPPED \] PyKmip' "$WORK/gtest.out" || true)
((rc == 0)) || fail "kms_test exited $rc"
[[ -n "$ran" && "$ran" -gt 0 ]] || fail "no PyKmip test ran"
((skipped == 0)) || fail "$skipped PyKmip test(s) were skipped"
[[ "$passed" == "$ran" ]] || fail "only ${passed:-0} of $ran PyKmip tests passed"
log "$passed PyKmip tests passed against PyKMIP"
pass
