# The program's own shutdown(SHUT_RD) makes its next read return 0: that
# end of file is not the peer's FIN, so fin-then-reset still acts at close
# (no TIME_WAIT, counted fin-then-reset, not "the peer closed first").
# Issue 19, item 2: it used to keep TIME_WAIT on every such connection.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
echo_server 127.0.0.1 7221 "$T/server.log"
for i in 1 2 3 4 5; do
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats.$i" \
	    "$OPS" sock a , connect a 127.0.0.1 7221 , write a hello\\n , readline a , \
	    shutdown_rd a , readall a , close a >"$T/out.$i"
done
cat "$T/out.1"
sleep 0.2
tw=$(tw_count "dport = :7221")
ftr=$(cat "$T"/stats.* | sed -n 's/^close_fin_then_reset=//p' | paste -sd+ | bc)
peer=$(cat "$T"/stats.* | sed -n 's/^close_peer_closed=//p' | paste -sd+ | bc)
echo "5 connections, own SHUT_RD then EOF read: TIME_WAIT $tw, fin_then_reset $ftr, peer_closed $peer"
assert_has "$T/out.1" "readall: 0" "the read after SHUT_RD returned EOF"
assert_eq "$tw" 0 "TIME_WAIT left"
assert_eq "$ftr" 5 "closes counted fin-then-reset"
assert_eq "$peer" 0 "closes taken for the peer's"

# The peer's own EOF, read the same way, is still noted: nothing to do.
"$EX/legacy_server" -m close 7222 >/dev/null &
_pids="$_pids $!"
wait_listen 7222
env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats.peer" \
    "$OPS" sock a , connect a 127.0.0.1 7222 , write a hello\\n , readall a , close a >/dev/null
assert_eq "$(stat_of close_peer_closed "$T/stats.peer")" 1 "the peer's EOF: the peer closed first"
