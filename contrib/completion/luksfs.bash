# bash completion for luksfs(8) and mount.luksfs.
# The options of each command are read from `luksfs COMMAND --help`, so the
# completion follows the installed program.

_luksfs_options() {
    # $1: command. Long options, one per word.
    "${_luksfs_bin:-luksfs}" "$1" --help 2>/dev/null |
        grep -o -- '--[a-z0-9][a-z0-9-]*' | sort -u
}

_luksfs() {
    local cur prev cmd i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    _luksfs_bin=${COMP_WORDS[0]}
    [[ $_luksfs_bin == mount.luksfs || $_luksfs_bin == */mount.luksfs ]] && _luksfs_bin=luksfs
    local commands="mount umount pid info check bind unbind shred wrap unwrap rewrap kms"
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    case $cmd in
        mount | umount | pid | info | check | bind | unbind | shred | wrap | unwrap | rewrap | kms) ;;
        "")
            if [[ $cur == -* ]]; then
                mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
            else
                mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
            fi
            return
            ;;
        *) cmd=mount ;;  # luksfs IMAGE MOUNTPOINT -o ...: the mount.luksfs form
    esac
    if [[ $cmd == kms && $prev == kms ]]; then
        mapfile -t COMPREPLY < <(compgen -W "create-key revoke destroy state" -- "$cur")
        return
    fi
    case $prev in
        --on-revoke) mapfile -t COMPREPLY < <(compgen -W "eio unmount" -- "$cur"); return ;;
        --name | --threads | --kernel-readahead | --key-slot | --max-kdf-memory | --s3-endpoint | \
            --s3-region | --s3-retries | --cache-size | --read-ahead | --commit-interval | --kms | \
            --s3-stream-window | \
            --kms-fingerprint | --kms-user | --kms-instance | --kms-poll | --kms-grace | --from | \
            --log-file | -o)
            return ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_luksfs_options "$cmd")" -- "$cur")
        return
    fi
    if [[ $cmd == umount || $cmd == pid ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(awk '$3 ~ /^fuse\.luksfs$/ { print $2 }' /proc/self/mounts 2>/dev/null)" -- "$cur")
        [[ ${#COMPREPLY[@]} -gt 0 ]] && return
    fi
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    compopt -o filenames 2>/dev/null
}

complete -F _luksfs luksfs mount.luksfs
