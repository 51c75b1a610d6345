#!/bin/sh
# mkmap.sh HOOKS.DEF - the version script: export the hooked names, nothing else.
# The node is anonymous on purpose: a named version would stop our close
# from satisfying a program's reference to close@GLIBC_2.2.5.
set -eu
printf '{\n\tglobal:\n'
sed -n -e 's/^HOOK([^,]*, *\([A-Za-z_0-9]*\),.*/\t\t\1;/p' \
    -e 's/^OWN_HOOK(\([A-Za-z_0-9]*\))$/\t\t\1;/p' "$1"
printf '\tlocal:\n\t\t*;\n};\n'
