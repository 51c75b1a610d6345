# twshim --cgroup: the policy language through the kernel backend, with
# static programs the library cannot reach.  --check --cgroup names the
# file, line and key of what the backend cannot honour, and --cgroup
# refuses such a policy before running anything; without CAP_BPF and
# CAP_NET_ADMIN it says what is missing and exits 126.  keepalive, nodelay
# and user_timeout read back on a connected socket, each key from the
# first section that sets it, the program's own options kept; local_address
# is the source; local_ports is a private pool; a static server without
# SO_REUSEADDR restarts over its TIME_WAIT; fin-then-reset skips a
# connection the peer sent nothing on (unless always) and one without
# timestamps; a server closing first under [accepted *] has its TIME_WAIT
# destroyed.
. tests/integration/lib.sh
. tests/integration/cgroup.sh

# --check --cgroup: every key the backend cannot honour, by file and line.
cat >"$T/bad.conf" <<'EOP'
[client 10.0.0.0/8]
close = abort
[client *:443]
fin_timeout = 5s
close = peer-first 100ms
[listener *]
backlog = 100
reuseaddr = force yes
[accepted *]
program = nginx
close = linger 2s
EOP
$TW --check --cgroup "$T/bad.conf" >"$T/check" 2>&1
rc=$?
cat "$T/check"
assert_eq "$rc" 1 "--check --cgroup: refused"
assert_has "$T/check" "bad.conf:2: 'close = abort' cannot be honoured by twshim --cgroup" "abort"
assert_has "$T/check" "bad.conf:4: 'fin_timeout' cannot be honoured" "fin_timeout"
assert_has "$T/check" "bad.conf:5: 'close = peer-first 100ms" "peer-first"
assert_has "$T/check" "bad.conf:7: 'backlog' cannot be honoured" "backlog"
assert_has "$T/check" "bad.conf:8: 'reuseaddr ... force' cannot be honoured" "force"
assert_has "$T/check" "bad.conf:10: 'program =' cannot be honoured" "program ="
assert_has "$T/check" "bad.conf:11: 'close = linger" "linger"
assert_has "$T/check" "7 errors for twshim --cgroup" "all of them counted"
# The same file is fine for the library.
$TW --check "$T/bad.conf" >/dev/null || fail "the library takes bad.conf"
$TW --check --cgroup -e '[client *];close = fin-then-reset always;keepalive = 60s,10s,5' \
    >"$T/good" 2>&1 || { cat "$T/good"; fail "--check --cgroup: a good policy"; }
assert_has "$T/good" "ok for twshim --cgroup" "a good policy"
# --cgroup itself refuses it, and runs nothing.
$TW --cgroup -p "$T/bad.conf" -- touch "$T/ran" 2>"$T/refused"
rc=$?
assert_eq "$rc" 125 "--cgroup with such a policy: usage error"
assert_has "$T/refused" "bad.conf:2: 'close = abort'" "--cgroup names the key"
[ ! -e "$T/ran" ] || fail "--cgroup ran the program with a policy it cannot honour"
# So is one from the environment.
TWSHIM_POLICY="$T/bad.conf" $TW --cgroup -- touch "$T/ran" 2>"$T/refused_env"
assert_eq "$?" 125 "--cgroup with TWSHIM_POLICY: usage error"
assert_has "$T/refused_env" "bad.conf:11: 'close = linger" "--cgroup reads TWSHIM_POLICY"
[ ! -e "$T/ran" ] || fail "--cgroup ran the program with the environment's policy it cannot honour"

# Privilege: a user without CAP_BPF and CAP_NET_ADMIN is told, exit 126.
setpriv --reuid=65534 --regid=65534 --clear-groups $TW --cgroup -- true 2>"$T/priv"
rc=$?
cat "$T/priv"
assert_eq "$rc" 126 "unprivileged: exit 126"
assert_has "$T/priv" "twshim: --cgroup needs CAP_BPF and CAP_NET_ADMIN" "unprivileged: what is missing"
assert_eq "$(wc -l <"$T/priv")" 1 "unprivileged: one line"
# Root without CAP_BPF: that one named.  CAP_BPF, CAP_NET_ADMIN and the
# right to write to the cgroup (here CAP_DAC_OVERRIDE) are enough.
setpriv --bounding-set -all,+net_admin,+dac_override --inh-caps -all $TW --cgroup -- true 2>"$T/nobpf"
rc=$?
assert_eq "$rc" 126 "without CAP_BPF: exit 126"
assert_has "$T/nobpf" "twshim: --cgroup needs CAP_BPF (root, in practice)" "without CAP_BPF: named"
setpriv --bounding-set -all,+bpf,+net_admin,+dac_override --inh-caps -all \
    $TW --cgroup -q -- sh -c 'echo inside' >"$T/enough" 2>&1 || { cat "$T/enough"; fail "CAP_BPF and CAP_NET_ADMIN are enough"; }
assert_has "$T/enough" "inside" "CAP_BPF and CAP_NET_ADMIN: the program runs"

[ "${SANITIZER:-plain}" = asan ] && skip "the rest runs the kernel backend only, which does not use the library (plain run only)"

"$SS" 7201 2000 10 >"$T/server" &
_pids="$_pids $!"
wait_listen 7201

# Options read back on the client's connected socket.
$TW --cgroup -e '[client *];keepalive = 61s,11s,6;nodelay = yes;user_timeout = 7s;close = normal' \
    -- "$SC" 127.0.0.1 7201 info >"$T/info" 2>"$T/err"
cat "$T/info" "$T/err"
assert_has "$T/info" "keepalive 1 idle 61 intvl 11 cnt 6 nodelay 1 user_timeout 7000" \
    "keepalive, nodelay and user_timeout set at establishment"
# Each key from the first section that matches and sets it, as the library
# decides: nodelay from the port's section, keepalive from the one after.
"$SS" 7205 10 10 >/dev/null &
_pids="$_pids $!"
wait_listen 7205
pol='[client *:7201];nodelay = no;[client 127.0.0.0/8];nodelay = yes;keepalive = 61s,11s,6;close = normal'
$TW --cgroup -q -e "$pol" -- "$SC" 127.0.0.1 7201 info >"$T/first_port"
$TW --cgroup -q -e "$pol" -- "$SC" 127.0.0.1 7205 info >"$T/other_port"
cat "$T/first_port" "$T/other_port"
assert_has "$T/first_port" "keepalive 1 idle 61 intvl 11 cnt 6 nodelay 0" "per key: the port's section first"
assert_has "$T/other_port" "keepalive 1 idle 61 intvl 11 cnt 6 nodelay 1" "per key: another port"
$TW --explain -e "$pol" client 127.0.0.1:7201 | grep -q 'nodelay = no' || fail "--explain disagrees"

# What the program set itself before connect() stays, as in the library.
$TW --cgroup -e '[client *];keepalive = 61s,11s,6;nodelay = no;close = normal' \
    -- "$SC" 127.0.0.1 7201 info-own >"$T/own" 2>"$T/err"
cat "$T/own"
assert_has "$T/own" "keepalive 1 idle 100 intvl 75 cnt 9 nodelay 1 user_timeout 0" \
    "the program's own options win"
"$SC" 127.0.0.1 7201 info >"$T/bare_info"
assert_has "$T/bare_info" "keepalive 0 idle 7200 intvl 75 cnt 9 nodelay 0 user_timeout 0" \
    "bare: the kernel's defaults"

# A private pool: the ports come from it; under fin-then-reset 1000
# connections go through 200 ports (a port destroyed from TIME_WAIT is free
# again after the 10 ms quarantine); under normal the 11th of a 10-port
# pool finds none free.
$TW --cgroup -e '[client *];local_ports = 45000-45009' -- "$SC" 127.0.0.1 7201 info >"$T/pool1"
port=$(awk 'NR == 1 { print $2 }' "$T/pool1")
[ "$port" -ge 45000 ] && [ "$port" -le 45009 ] || fail "local_ports: port $port not from the pool"
$TW --cgroup -e '[client *];local_ports = 45100-45299;close = fin-then-reset' \
    -- "$SC" 127.0.0.1 7201 1000 10 >"$T/pool2" 2>&1
cat "$T/pool2"
assert_has "$T/pool2" "client: 1000 of 1000" "local_ports: 1000 connections through 200 ports"
assert_has "$T/pool2" "1000 TIME_WAIT destroyed" "local_ports: each TIME_WAIT destroyed"
$TW --cgroup -e '[client *];local_ports = 45010-45019;close = normal' \
    -- "$SC" 127.0.0.1 7201 20 10 >"$T/pool3" 2>&1
cat "$T/pool3"
assert_has "$T/pool3" "client: 10 of 20; connect #11: Cannot assign requested address" \
    "local_ports, close = normal: the pool runs out"
assert_has "$T/pool3" "1 connects refused (local_ports full)" "counted"
assert_eq "$(tw_count "sport >= :45010 and sport <= :45019")" 10 "close = normal keeps TIME_WAIT"

# local_address: the source address, from connect().
$TW --cgroup -q -e '[client *];local_address = 127.0.0.9;close = normal' \
    -- "$SC" 127.0.0.1 7201 3 10 >"$T/source"
assert_has "$T/source" "client: 3 of 3" "local_address: the client"
assert_eq "$(ss -Htan state time-wait src 127.0.0.9 | wc -l)" 3 "local_address: connections from it"

# fin-then-reset acts only when the peer sent data; "always" drops that.
silent() {
	python3 -c 'import socket, time
s = socket.create_connection(("127.0.0.1", 7201))
time.sleep(0.05)
s.close()
time.sleep(0.05)'
}
tw0=$(tw_count "dport = :7201")
$TW --cgroup -- sh -c "$(declare -f silent); silent" 2>"$T/silent"
cat "$T/silent"
assert_has "$T/silent" "1 no data from the peer" "no data from the peer: skipped"
assert_eq "$(tw_count "dport = :7201")" $((tw0 + 1)) "no data from the peer: TIME_WAIT kept"
$TW --cgroup -e '[client *];close = fin-then-reset always' -- sh -c "$(declare -f silent); silent" \
    2>"$T/always"
cat "$T/always"
assert_has "$T/always" "1 TIME_WAIT destroyed" "always: destroyed without data"
assert_eq "$(tw_count "dport = :7201")" $((tw0 + 1)) "always: no TIME_WAIT added"

# No timestamps negotiated: PAWS cannot guard a reused four-tuple, so the
# TIME_WAIT is kept.
sysctl -qw net.ipv4.tcp_timestamps=0
$TW --cgroup -- "$SC" 127.0.0.1 7201 20 10 >"$T/nots" 2>&1
sysctl -qw net.ipv4.tcp_timestamps=1
cat "$T/nots"
assert_has "$T/nots" "0 TIME_WAIT destroyed" "no timestamps: none destroyed"
assert_has "$T/nots" "20 no timestamps" "no timestamps: counted"
kill "${_pids##* }"

# A static server without SO_REUSEADDR, restarted over its TIME_WAIT: run
# once under --cgroup, it closes first and leaves a TIME_WAIT on its port.
# The client reads to EOF before it closes: the server has closed first.
to_eof() {
	python3 -c 'import socket; s = socket.create_connection(("127.0.0.1", 7202))
s.sendall(b"x\n")
while s.recv(100): pass
s.close()'
}
$TW --cgroup -q -- "$SS" 7202 once noreuse >"$T/once1" &
tw=$!
wait_listen 7202
to_eof
wait $tw
assert_ge "$(tw_count "sport = :7202")" 1 "the server closed first: TIME_WAIT on its port"
"$SS" 7202 once noreuse >"$T/bare_restart"
assert_has "$T/bare_restart" "bind: Address already in use" "bare: the restart fails"
$TW --cgroup -- "$SS" 7202 once noreuse >"$T/restart" 2>"$T/restart_err" &
tw=$!
wait_listen 7202
to_eof
wait $tw
cat "$T/restart" "$T/restart_err"
assert_has "$T/restart" "listening" "under --cgroup: reuseaddr lets it restart"

# A server that closes first, under [accepted *] fin-then-reset: its TIME_WAIT goes.
$TW --cgroup -e '[listener *];reuseaddr = yes;[accepted *];close = fin-then-reset' \
    -- "$SS" 7203 once noreuse >"$T/first" 2>"$T/first_err" &
tw=$!
wait_listen 7203
python3 -c 'import socket; s = socket.create_connection(("127.0.0.1", 7203))
s.sendall(b"x\n")
while s.recv(100): pass
s.close()'
wait $tw
cat "$T/first" "$T/first_err"
assert_has "$T/first_err" "1 TIME_WAIT destroyed" "server closing first: destroyed"
assert_eq "$(tw_count "sport = :7203")" 0 "server closing first: no TIME_WAIT"
echo "PASS"
