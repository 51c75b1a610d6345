# twshim --diagnose in a namespace where known programs leave TIME_WAIT on
# either side, 500 local ports, tcp_tw_reuse off:
#  - client side: legacy_client runs out of ports towards legacy_server on
#    9000 (it closes first); nc from 127.0.0.2 holds a connection there.
#    Expected: one group 127.0.0.1:9000 with ~500 in TIME_WAIT, the source
#    127.0.0.1 exhausted, 127.0.0.2 not, and nc the process to wrap.
#  - server side: legacy_server -m close on 9001, and python's http.server
#    on [::1]:8001 answering curl over HTTP/1.0, close first: their
#    TIME_WAIT is grouped by listening port with the listener's name, and
#    curl, whose side has none, is not offered as the one to wrap.
#  - as another user: the same counts, the processes not seen.
# The text and the JSON (python3 -m json.tool) say the same.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
sysctl -qw net.ipv4.ip_local_port_range="40000 40499"

# Empty namespace: valid JSON, no groups.
"$TW" --diagnose --format json >"$T/empty.json" || fail "--diagnose failed"
python3 -m json.tool "$T/empty.json" >/dev/null || fail "not JSON"
assert_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["time_wait"]["total"], len(d["client_side"]), len(d["server_side"]), d["local_ports"]["usable"])' "$T/empty.json")" \
    "0 0 0 500" "an empty namespace"

bg "$EX/legacy_server" 9000 >/dev/null
wait_listen 9000
"$EX/legacy_client" -n 600 127.0.0.1 9000 >"$T/client" 2>&1
cat "$T/client"
assert_has "$T/client" "Cannot assign requested address" "the client runs out of ports"
nc -d -s 127.0.0.2 127.0.0.1 9000 >/dev/null &
_pids="$_pids $!"
for i in $(seq 100); do ss -Htn state established "dport = :9000" | grep -q . && break; sleep 0.05; done

bg "$EX/legacy_server" -m close 9001 >/dev/null
wait_listen 9001
"$EX/legacy_client" -n 100 -w 127.0.0.1 9001 >/dev/null 2>&1 || fail "legacy_client -w to 9001"

mkdir -p "$T/www" && echo hello >"$T/www/index.html"
(cd "$T/www" && exec python3 -m http.server --bind ::1 8001) >/dev/null 2>&1 &
_pids="$_pids $!"
wait_listen 8001
for i in $(seq 30); do curl -s -0 -o /dev/null "http://[::1]:8001/index.html" || fail "curl"; done
sleep 0.2

echo "ss: TIME_WAIT towards 9000 $(tw_count "dport = :9000"), at 9001 $(tw_count "sport = :9001"), at 8001 $(tw_count "sport = :8001")"
"$TW" --diagnose >"$T/text" || fail "--diagnose"
cat "$T/text"
"$TW" --diagnose --format json >"$T/json" || fail "--diagnose --format json"
python3 -m json.tool "$T/json" >/dev/null || { cat "$T/json"; fail "--format json is not JSON"; }

cat >"$T/check.py" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def out(*a): print(*a)
c = {"%s:%d" % (g["destination"], g["port"]): g for g in d["client_side"]}
s = {"%s:%d" % (g["address"], g["port"]): g for g in d["server_side"]}
g = c.get("127.0.0.1:9000")
out("client groups", sorted(c))
out("client side towards 9001", "127.0.0.1:9001" in c)
out("first client group %s:%d" % (d["client_side"][0]["destination"], d["client_side"][0]["port"]))
out("9000 tw", g["time_wait"], "open", g["open"])
src = {u["address"]: u for u in g["sources"]}
out("9000 from 127.0.0.1", src["127.0.0.1"]["exhausted"], src["127.0.0.1"]["ports_left"], src["127.0.0.1"]["usable_ports"])
out("9000 from 127.0.0.2", src["127.0.0.2"]["exhausted"], src["127.0.0.2"]["open"])
out("9000 holders", " ".join(h["program"] for h in g["holders"]))
out("9000 served by", g["served_by"] and g["served_by"]["program"])
out("9000 wrap", g["wrap"])
out("server groups", sorted(s))
for k in ("127.0.0.1:9001", "::1:8001"):
    v = s[k]
    out(k, "tw", v["time_wait"], "listener", v["listener"] and v["listener"]["program"])
    out(k, "wrap", v["wrap"])
out("total", d["time_wait"]["total"], d["time_wait"]["client_side"], d["time_wait"]["server_side"])
out("hidden", d["processes_hidden"] > 0, "root", d["root"])
out("tw_reuse", [x["value"] for x in d["sysctls"] if x["name"] == "net.ipv4.tcp_tw_reuse"][0])
PY
python3 "$T/check.py" "$T/json" >"$T/facts" || { cat "$T/json"; fail "the JSON lacks a group"; }
cat "$T/facts"
tw9000=$(tw_count "dport = :9000")
tw9001=$(tw_count "sport = :9001")
tw8001=$(tw_count "sport = :8001")
# curl may keep some TIME_WAIT too: http.server's FIN and curl's close can
# cross (a simultaneous close leaves it on both sides).
assert_has "$T/facts" "client groups ['127.0.0.1:9000'" "the client-side destination"
assert_has "$T/facts" "first client group 127.0.0.1:9000" "the largest group first"
assert_has "$T/facts" "client side towards 9001 False" "legacy_client -w, whose server closes first, keeps no TIME_WAIT"
assert_has "$T/facts" "9000 tw $tw9000 open 1" "9000: its TIME_WAIT as ss counts it, and nc's connection"
assert_ge "$tw9000" 490 "the client left ~500 TIME_WAIT"
assert_has "$T/facts" "9000 from 127.0.0.1 True 0 500" "127.0.0.1 has no port left towards 9000"
assert_has "$T/facts" "9000 from 127.0.0.2 False 1" "127.0.0.2 is not exhausted"
assert_has "$T/facts" "9000 holders nc" "nc holds a connection to 9000"
assert_has "$T/facts" "9000 served by legacy_server" "9000 is served here by legacy_server"
assert_has "$T/facts" "9000 wrap twshim -- nc -d -s 127.0.0.2 127.0.0.1 9000" "the command to wrap"
assert_has "$T/facts" "server groups ['127.0.0.1:9001', '::1:8001']" "two server-side ports"
assert_has "$T/facts" "127.0.0.1:9001 tw $tw9001 listener legacy_server" "9001: legacy_server's TIME_WAIT"
# Fewer than 100: a new SYN from a client port whose old connection the
# server holds in TIME_WAIT takes that TIME_WAIT over.
assert_ge "$tw9001" 50 "legacy_server -m close left TIME_WAIT on its side"
assert_has "$T/facts" "::1:8001 tw $tw8001 listener python3" "8001: python3's TIME_WAIT"
assert_ge "$tw8001" 1 "http.server closed HTTP/1.0 connections first"
assert_has "$T/facts" "127.0.0.1:9001 wrap twshim -e '[accepted *:9001];close = fin-then-reset' -- $EX/legacy_server -m close 9001" \
    "the server and its policy"
assert_has "$T/facts" "total $(tw_count) $(($(tw_count) - tw9001 - tw8001)) $((tw9001 + tw8001))" "the totals"
assert_has "$T/facts" "tw_reuse 0" "the sysctl"
assert_lacks "$T/json" '"program": "curl"' "curl is not offered: its side has no TIME_WAIT"

# The text says the same.
assert_has "$T/text" "127.0.0.1:9000: $tw9000 in TIME_WAIT, 1 open" "text: the client group"
assert_has "$T/text" "from 127.0.0.1: $tw9000 of 500 local ports in use, 0 left: no port left: connect() fails with EADDRNOTAVAIL now" \
    "text: exhaustion"
assert_has "$T/text" "connected now: nc (pid" "text: the holder"
assert_has "$T/text" "served here by legacy_server (pid" "text: the server of the destination"
assert_has "$T/text" "wrap it: twshim -- nc -d -s 127.0.0.2 127.0.0.1 9000" "text: what to run"
assert_has "$T/text" "[::1]:8001: $tw8001 in TIME_WAIT" "text: the IPv6 server group"
assert_has "$T/text" "listening: python3 (pid" "text: the listener"
assert_has "$T/text" "net.ipv4.tcp_tw_reuse = 0" "text: the sysctl"
assert_has "$T/text" "off: connect() never takes a 4-tuple still in TIME_WAIT" "text: what it means"

# A holder that runs in a systemd service is offered the drop-in too: the
# service read from its cgroup (here a stand-in file bound over nc's and
# legacy_server's /proc/PID/cgroup in a mount namespace of their own), in
# the unified hierarchy's form and in systemd's cgroup v1 one.
nc_pid=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([g for g in d["client_side"] if g["port"] == 9000][0]["holders"][0]["pid"])' "$T/json")
srv_pid=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([g for g in d["server_side"] if g["port"] == 9001][0]["listener"]["pid"])' "$T/json")
echo "0::/system.slice/fetcher.service" >"$T/cg.unified"
printf '4:memory:/x\n1:name=systemd:/system.slice/pong.service\n0::/\n' >"$T/cg.v1"
unshare -m env TW="$TW" T="$T" sh -c "
	mount --make-rprivate /
	mount --bind $T/cg.unified /proc/$nc_pid/cgroup
	mount --bind $T/cg.v1 /proc/$srv_pid/cgroup
	\"\$TW\" --diagnose --format json >$T/units.json
	\"\$TW\" --diagnose >$T/units.text" || fail "--diagnose with units"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = [g for g in d["client_side"] if g["port"] == 9000][0]
s = [g for g in d["server_side"] if g["port"] == 9001][0]
print("unit", c["holders"][0]["unit"], c["systemd"])
print("unit", s["listener"]["unit"], s["systemd"])
' "$T/units.json" >"$T/units"
cat "$T/units"
assert_has "$T/units" "unit fetcher.service twshim --systemd fetcher.service --write" "a client in a service"
assert_has "$T/units" "unit pong.service twshim --systemd pong.service -p POLICY --write" \
    "a server in a service (cgroup v1)"
assert_has "$T/units.text" "or its service: twshim --systemd fetcher.service --write" "text: the drop-in"

# With tcp_tw_reuse = 2, loopback to loopback: connect() is not stuck.
sysctl -qw net.ipv4.tcp_tw_reuse=2
"$TW" --diagnose --format json >"$T/json2"
assert_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([u["tw_reuse_applies"] for g in d["client_side"] for u in g["sources"] if u["address"] == "127.0.0.1"])' "$T/json2")" \
    "[True]" "tcp_tw_reuse = 2 applies over loopback"
sysctl -qw net.ipv4.tcp_tw_reuse=0

# Reserved ports are not counted as usable.
sysctl -qw net.ipv4.ip_local_reserved_ports=40100-40109,40200
"$TW" --diagnose --format json >"$T/json3"
assert_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["local_ports"]["reserved"], d["local_ports"]["usable"], [u["usable_ports"] for g in d["client_side"] for u in g["sources"] if u["address"] == "127.0.0.2"])' "$T/json3")" \
    "11 489 [489]" "ip_local_reserved_ports taken out of the usable ports"
sysctl -qw net.ipv4.ip_local_reserved_ports=""

# As another user: the same counts; the processes of others are not seen.
# (A copy of the launcher in $T, which nobody can reach wherever the tree is.)
chmod o+x "$T"
install -m 755 "$TW" "$T/twshim-copy"
if runuser -u nobody -- "$T/twshim-copy" --version >/dev/null 2>&1; then
	runuser -u nobody -- "$T/twshim-copy" --diagnose --format json >"$T/user.json" ||
		fail "--diagnose as nobody"
	python3 "$T/check.py" "$T/user.json" >"$T/user.facts" 2>&1
	cat "$T/user.facts"
	assert_has "$T/user.facts" "9000 tw $tw9000 open 1" "as a user: the same counts"
	assert_has "$T/user.facts" "9000 holders " "as a user: no holder seen"
	assert_lacks "$T/user.facts" "holders nc" "as a user: nc, root's, not seen"
	assert_has "$T/user.facts" "hidden True root False" "as a user: processes hidden, said"
	runuser -u nobody -- "$T/twshim-copy" --diagnose >"$T/user.text"
	assert_has "$T/user.text" "of other users not (run as root to see them)" "as a user: says so"
	assert_has "$T/user.text" "no process of yours holds a connection to 127.0.0.1:9000" "as a user: no holder"
else
	echo "skip: cannot switch to another user here"
fi

"$TW" --diagnose --format yaml >/dev/null 2>&1
assert_eq "$?" 125 "a bad --format is a usage error"

# The advice works: the server wrapped as --diagnose says (on a new port,
# 9002, since 9001's TIME_WAIT keeps a bare restart from binding) leaves
# no TIME_WAIT on its port, and its clients read every answer.
wrap=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([g["wrap"] for g in d["server_side"] if g["port"] == 9001][0])' "$T/json")
wrap=$(echo "$wrap" | sed 's/9001/9002/g; s/^twshim //')
echo "running: twshim $wrap"
eval "bg env LD_PRELOAD=\"${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB\" \"\$TW\" -q $wrap" >/dev/null
wait_listen 9002
"$EX/legacy_client" -n 100 -w 127.0.0.1 9002 >"$T/wrapped" 2>&1
cat "$T/wrapped"
assert_has "$T/wrapped" "100 of 100 requests completed" "under the advice, every answer read to EOF"
sleep 0.2
echo "TIME_WAIT at 9002: $(tw_count "sport = :9002"), towards it: $(tw_count "dport = :9002")"
assert_eq "$(tw_count "sport = :9002")" 0 "under the advice, no TIME_WAIT at the server"
