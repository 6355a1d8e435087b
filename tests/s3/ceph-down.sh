#!/bin/bash
# Stops the daemons started by ceph-up.sh (by their pid files only), then removes $D.
#   D=/tmp/ceph-ci [KEEP=1] ceph-down.sh        stop everything
#   D=/tmp/ceph-ci ceph-down.sh rgw             stop only radosgw (fault tests)
D=${D:-/tmp/ceph-ci}
names=(client.rgw.ci osd.0 mon.a)
[ "${1:-}" = rgw ] && names=(client.rgw.ci)
for n in "${names[@]}"; do
    f="$D/run/$n.pid"
    [ -f "$f" ] || continue
    p=$(cat "$f")
    kill "$p" 2>/dev/null
    for i in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$p" 2>/dev/null || true
    rm -f "$f"
done
[ "${1:-}" = rgw ] && exit 0
[ "${KEEP:-0}" = 1 ] || rm -rf "$D"
