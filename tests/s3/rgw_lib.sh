# Sourced by the S3 integration scripts after tests/lib.sh: starts a throw-away radosgw
# (tests/s3/ceph-up.sh) on free ports, exports S3_ENDPOINT and the AWS_* credentials, and stops
# it from the EXIT trap. Defines s3 (tests/s3/s3req.py), curl_get BUCKET KEY FILE (an independent
# download with curl's own SigV4) and EP=(--s3-endpoint URL).
S3DIR="$TESTS_DIR/s3"
for b in radosgw ceph-mon ceph-osd curl; do
    command -v "$b" >/dev/null || fail "$b not installed (run make deps)"
done
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export D="$WORK/ceph" PORT MON_PORT STORE="${STORE:-memstore}"
PORT=$(free_port)
MON_PORT=$(free_port)
export AWS_ACCESS_KEY_ID=ciaccesskey AWS_SECRET_ACCESS_KEY=cisecretkey0123456789 AWS_REGION=us-east-1
export AK=$AWS_ACCESS_KEY_ID SK=$AWS_SECRET_ACCESS_KEY
export S3_ENDPOINT="http://127.0.0.1:$PORT"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SHARED_CREDENTIALS_FILE
rgw_cleanup() {
    local rc=$? mnt
    set +e
    for mnt in "${_MOUNTS[@]+"${_MOUNTS[@]}"}"; do
        _is_mounted "$mnt" && fusermount3 -u "$mnt" 2>/dev/null
    done
    "$S3DIR/ceph-down.sh" >/dev/null 2>&1
    (exit $rc)
    _cleanup
}
trap rgw_cleanup EXIT
s3() { "$PY" "$S3DIR/s3req.py" "$@"; }
curl_get() {
    curl -sSf --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AK:$SK" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        -o "$3" "$S3_ENDPOINT/$1/$2"
}
EP=(--s3-endpoint "$S3_ENDPOINT")
log "starting radosgw (mon $MON_PORT, rgw $PORT)"
_t0=$SECONDS
# Retries: a start-up on a loaded machine sometimes fails with an OSD "wrong fsid" (the memstore
# OSD found no fsid after its mkfs); the retries use bluestore.
for _try in 1 2 3 4; do
    "$S3DIR/ceph-up.sh" >"$WORK/ceph-up.log" 2>&1 && break
    "$S3DIR/ceph-down.sh" >/dev/null 2>&1
    ((_try < 4)) || fail "ceph-up.sh failed 4 times: $(tail -5 "$WORK/ceph-up.log")"
    log "ceph-up.sh failed ($(grep -m1 -o "wrong fsid\|[Ee]rror.*" "$WORK/ceph-up.log")); retrying"
    MON_PORT=$(free_port)
    STORE=bluestore   # memstore has been seen to fail to persist its mkfs here
done
log "radosgw up in $((SECONDS - _t0)) s"
