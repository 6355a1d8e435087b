#!/bin/bash
# Throw-away single-node Ceph (1 mon, 1 OSD, no mgr, no cephx) + radosgw (beast) on 127.0.0.1.
# Everything lives under $D; nothing in /etc/ceph or /var/lib/ceph is touched. ~15-20 s.
#   D=/tmp/ceph-ci STORE=memstore|bluestore PORT=7480 MON_PORT=6789 AK=... SK=... [TUNE=1|0] ceph-up.sh
# Restart only radosgw (fault tests): D=... ceph-up.sh rgw
# Notes on this server set-up: doc/s3.md, section "The radosgw test server".
set -euo pipefail
D=${D:-/tmp/ceph-ci}; STORE=${STORE:-memstore}; PORT=${PORT:-7480}; MON_PORT=${MON_PORT:-6789}
AK=${AK:-ciaccesskey}; SK=${SK:-cisecretkey0123456789}
C="$D/ceph.conf"

wait_http() {
    local i
    for i in $(seq 1 240); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
        sleep 0.25
    done
    echo "ceph-up: radosgw did not answer on port $PORT" >&2
    return 1
}

if [ "${1:-}" = rgw ]; then
    radosgw -c "$C" -n client.rgw.ci
    wait_http
    exit 0
fi

rm -rf "$D"; mkdir -p "$D"/{run,log,mon.a,osd.0,rgw}
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$C" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
run dir = $D/run
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
keyring = $D/keyring
mon data = $D/mon.\$id
osd data = $D/osd.\$id
osd objectstore = $STORE
memstore device bytes = 4294967296
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mount = false
osd memory target = 1073741824
bluestore cache autotune = false
bluestore cache size = 268435456
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mon warn on insecure global id reclaim allowed = false
mon warn on msgr2 not enabled = false
osd crush chooseleaf type = 0
osd op num shards = 1
osd op num threads per shard = 2
ms bind ipv6 = false
CONF
if [ "${TUNE:-1}" = 1 ]; then  # loopback-only test cluster: skip CPU-heavy integrity work
    printf 'ms crc data = false\nms crc header = false\nbluestore csum type = none\n' >> "$C"
fi
cat >> "$C" <<CONF
[client.rgw.ci]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $D/rgw
rgw thread pool size = 64
rgw enable usage log = false
CONF
[ "${TUNE:-1}" = 1 ] && echo "rgw get obj window size = 67108864" >> "$C"

ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v1:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
ceph-mon -c "$C" -i a
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(timeout 120 ceph -c "$C" --connect-timeout 60 osd new "$OSD_UUID")
ceph-osd -c "$C" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" 2>"$D/log/osd-mkfs.err"
ceph-osd -c "$C" -i "$OSD_ID"
for i in $(seq 1 120); do
    timeout 10 ceph -c "$C" --connect-timeout 5 osd stat 2>/dev/null | grep -q '1 up.*1 in' && break
    sleep 0.5
done
radosgw -c "$C" -n client.rgw.ci
wait_http
timeout 120 radosgw-admin -c "$C" user create --uid=ci --display-name=ci \
    --access-key="$AK" --secret-key="$SK" >/dev/null
echo "radosgw up on http://127.0.0.1:$PORT (store=$STORE, conf=$C)"
