# The KMS flow of luksfs end to end, for any KMS. Source it after
# tests/lib.sh; call kms_e2e URI [KMS options...].
#
#   bind an image (LUKS2, known plaintext) to the key -> cryptsetup still
#   accepts the old secret and the new keyslot -> mount with no secret: the
#   view equals the independent oracle -> the daemon's memory holds the
#   volume key (positive control) -> revoke the key in the KMS: within the
#   poll interval plus 1 s reads fail, and the daemon's memory holds no copy
#   of the volume key, the passphrase, or plaintext it served (each found
#   there before the revocation, as a control) -> destroy the key: a new mount is
#   refused with exit 5 and a clear message.

KMS_POLL=2

kms_e2e() {
    local uri="$1"
    shift
    local opts=("$@") img="$WORK/e2e.img" pw="$WORK/e2e.pw" plain="$WORK/e2e.plain"
    write_secret "$pw" "e2e old passphrase"
    truncate -s 24M "$img"
    cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" --key-file "$pw" "$img" \
        || fail "luksFormat failed"
    dump_vk "$img" "$pw" "$WORK/e2e.vk"
    pattern_file "$plain" $((8 * MiB)) 42
    oracle_write "$img" "$WORK/e2e.vk" 0 "$plain"

    log "bind to $uri"
    assert_exit 0 "$LUKSFS" bind "$img" --kms "$uri" --key-file "$pw" "${opts[@]}" \
        --audit-log "$WORK/audit.log"
    grep -q "bound to" "$WORK/last.out" || fail "bind printed: $(cat "$WORK/last.out")"
    cryptsetup open --test-passphrase --key-file "$pw" "$img" || fail "old secret no longer opens"
    cryptsetup token export --token-id 0 "$img" >"$WORK/token.json" || fail "no token 0"
    local slot wrapped
    slot=$("$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); assert t["type"]=="luksfs-kms"; print(t["keyslots"][0])' "$WORK/token.json") \
        || fail "token is not a luksfs-kms token: $(cat "$WORK/token.json")"
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["wrapped"])' "$WORK/token.json" >"$WORK/wdek"
    assert_exit 0 "$LUKSFS" unwrap --kms "$uri" --in "$WORK/wdek" --out "$WORK/generated.pw" "${opts[@]}"
    cryptsetup open --test-passphrase --key-file "$WORK/generated.pw" --key-slot "$slot" "$img" \
        || fail "cryptsetup refuses the generated passphrase for keyslot $slot"
    log "cryptsetup opens keyslot $slot with the unwrapped passphrase"

    local mnt
    mnt="$(new_mountpoint e2e-mnt)"
    mount_view "$img" "$mnt" --kms-poll "$KMS_POLL" "${opts[@]}" --audit-log "$WORK/audit.log"
    oracle_decrypt "$img" "$WORK/e2e.vk" "$WORK/e2e.oracle"
    assert_files_eq "$WORK/e2e.oracle" "$(view_file "$mnt")" "view vs oracle after KMS unlock"
    head -c $((8 * MiB)) "$(view_file "$mnt")" | cmp -s - "$plain" || fail "view lost the known plaintext"
    log "mounted with no secret; view equals the oracle"

    local pid
    pid="$(daemon_pid "$mnt")"
    [[ -n "$pid" ]] || fail "no daemon pid"
    set +e
    "$PY" "$REPO_ROOT/tests/kms/memscan.py" "$pid" "$WORK/e2e.vk" >"$WORK/scan0.out"
    local rc=$?
    set -e
    ((rc == 1)) || fail "positive control: the volume key should be in the live daemon's memory: $(cat "$WORK/scan0.out")"
    # Plaintext too: drop the kernel's cached pages, read a region through the
    # daemon, and take 64 bytes of its known plaintext as a needle.
    sync
    echo 3 >/proc/sys/vm/drop_caches
    dd if="$(view_file "$mnt")" of=/dev/null bs=65536 skip=37 count=1 status=none
    dd if="$plain" of="$WORK/plain.needle" bs=1 skip=$((37 * 65536 + 1000)) count=64 status=none
    set +e
    "$PY" "$REPO_ROOT/tests/kms/memscan.py" "$pid" "$WORK/plain.needle" >"$WORK/scanp.out"
    rc=$?
    set -e
    ((rc == 1)) || fail "positive control: freshly read plaintext should be in the daemon's memory: $(cat "$WORK/scanp.out")"

    log "revoke the key in the KMS"
    assert_exit 0 "$LUKSFS" kms revoke "$uri" "${opts[@]}"
    local t0=$SECONDS deadline=$((KMS_POLL + 1)) dark=0
    local start_ns end_ns
    start_ns=$(date +%s%N)
    while (( $(date +%s%N) - start_ns < (deadline * 1000000000) )); do
        # Re-read the needle's region: the last plaintext served before the
        # revocation is then exactly what the scan below looks for.
        if ! dd if="$(view_file "$mnt")" of=/dev/null bs=65536 skip=37 count=1 iflag=direct status=none 2>/dev/null; then
            dark=1
            break
        fi
        sleep 0.1
    done
    end_ns=$(date +%s%N)
    ((dark == 1)) || fail "reads still served $deadline s after the revocation"
    log "reads fail $(( (end_ns - start_ns) / 1000000 )) ms after the revocation (limit ${deadline} s)"
    cat "$(view_file "$mnt")" >/dev/null 2>&1 && fail "buffered read after revocation succeeded (page cache?)"
    sleep 0.3
    set +e
    "$PY" "$REPO_ROOT/tests/kms/memscan.py" "$pid" "$WORK/e2e.vk" "$WORK/generated.pw" \
        "$WORK/plain.needle" >"$WORK/scan1.out"
    rc=$?
    set -e
    cat "$WORK/scan1.out"
    ((rc == 0)) || fail "key material or plaintext left in the daemon's memory after revocation"
    grep -q '"event":"revocation_seen"' "$WORK/audit.log" || fail "no revocation_seen audit line"
    grep -q '"event":"keys_dropped"' "$WORK/audit.log" || fail "no keys_dropped audit line"
    grep -qF "$(cat "$WORK/generated.pw")" "$WORK/audit.log" && fail "the passphrase is in the audit log"
    umount_view "$mnt"
    ((SECONDS - t0 < 60)) || fail "revocation flow too slow"

    log "destroy the key: a new mount is refused with exit 5"
    assert_exit 0 "$LUKSFS" kms destroy "$uri" "${opts[@]}"
    local mnt2
    mnt2="$(new_mountpoint e2e-mnt2)"
    local before
    before="$(sha256 "$img")"
    assert_exit 5 "$LUKSFS" mount "$img" "$mnt2" "${opts[@]}"
    [[ "$(wc -l <"$WORK/last.err")" == 1 ]] || fail "want one error line, got: $(cat "$WORK/last.err")"
    grep -qiE "destroy|not found|no such key|revoked" "$WORK/last.err" \
        || fail "unclear message: $(cat "$WORK/last.err")"
    log "refused: $(cat "$WORK/last.err")"
    assert_eq "$before" "$(sha256 "$img")" "image changed by a refused mount"
}
