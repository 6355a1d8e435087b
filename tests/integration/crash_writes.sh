#!/bin/bash
# kill -9 of the daemon during writes, several times. Each round mounts the view, runs
# tests/crash/block_writer.py (2 threads of O_DIRECT 4 KiB writes of tagged blocks, each logged
# when started and when acknowledged), kills the daemon with SIGKILL at a random moment (0.2-1.8 s after the
# round's first acknowledged writes),
# and clears the dead mount. Then, with the plaintext decrypted by the oracle (volume key from
# cryptsetup, never luksfs), tests/crash/check_blocks.py checks: every acknowledged block reads
# back (its last acknowledged write, or a later in-flight one); each 4096-byte sector unit of an
# in-flight block is old or new data, never a mix; untouched blocks equal the baseline. The header
# still opens with cryptsetup. LUKS2 with 4096-byte sectors, then LUKS1 (512-byte sectors, read
# by qemu-img as the second oracle).
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
ROUNDS="${CRASH_ROUNDS:-4}"
BS=4096
write_secret pw "crash passphrase"

# crash_rounds IMG SECTOR: the rounds on IMG, then the checks.
crash_rounds() {
    local img="$1" ss="$2" mnt pid r nblocks
    mnt="$(new_mountpoint "mnt-$(basename "$img" .img)")"
    mount_view "$img" "$mnt" --passphrase-file pw
    nblocks=$(($(stat -c %s "$mnt/disk.raw") / BS))
    ((nblocks > 0)) || fail "$img: empty view"
    umount_view "$mnt"
    dump_vk "$img" pw "$img.vk"
    oracle_decrypt "$img" "$img.vk" "$img.base"
    : >"$img.log"
    for ((r = 1; r <= ROUNDS; r++)); do
        mount_view "$img" "$mnt" --passphrase-file pw
        pid="$(daemon_pid "$mnt")"
        [[ -n "$pid" ]] || fail "no daemon pid for $mnt"
        "$PY" "$TESTS_DIR/crash/block_writer.py" "$mnt/disk.raw" "$img.log" "$BS" "$nblocks" "$r" "$RANDOM" 2 &
        local writer=$!
        # Once this round's writes are being acknowledged, kill at a random moment.
        local acks0 n=0
        acks0=$(grep -c '^A' "$img.log" || true)
        while (($(grep -c '^A' "$img.log" || true) < acks0 + 10)); do
            ((n++ < 200)) || fail "round $r: no write acknowledged in 20 s"
            sleep 0.1
        done
        sleep "$(printf '0.%d' $((2 + RANDOM % 8)))"
        (((RANDOM % 2) == 1)) && sleep 0.$((RANDOM % 10))
        kill -KILL "$pid"
        wait "$writer" || fail "round $r: the writer wrote nothing before the kill"
        wait_gone "$pid" 5 || fail "round $r: daemon $pid survived SIGKILL"
        umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
        _is_mounted "$mnt" && fail "round $r: dead mount $mnt still there"
        log "$(basename "$img") round $r: killed daemon $pid after $(grep -c '^A' "$img.log") acknowledged writes in all"
    done
    cryptsetup open --test-passphrase --key-file pw "$img" || fail "$img: cryptsetup no longer opens it"
    oracle_decrypt "$img" "$img.vk" "$img.plain"
    "$PY" "$TESTS_DIR/crash/check_blocks.py" "$img.plain" "$img.base" "$img.log" "$BS" "$ss" \
        | tee "$img.check" || fail "$img: $(head -5 "$img.check" | tr '\n' ' ')"
    log "$(basename "$img"): $(head -1 "$img.check")"
}

truncate -s 32M l2.img
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file pw \
    --sector-size 4096 l2.img
crash_rounds l2.img 4096

truncate -s 24M l1.img
cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file pw l1.img
crash_rounds l1.img 512
# LUKS1: qemu-img agrees with the oracle's plaintext.
qemu_decrypt l1.img pw l1.qemu
cmp -s l1.qemu l1.img.plain || fail "l1.img: qemu-img and the oracle disagree"
pass
