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

# TWSHIM_STATS_SIGNAL never takes a signal the program ignores: an
# inherited SIGUSR2 ignore stays, so a program it execs without the
# library still ignores it (it used to die).
(
	trap '' USR2
	exec env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY_TEXT='[client *];close = abort' \
	    TWSHIM_STATS="$T/ign" TWSHIM_STATS_SIGNAL=1 sh -c 'exec env -u LD_PRELOAD sleep 3'
) 2>"$T/ign.err" &
p=$!
sleep 0.7
kill -USR2 $p
wait $p
rc=$?
cat "$T/ign.err"
assert_eq "$rc" 0 "an ignored SIGUSR2 stays ignored in the program and what it execs"

# The signal by name (or number): USR1 writes the file, mid-run.
env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY_TEXT='[client *];close = abort' \
    TWSHIM_STATS="$T/usr1" TWSHIM_STATS_SIGNAL=SIGUSR1 \
    "$OPS" sock a , connect a 127.0.0.1 7080 , sleep 1500 , close a >/dev/null &
p=$!
sleep 0.7
kill -USR1 $p
sleep 0.2
assert_eq "$(stat_of role_client "$T/usr1")" 1 "TWSHIM_STATS_SIGNAL=SIGUSR1: written on SIGUSR1"
wait $p
assert_eq "$?" 0 "the program went on after the signal"
# A value that names no signal: said, and no handler.
with_shim '[client *]' env TWSHIM_STATS="$T/bad" TWSHIM_STATS_SIGNAL=KILL true 2>"$T/bad.err"
assert_has "$T/bad.err" "TWSHIM_STATS_SIGNAL=KILL is not a signal twshim can use" "a bad signal refused"
