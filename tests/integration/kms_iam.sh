#!/bin/bash
# Key Protect with an IBM Cloud IAM API key, against the stand-in
# (tests/kms/rest_kms_server.py) that follows the published IAM token API and
# issues tokens that expire after 3 s (Key Protect then answers 401):
#   bind and mount with --kms-api-key-file; the mount polls every second with
#   a 2 s grace period and must keep serving the oracle's plaintext for 12 s,
#   across several token refreshes inside the daemon; a wrong API key is
#   refused (exit 5, "API key refused"); IAM refusing the key under a live
#   mount counts as unreachable, not revoked (kms_unreachable, keys kept,
#   service resumes when IAM accepts it again); after a root key rotation,
#   `luksfs rewrap` uses Key Protect's rewrap action; disabling the key
#   (suspended) makes the mount go dark.
source "$(dirname "$0")/../lib.sh"
need_luksfs

API_KEY="test-service-id-api-key-$$"
LIFE=3
"$PY" "$REPO_ROOT/tests/kms/rest_kms_server.py" --port-file "$WORK/port" --kp-token "" \
    --iam-api-key "$API_KEY" --iam-token-lifetime "$LIFE" --iam-log "$WORK/iam.log" \
    --iam-refuse-file "$WORK/iam-refuses" \
    --seed kp:root1 >"$WORK/server.out" 2>&1 &
SERVER_PID=$!
register_cleanup "kill $SERVER_PID 2>/dev/null || true"
for _ in $(seq 1 100); do [[ -s "$WORK/port" ]] && break; sleep 0.1; done
[[ -s "$WORK/port" ]] || fail "stand-in did not start: $(cat "$WORK/server.out")"
BASE="127.0.0.1:$(cat "$WORK/port")"
printf '%s\n' "$API_KEY" >"$WORK/apikey"
chmod 600 "$WORK/apikey"
URI="kp+http://$BASE/root1"
OPTS=(--kms-instance kp-test-instance --kms-api-key-file "$WORK/apikey" --iam-endpoint "http://$BASE")

# kp_admin ACTION: an IAM exchange and a Key Protect action, as an operator would.
kp_admin() {
    "$PY" - "$BASE" "$API_KEY" "$1" <<'EOF'
import json, sys, urllib.request
base, key, action = sys.argv[1:]
tok = json.load(urllib.request.urlopen(urllib.request.Request(
    "http://%s/identity/token" % base,
    data=("grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=" + key).encode(),
    headers={"content-type": "application/x-www-form-urlencoded"})))["access_token"]
urllib.request.urlopen(urllib.request.Request(
    "http://%s/api/v2/keys/root1/actions/%s" % (base, action), data=b"{}",
    headers={"authorization": "Bearer " + tok, "bluemix-instance": "kp-test-instance",
             "content-type": "application/vnd.ibm.kms.key_action+json"}))
EOF
}

log "control: a stand-in token stops working after $LIFE s"
"$PY" - "$BASE" "$API_KEY" "$LIFE" <<'EOF' || fail "stand-in tokens do not expire: the test would prove nothing"
import json, sys, time, urllib.error, urllib.request
base, key, life = sys.argv[1], sys.argv[2], int(sys.argv[3])
tok = json.load(urllib.request.urlopen(urllib.request.Request(
    "http://%s/identity/token" % base,
    data=("grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=" + key).encode())))["access_token"]
def get():
    try:
        urllib.request.urlopen(urllib.request.Request(
            "http://%s/api/v2/keys/root1" % base,
            headers={"authorization": "Bearer " + tok, "bluemix-instance": "kp-test-instance"}))
        return 200
    except urllib.error.HTTPError as e:
        return e.code
assert get() == 200
time.sleep(life + 0.5)
sys.exit(0 if get() == 401 else 1)
EOF

img="$WORK/kp.img"
write_secret "$WORK/kp.pw" "key protect image passphrase"
truncate -s 24M "$img"
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" --key-file "$WORK/kp.pw" "$img" \
    || fail "luksFormat failed"
dump_vk "$img" "$WORK/kp.pw" "$WORK/kp.vk"
pattern_file "$WORK/kp.plain" $((4 * MiB)) 11
oracle_write "$img" "$WORK/kp.vk" 0 "$WORK/kp.plain"
oracle_decrypt "$img" "$WORK/kp.vk" "$WORK/kp.oracle"

log "a wrong API key is refused"
printf 'not-the-key\n' >"$WORK/badkey"
assert_exit 5 "$LUKSFS" bind "$img" --kms "$URI" --key-file "$WORK/kp.pw" --kms-instance kp-test-instance \
    --kms-api-key-file "$WORK/badkey" --iam-endpoint "http://$BASE"
grep -q "API key refused" "$WORK/last.err" || fail "unclear: $(cat "$WORK/last.err")"
grep -q "not-the-key" "$WORK/last.err" && fail "the API key is in the error message"

log "bind and mount with an API key; tokens live $LIFE s"
assert_exit 0 "$LUKSFS" bind "$img" --kms "$URI" --key-file "$WORK/kp.pw" "${OPTS[@]}"
mnt="$(new_mountpoint kp-mnt)"
issued0=$(grep -c "token issued" "$WORK/iam.log")
mount_view "$img" "$mnt" "${OPTS[@]}" --kms-poll 1 --kms-grace 4 --audit-log "$WORK/audit.log"
assert_files_eq "$WORK/kp.oracle" "$(view_file "$mnt")" "view vs oracle at mount"
pid="$(daemon_pid "$mnt")"
grep -q "$API_KEY" "/proc/$pid/cmdline" && fail "the API key is on the daemon's command line"
for i in $(seq 1 12); do
    sleep 1
    dd if="$(view_file "$mnt")" of="$WORK/chunk" bs=65536 skip=$((i * 3)) count=1 iflag=direct status=none \
        || fail "read failed ${i} s into the mount (token not refreshed?)"
    dd if="$WORK/kp.oracle" of="$WORK/want" bs=65536 skip=$((i * 3)) count=1 status=none
    cmp -s "$WORK/chunk" "$WORK/want" || fail "read ${i} s into the mount differs from the oracle"
done
issued=$(( $(grep -c "token issued" "$WORK/iam.log") - issued0 ))
((issued >= 4)) || fail "only $issued token exchange(s) in 12 s of polling with $LIFE s tokens"
grep -q '"event":"keys_dropped"' "$WORK/audit.log" 2>/dev/null && fail "keys dropped during refreshes"
log "served 12 s across $issued token exchanges inside the daemon"

log "IAM refuses the API key under the mount: unreachable, not revoked"
touch "$WORK/iam-refuses"
start=$(date +%s%N)
until grep -q '"event":"kms_unreachable"' "$WORK/audit.log" 2>/dev/null; do
    (( $(date +%s%N) - start < 4000000000 )) || fail "no kms_unreachable event after IAM refused the key"
    sleep 0.1
done
grep '"event":"kms_unreachable"' "$WORK/audit.log" | grep -qE "API key refused|HTTP 401" \
    || fail "kms_unreachable does not say IAM refused: $(grep kms_unreachable "$WORK/audit.log")"
dd if="$(view_file "$mnt")" of=/dev/null bs=65536 count=1 iflag=direct status=none \
    || fail "keys dropped at once when IAM refused the key (want: grace)"
grep -q '"event":"revocation_seen"' "$WORK/audit.log" && fail "an IAM refusal counted as a revocation"
rm -f "$WORK/iam-refuses"
sleep 3
dd if="$(view_file "$mnt")" of=/dev/null bs=65536 count=1 iflag=direct status=none \
    || fail "the mount did not recover once IAM accepted the key again"
grep -q '"event":"grace_expired"' "$WORK/audit.log" && fail "grace expired during a short IAM refusal"
log "served through the refusal; $(grep -o '"reason":"[^"]*' "$WORK/audit.log" | grep -m1 -E "refused|401" | cut -c11-120)"

log "root key rotated: rewrap uses Key Protect's rewrap action"
# A header edit needs the image unlocked: the mount holds its lock.
umount_view "$mnt"
kp_admin rotate
assert_exit 0 "$LUKSFS" rewrap "$img" --kms "$URI" "${OPTS[@]}"
grep -q "(rewrap action)" "$WORK/last.out" || fail "rewrap did not use the action: $(cat "$WORK/last.out")"
grep -q "rewrap v0 -> v1" "$WORK/iam.log" || fail "the stand-in saw no rewrap"
mnt2="$(new_mountpoint kp-mnt2)"
mount_view "$img" "$mnt2" "${OPTS[@]}" --kms-poll 1 --kms-grace 4 --audit-log "$WORK/audit.log"
assert_files_eq "$WORK/kp.oracle" "$(view_file "$mnt2")" "view vs oracle after rewrap"
mnt="$mnt2"

log "key disabled (suspended): the mount goes dark"
kp_admin disable
assert_goes_dark "$mnt" 4 "the key was disabled"
grep -q '"event":"revocation_seen"' "$WORK/audit.log" || fail "no revocation_seen"
umount_view "$mnt"
pass
