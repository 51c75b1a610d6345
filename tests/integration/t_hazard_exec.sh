# exec keeps LD_PRELOAD, so a program started through a shell is shimmed
# too; a user who drops LD_PRELOAD drops twshim.  TWSHIM_STATS with %p
# gives each process its own file.
. tests/integration/lib.sh

echo_server 127.0.0.1 7063 "$T/server.log"
with_shim '[client *];close = abort-if-idle' env TWSHIM_STATS="$T/st.%p" \
    sh -c "\"$EX/legacy_client\" -q -n 3 127.0.0.1 7063; env -u LD_PRELOAD \"$EX/legacy_client\" -q -n 2 127.0.0.1 7063"
sleep 0.2
ls "$T"/st.* >/dev/null 2>&1 || fail "no stats written"
total=$(cat "$T"/st.* | sed -n 's/^close_abort_if_idle=//p' | awk '{s += $1} END {print s}')
assert_eq "$total" 3 "the exec'd client was shimmed, the one without LD_PRELOAD was not"
