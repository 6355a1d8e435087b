#!/bin/bash
# Stops the PyKMIP server started by pykmip-up.sh DIR (by its pid file only). A polite SIGTERM
# takes PyKMIP ~11 s (10 s socket timeout), so after 1 s it is killed: it is a throw-away server.
#   tests/kms/pykmip-down.sh DIR
DIR="${1:?usage: pykmip-down.sh DIR}"
f="$DIR/pykmip.pid"
[[ -f "$f" ]] || exit 0
pid="$(cat "$f")"
if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in 1 2 3 4 5; do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$f" "$DIR/endpoint"
exit 0
