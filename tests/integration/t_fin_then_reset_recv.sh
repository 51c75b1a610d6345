# fin-then-reset, the built-in default, decides from what recv() returned
# when the program received the peer's EOF that way: the peer closed
# first, nothing to do and no system call at close.  Data received does not
# spare the TCP_INFO read (whether the connection has TCP timestamps is
# only there), so an answered close costs two: TCP_INFO and TCP_LINGER2 =
# -1.  Counted three ways: the library's counters, strace, and the
# TIME_WAIT the client leaves.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
sysctl -qw net.ipv4.ip_local_port_range="40000 40499"

cat >"$T/client.py" <<'PY'
import socket, sys
port, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
done = 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    # No newline for "upload": the peer (echo_server) then never answers.
    s.sendall(b"hello" if mode == "upload" else b"hello\n")
    if mode == "answer":
        if s.recv(100):
            done += 1
    elif mode == "eof":
        while s.recv(100):
            pass
        done += 1
    else:
        done += 1
    s.close()
print("done %d" % done)
PY

"$EX/legacy_server" 7101 >/dev/null &
_pids="$_pids $!"
"$EX/legacy_server" -m close 7102 >/dev/null &
_pids="$_pids $!"
wait_listen 7101
wait_listen 7102
echo_server 127.0.0.1 7103 "$T/silent.log"

# run MODE PORT N: the client under the default policy, its counters in $T/stats.MODE
run() {
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats.$1" \
	    python3 "$T/client.py" "$2" "$3" "$1"
}

# 1. Answered, received with recv(): 1000 connections through 500 ports
# (a smaller range would have the reuse quarantine keep TIME_WAIT at this
# client's pace: t_reuse_quarantine).
out=$(run answer 7101 1000)
echo "answer: $out; $(grep -E 'close_(fin_then_reset|not_answered|peer_closed)=' "$T/stats.answer" | tr '\n' ' ')"
assert_eq "$out" "done 1000" "every request answered through 500 local ports"
assert_eq "$(stat_of close_fin_then_reset "$T/stats.answer")" 1000 "each close was fin-then-reset"
sleep 0.2
assert_eq "$(tw_count)" 0 "TIME_WAIT left by the client"

# 2. The peer closed first and the client read its EOF: nothing to do.
out=$(run eof 7102 100)
echo "eof: $out; $(grep -E 'close_(fin_then_reset|peer_closed)=' "$T/stats.eof" | tr '\n' ' ')"
assert_eq "$(stat_of close_peer_closed "$T/stats.eof")" 100 "each close saw the peer's EOF"
assert_eq "$(stat_of close_fin_then_reset "$T/stats.eof")" 0 "and left the close alone"

# 3. Nothing received: the kernel is asked, and the close stays plain.
out=$(run upload 7103 20)
assert_eq "$(stat_of close_not_answered "$T/stats.upload")" 20 "an unanswered close stays plain"

# System calls at close, per connection (300 connections minus 100, over
# 200), beyond what the same client makes bare.
calls() {	# calls PRELOAD MODE PORT N SYSCALL
	env LD_PRELOAD="$1" strace -f -c -e trace="$5" -o "$T/strace" \
	    python3 "$T/client.py" "$3" "$4" "$2" >/dev/null
	awk -v s="$5" '$NF == s { print $4 }' "$T/strace" | grep . || echo 0
}
added() {	# added MODE PORT SYSCALL
	pre="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB"
	with=$(( $(calls "$pre" "$1" "$2" 300 "$3") - $(calls "$pre" "$1" "$2" 100 "$3") ))
	bare=$(( $(calls "" "$1" "$2" 300 "$3") - $(calls "" "$1" "$2" 100 "$3") ))
	echo $(( (with - bare) / 200 ))
}
sysctl -qw net.ipv4.ip_local_port_range="32768 60999"
sysctl -qw net.ipv4.tcp_tw_reuse=1
a_get=$(added answer 7101 getsockopt); a_set=$(added answer 7101 setsockopt)
e_get=$(added eof 7102 getsockopt); e_set=$(added eof 7102 setsockopt)
echo "added per connection: answered getsockopt $a_get setsockopt $a_set;" \
    "peer closed first getsockopt $e_get setsockopt $e_set"
assert_eq "$a_get $a_set" "1 1" "answered through recv(): TCP_INFO and TCP_LINGER2"
assert_eq "$e_get $e_set" "0 0" "the peer's EOF read through recv(): nothing"
