#!/bin/bash
# Layering check (README.md, "Layout"): dependencies point one way, fs -> kms-client -> crypto -> common.
#   common/      may include only common/ headers (and system/library headers)
#   crypto/      only common/ and crypto/
#   kms-client/  only common/, crypto/, kms-client/
#   common/ and crypto/ never include FUSE, curl or socket headers.
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
            if [[ "$layer" == common || "$layer" == crypto ]] && [[ "$target" =~ $FORBIDDEN_SYSTEM ]]; then
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

if ((violations > 0)); then
    echo "check-layering: $violations violation(s) in $checked files"
    exit 1
fi
echo "check-layering: ok ($checked files)"
