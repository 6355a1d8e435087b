#!/bin/bash
# A growing S3 object (qcow2 on S3 allocates clusters past the end): S3Storage against radosgw,
# driven by the S3StorageGrow gtest in build/tests/fs_test (writes past the end, commits as a
# single PUT, then across the multipart threshold, then with old parts UploadPartCopy'd). The
# object is then downloaded with curl and compared with the bytes the writes must have produced,
# computed here in Python from the documented write plan. A second gtest checks that random
# reads start no read-ahead (one GET each) and a sequential run does.
source "$(dirname "$0")/../lib.sh"
FS_TEST="${FS_TEST:-$REPO_ROOT/build/tests/fs_test}"
[[ -x "$FS_TEST" ]] || fail "$FS_TEST not built (make build/tests/fs_test)"
cd "$WORK"
source "$TESTS_DIR/s3/rgw_lib.sh"
s3 mb images
head -c $((3 * MiB)) /dev/urandom >base.bin
s3 put images grow/obj base.bin
LUKSFS_TEST_S3_URI=s3://images/grow/obj LUKSFS_TEST_CACHE_DIR="$WORK" \
    "$FS_TEST" --gtest_filter='S3StorageGrow.*' >gtest.out 2>&1 || fail "gtest: $(tail -30 gtest.out)"
grep -q '\[  PASSED  \] 2 tests' gtest.out || fail "the grow test did not run: $(tail -5 gtest.out)"
grep -q SKIPPED gtest.out && fail "the grow test was skipped"
curl_get images grow/obj got.bin || fail "curl download failed"
"$PY" - base.bin expect.bin <<'PYEOF'
import sys
M = 1 << 20
buf = bytearray(open(sys.argv[1], "rb").read())
def write(off, n, step):
    if len(buf) < off + n: buf.extend(bytes(off + n - len(buf)))
    buf[off:off + n] = bytes(((o * 131 + step * 17 + (o >> 12)) & 0xff) for o in range(off, off + n))
write(4 * M, 100 * 1024, 1)
write(20 * M - 64 * 1024, 64 * 1024, 2)
write(30 * M, M, 3)
write(2 * M - 100, 5000, 4)
open(sys.argv[2], "wb").write(buf)
PYEOF
assert_eq $((31 * MiB)) "$(stat -c %s got.bin)" "grown object size"
assert_files_eq expect.bin got.bin "grown object (curl) vs expected"
etag=$(s3 head images grow/obj | cut -d' ' -f2)
[[ "$etag" == *-4* ]] || fail "final commit was not a 4-part multipart upload (ETag $etag)"
pass
