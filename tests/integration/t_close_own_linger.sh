# Only SO_LINGER with l_onoff = 1 is the program's own choice of how its
# close ends (kept: the strategy stands aside).  {0, x} is the kernel's
# default, lingering off: the policy's strategy still acts.  Issue 19,
# item 11: {0, 5} used to count as the program's own, leaving TIME_WAIT.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
echo_server 127.0.0.1 7241 "$T/server.log"
before=0
run() {	# run NAME SETOPTS...: one answered connection under the default policy
	name=$1
	shift
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats.$name" \
	    "$OPS" sock a , connect a 127.0.0.1 7241 "$@" , write a hello\\n , readline a , \
	    close a >/dev/null
	sleep 0.2
	now=$(tw_count "dport = :7241")
	added=$((now - before))
	before=$now
	echo "$name: TIME_WAIT added $added, own_linger $(stat_of close_own_linger "$T/stats.$name")," \
	    "fin_then_reset $(stat_of close_fin_then_reset "$T/stats.$name")"
}
run off , setopt a linger_off 5
assert_eq "$added" 0 "SO_LINGER {0,5}: fin-then-reset acted"
assert_eq "$(stat_of close_own_linger "$T/stats.off")" 0 "not counted as the program's own"
run on , setopt a linger 5
assert_eq "$added" 1 "SO_LINGER {1,5}: the program's own close"
assert_eq "$(stat_of close_own_linger "$T/stats.on")" 1 "counted as the program's own"
run on_then_off , setopt a linger 5 , setopt a linger_off 0
assert_eq "$added" 0 "SO_LINGER {1,5} then {0,0}: lingering off again, fin-then-reset acted"
