# A strategy that leaves no TIME_WAIT here acts only on a connection that
# negotiated TCP timestamps: without them PAWS cannot keep a late duplicate
# of its segments out of the next connection on the same four-tuple, which
# TIME_WAIT would have done.  net.ipv4.tcp_timestamps is the namespace's,
# so both ends on loopback go without.  fin-then-reset (client and
# accepted) and abort then close normally, counted close_no_timestamps and
# logged; with timestamps they act; "unsafe" acts regardless.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
echo_server 127.0.0.1 7201 "$T/server.log"
ops="sock a , connect a 127.0.0.1 7201 , write a hello\n , readline a , close a"

# client POLICY TS NAME: one answered connection closed under POLICY with
# tcp_timestamps TS; prints the TIME_WAIT it left and its counters.
client() {
	sysctl -qw net.ipv4.tcp_timestamps="$2"
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats.$3" \
	    TWSHIM_LOG=info TWSHIM_POLICY_TEXT="$1" "$OPS" $ops >/dev/null 2>"$T/log.$3"
	sleep 0.2
	now=$(tw_count "dport = :7201")
	added=$((now - tw_before))
	tw_before=$now
	echo "$3: timestamps $2: TIME_WAIT added $added," \
	    "fin_then_reset $(stat_of close_fin_then_reset "$T/stats.$3")," \
	    "no_timestamps $(stat_of close_no_timestamps "$T/stats.$3")"
}
# The TIME_WAIT each case adds on port 7201 (they stay 60 s).
tw_before=0

# 1. fin-then-reset, the default for clients.
client '[client *];close = fin-then-reset' 1 ftr_ts
assert_eq "$added" 0 "fin-then-reset with timestamps: no TIME_WAIT"
assert_eq "$(stat_of close_fin_then_reset "$T/stats.ftr_ts")" 1 "counted fin-then-reset"
client '[client *];close = fin-then-reset' 0 ftr_nots
assert_eq "$added" 1 "fin-then-reset without timestamps: TIME_WAIT kept"
assert_eq "$(stat_of close_no_timestamps "$T/stats.ftr_nots")" 1 "counted close_no_timestamps"
assert_eq "$(stat_of close_fin_then_reset "$T/stats.ftr_nots")" 0 "not counted fin-then-reset"
assert_has "$T/log.ftr_nots" "close: normal: no TCP timestamps" "the log says why"
client '[client *];close = fin-then-reset unsafe' 0 ftr_unsafe
assert_eq "$added" 0 "fin-then-reset unsafe without timestamps: no TIME_WAIT"

# 2. The built-in default (no policy) likewise.
client '' 0 default
assert_eq "$added" 1 "the built-in default without timestamps: TIME_WAIT kept"
assert_eq "$(stat_of close_no_timestamps "$T/stats.default")" 1 "counted close_no_timestamps"

# 3. The accepted side: a server under fin-then-reset that closes first.
serve() {	# serve TS NAME [unsafe]
	sysctl -qw net.ipv4.tcp_timestamps="$1"
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats.$2" \
	    TWSHIM_POLICY_TEXT="[accepted *:7202];close = fin-then-reset${3:+ $3}" \
	    "$OPS" sock l , setopt l reuseaddr 1 , bind l 127.0.0.1 7202 , listen l 4 , \
	    accept c l , readline c , write c ok\n , close c >/dev/null &
	srv=$!
	wait_listen 7202
	python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 7202)); s.sendall(b"hi\n")
while s.recv(100): pass
s.close()'
	wait "$srv"
	sleep 0.2
	echo "accepted $2: timestamps $1: TIME_WAIT $(tw_count "sport = :7202")"
}
serve 1 acc_ts
assert_eq "$(tw_count "sport = :7202")" 0 "accepted, with timestamps: no TIME_WAIT"
serve 0 acc_nots
assert_eq "$(tw_count "sport = :7202")" 1 "accepted, without timestamps: TIME_WAIT kept"
assert_eq "$(stat_of close_no_timestamps "$T/stats.acc_nots")" 1 "counted close_no_timestamps"

# 4. abort: the peer (sink.py) sees EOF, not a reset, without timestamps,
# unless the policy says unsafe.
abort() {	# abort TS PORT POLICY
	sysctl -qw net.ipv4.tcp_timestamps="$1"
	python3 tests/helpers/sink.py listen "$2" >"$T/sink.$2" &
	sink=$!
	wait_listen "$2"
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats.$2" \
	    TWSHIM_LOG=info TWSHIM_POLICY_TEXT="$3" "$OPS" sock a , connect a 127.0.0.1 "$2" , \
	    write a hello , close a >/dev/null 2>"$T/log.$2"
	wait "$sink"
	sleep 0.2
	echo "$3: timestamps $1: peer saw $(cat "$T/sink.$2"), TIME_WAIT $(tw_count "dport = :$2")," \
	    "abort $(stat_of close_abort "$T/stats.$2"), no_timestamps $(stat_of close_no_timestamps "$T/stats.$2")"
}
abort 1 7211 '[client *];close = abort'
assert_eq "$(cat "$T/sink.7211")" "reset 5" "abort with timestamps: the peer sees the reset"
abort 0 7212 '[client *];close = abort'
assert_eq "$(cat "$T/sink.7212")" "eof 5" "abort without timestamps: the peer sees EOF"
assert_eq "$(tw_count "dport = :7212")" 1 "abort without timestamps: TIME_WAIT kept"
assert_eq "$(stat_of close_no_timestamps "$T/stats.7212")" 1 "counted close_no_timestamps"
abort 0 7213 '[client *];close = abort unsafe'
assert_eq "$(cat "$T/sink.7213")" "reset 5" "abort unsafe without timestamps: the reset"
assert_eq "$(tw_count "dport = :7213")" 0 "abort unsafe: no TIME_WAIT"

# 5. peer-first's abort fallback (the reaper's) keeps TIME_WAIT the same
# way; the close counted peer-first, the fallback is said in the log.
abort 0 7214 '[client *];close = peer-first 100ms then abort'
assert_eq "$(cat "$T/sink.7214")" "eof 5" "peer-first then abort, no timestamps: EOF"
assert_eq "$(tw_count "dport = :7214")" 1 "peer-first then abort, no timestamps: TIME_WAIT kept"
assert_has "$T/log.7214" "fell back to normal: no TCP timestamps" "the fallback says why"
abort 0 7215 '[client *];close = peer-first 100ms then abort unsafe'
assert_eq "$(cat "$T/sink.7215")" "reset 5" "peer-first then abort unsafe: the reset"
sysctl -qw net.ipv4.tcp_timestamps=1

# 6. abort-if-idle when it would reset (answered, nothing unread): the
# same rule.  The echo server logs what its read ended with.
idle() {	# idle TS POLICY
	sysctl -qw net.ipv4.tcp_timestamps="$1"
	echo_server 127.0.0.1 "$2" "$T/idle.$2"
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats.$2" \
	    TWSHIM_POLICY_TEXT="$3" "$OPS" sock a , connect a 127.0.0.1 "$2" , write a hello\\n , \
	    readline a , close a >/dev/null
	sleep 0.3
	echo "$3: timestamps $1: the server's read ended with $(cat "$T/idle.$2")"
}
idle 1 7216 '[client *];close = abort-if-idle'
assert_eq "$(cat "$T/idle.7216")" "reset 6" "abort-if-idle with timestamps: reset"
idle 0 7217 '[client *];close = abort-if-idle'
assert_eq "$(cat "$T/idle.7217")" "eof 6" "abort-if-idle without timestamps: EOF"
assert_eq "$(stat_of close_no_timestamps "$T/stats.7217")" 1 "counted close_no_timestamps"
idle 0 7218 '[client *];close = abort-if-idle unsafe'
assert_eq "$(cat "$T/idle.7218")" "reset 6" "abort-if-idle unsafe without timestamps: reset"
sysctl -qw net.ipv4.tcp_timestamps=1
