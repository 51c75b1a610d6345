# Each close counts exactly one outcome among the close_* counters,
# whatever its strategy and however it ends: a peer-first close is counted
# as peer-first when it begins, and its fallback (fin-then-reset, abort,
# ...) is logged but not counted a second time.  Issue 19, item 6: under
# peer-first ... then fin-then-reset one close showed peer_first 1 and
# fin_then_reset 1.
. tests/integration/lib.sh

echo_server 127.0.0.1 7251 "$T/server.log"
n=0
for pol in 'peer-first 100ms then fin-then-reset' 'peer-first 100ms then fin-then-reset always' \
    'peer-first 100ms then abort' 'peer-first 100ms then abort-if-idle' \
    'peer-first 100ms then graceful 100ms' 'graceful 100ms' 'fin-then-reset' 'abort' \
    'abort-if-idle' 'linger 1s' 'normal'; do
	n=$((n + 1))
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats.$n" \
	    TWSHIM_POLICY_TEXT="[client *];close = $pol" TWSHIM_LOG=info \
	    "$OPS" sock a , connect a 127.0.0.1 7251 , write a hello\\n , readline a , close a , \
	    sleep 400 >/dev/null 2>"$T/log.$n"
	outcomes=$(grep '^close_' "$T/stats.$n" | grep -v '=0$' | tr '\n' ' ')
	total=$(grep '^close_' "$T/stats.$n" | cut -d= -f2 | paste -sd+ | bc)
	echo "$pol: $outcomes"
	assert_eq "$total" 1 "close_* outcomes counted for one close under '$pol'"
done
assert_has "$T/log.1" "fell back to fin-then-reset" "the fallback is logged"
