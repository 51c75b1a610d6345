# TWSHIM_STATS at exit (with %p), on SIGUSR2 when TWSHIM_STATS_SIGNAL=1 asks
# for it (and not otherwise), and twshim --stats to read one.
. tests/integration/lib.sh

echo_server 127.0.0.1 7080 "$T/server.log"
with_shim '[client *];close = abort' env TWSHIM_STATS="$T/s.%p" \
    "$EX/legacy_client" -q -n 3 127.0.0.1 7080
f=$(ls "$T"/s.* | head -n 1)
assert_eq "$(stat_of close_abort "$f")" 3 "three aborts counted"
assert_eq "$(stat_of role_client "$f")" 3 "three clients counted"
"$TW" --stats "$f" >"$T/pretty"
cat "$T/pretty"
assert_has "$T/pretty" "closes with abort" "--stats describes the counters"

# SIGUSR2: only with TWSHIM_STATS_SIGNAL=1 (without it the default action kills).
env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY_TEXT='[client *];close = abort' \
    TWSHIM_STATS="$T/live" TWSHIM_STATS_SIGNAL=1 \
    "$OPS" sock a , connect a 127.0.0.1 7080 , sleep 1500 , close a >/dev/null &
p=$!
sleep 0.7
kill -USR2 $p
sleep 0.2
assert_eq "$(stat_of role_client "$T/live")" 1 "counters written on SIGUSR2, mid-run"
assert_eq "$(stat_of close_abort "$T/live")" 0 "before the close"
wait $p
assert_eq "$?" 0 "the program went on after the signal"
assert_eq "$(stat_of close_abort "$T/live")" 1 "and at exit again"
