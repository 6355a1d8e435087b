#!/bin/bash
# Layering check (README.md, "Layout"): dependencies point one way, fs -> kms-client -> crypto -> common.
#   common/      may include only common/ headers (and system/library headers)
#   crypto/      only common/ and crypto/
#   kms-client/  only common/, crypto/, kms-client/
#   common/ and crypto/ never include FUSE, curl or socket headers (except common/http/, the
#   one HTTP transport, which may use curl and, in its tests, sockets).
# Inside fs/, folders point one way too (fs/cli -> fs/fuse -> fs/ -> fs/image -> fs/storage):
#   fs/storage/  must not include fs/image/, fs/cli/ or fs/fuse/
#   fs/image/    may include fs/storage/, but not fs/cli/ or fs/fuse/
#   fs/fuse/     must not include fs/cli/
# Project headers are included as "dir/file.h" (the Makefile adds -I.); a quoted include without a
# directory is resolved against the including file's own directory.
# Exits non-zero and lists every violation.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

declare -A ALLOWED=(
    [common]="common"
    [crypto]="common crypto"
    [kms-client]="common crypto kms-client"
)
PROJECT_DIRS="common crypto kms-client fs"
FORBIDDEN_SYSTEM='^(fuse[^/]*\.h|fuse3?/.*|curl/.*|sys/socket\.h|netinet/.*|arpa/inet\.h|sys/un\.h|netdb\.h)$'

violations=0
report() {
    printf '%s\n' "$*"
    violations=$((violations + 1))
}

checked=0
for layer in common crypto kms-client; do
    [[ -d "$layer" ]] || continue
    while IFS= read -r -d '' file; do
        checked=$((checked + 1))
        lineno=0
        while IFS= read -r line; do
            lineno=$((lineno + 1))
            [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*([\"\<])([^\"\>]+)[\"\>] ]] || continue
            kind="${BASH_REMATCH[1]}"
            target="${BASH_REMATCH[2]}"
            close='>'
            [[ "$kind" == '"' ]] && close='"'
            where="$file:$lineno: #include $kind$target$close"
            # forbidden system headers in the lowest layers
            # (common/http/, the one HTTP transport, is where curl and its test sockets live)
            if [[ "$layer" == common || "$layer" == crypto ]] && [[ "$file" != common/http/* ]] &&
                [[ "$target" =~ $FORBIDDEN_SYSTEM ]]; then
                report "$where -- $layer/ must not use FUSE, curl or sockets"
                continue
            fi
            # which project directory does the include point into?
            top="${target%%/*}"
            if [[ "$target" != */* ]]; then
                [[ "$kind" == '"' ]] || continue       # <foo.h>: system header
                if [[ -e "$(dirname "$file")/$target" ]]; then
                    top="${file%%/*}"                    # same directory as the includer
                else
                    continue                             # not a project file
                fi
            fi
            # a path like "../fs/x.h"
            if [[ "$target" == ../* ]]; then
                resolved="$(realpath -m --relative-to="$ROOT" "$(dirname "$file")/$target")"
                top="${resolved%%/*}"
            fi
            [[ " $PROJECT_DIRS " == *" $top "* ]] || continue
            [[ " ${ALLOWED[$layer]} " == *" $top "* ]] || report "$where -- $layer/ may include only: ${ALLOWED[$layer]}"
        done <"$file"
    done < <(find "$layer" -type f \( -name '*.h' -o -name '*.hh' -o -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' -o -name '*.c' \) -print0)
done

# Folders inside fs/: which fs/ subfolders each one must not include.
declare -A FS_FORBIDDEN=(
    [fs/storage]="fs/image fs/cli fs/fuse"
    [fs/image]="fs/cli fs/fuse"
    [fs/fuse]="fs/cli"
)
for folder in fs/storage fs/image fs/fuse; do
    [[ -d "$folder" ]] || continue
    while IFS= read -r -d '' file; do
        checked=$((checked + 1))
        lineno=0
        while IFS= read -r line; do
            lineno=$((lineno + 1))
            [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
            target="${BASH_REMATCH[1]}"
            if [[ "$target" == ../* ]]; then
                target="$(realpath -m --relative-to="$ROOT" "$(dirname "$file")/$target")"
            fi
            for bad in ${FS_FORBIDDEN[$folder]}; do
                if [[ "$target" == "$bad"/* ]]; then
                    report "$file:$lineno: #include \"$target\" -- $folder/ must not include $bad/"
                fi
            done
        done <"$file"
    done < <(find "$folder" -type f \( -name '*.h' -o -name '*.cc' \) -print0)
done

if ((violations > 0)); then
    echo "check-layering: $violations violation(s) in $checked files"
    exit 1
fi
echo "check-layering: ok ($checked files)"
