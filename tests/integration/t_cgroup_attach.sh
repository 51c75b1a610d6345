# twshim --cgroup=PATH attaches to an existing cgroup (a service's, a
# container's) until SIGTERM, then detaches; killed with SIGKILL it leaves
# nothing attached and nothing loaded, since its programs hang on BPF links
# that die with it.  A program of the cgroup that moves into a network
# namespace of its own still has its TIME_WAITs destroyed there.
. tests/integration/lib.sh
. tests/integration/cgroup.sh

[ "${SANITIZER:-plain}" = asan ] && skip "the kernel backend does not use the library (plain run only)"

CG=$CG_OWN/twshim-test.$$
mkdir "$CG" || skip "cannot make a cgroup under $CG_OWN"
trap 'for p in $_pids; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rmdir "$CG" 2>/dev/null; rm -rf "$T"' EXIT

# attach: twshim --cgroup=$CG in the background, until its programs are attached.
attach() {
	$TW --cgroup="$CG" "$@" 2>"$T/agent" &
	agent=$!
	_pids="$_pids $agent"
	for _i in $(seq 1 100); do
		"$BPFTOOL" cgroup show "$CG" >"$T/attached"
		[ "$(cg_ids "$T/attached" | wc -l)" -eq 5 ] && return 0
		sleep 0.05
	done
	cat "$T/agent"
	fail "twshim --cgroup=$CG did not attach"
}

"$BPFTOOL" cgroup show "$CG" >"$T/before"
assert_eq "$(cg_ids "$T/before" | wc -l)" 0 "nothing attached before"

# SIGTERM: the agent detaches, says what it did, exits 0.
attach
"$BPFTOOL" cgroup show "$CG" >"$T/attached"
cat "$T/attached"
assert_eq "$(cg_ids "$T/attached" | wc -l)" 5 "five programs attached"
"$SS" 7301 2000 10 >"$T/server" &
_pids="$_pids $!"
wait_listen 7301
sh -c 'echo 0 >"$1/cgroup.procs" && exec "$2" 127.0.0.1 7301 300 10' sh "$CG" "$SC" >"$T/client"
cat "$T/client"
assert_has "$T/client" "client: 300 of 300" "a program put in the cgroup"
sleep 0.1
assert_eq "$(tw_count "dport = :7301")" 0 "its TIME_WAITs destroyed"
kill -TERM "$agent"
wait "$agent"
rc=$?
cat "$T/agent"
assert_eq "$rc" 0 "SIGTERM: exit 0"
assert_has "$T/agent" "300 TIME_WAIT destroyed" "SIGTERM: the line at exit"
"$BPFTOOL" cgroup show "$CG" >"$T/after"
assert_eq "$(cg_ids "$T/after" | wc -l)" 0 "SIGTERM: nothing attached"
assert_unloaded "$T/attached" "SIGTERM"

# SIGKILL: no chance to detach, and still nothing is left.
attach -q
"$BPFTOOL" cgroup show "$CG" >"$T/attached"
assert_eq "$(cg_ids "$T/attached" | wc -l)" 5 "attached again"
kill -KILL "$agent"
wait "$agent" 2>/dev/null
"$BPFTOOL" cgroup show "$CG" >"$T/killed"
cat "$T/killed"
assert_eq "$(cg_ids "$T/killed" | wc -l)" 0 "SIGKILL: nothing attached"
assert_unloaded "$T/attached" "SIGKILL"
"$BPFTOOL" link show >"$T/links"
for id in $(cg_ids "$T/attached"); do
	! grep -q "prog $id\$" "$T/links" || fail "SIGKILL: a link to program $id remains"
done
# Without the backend, the cgroup is back to the kernel's behaviour.
sh -c 'echo 0 >"$1/cgroup.procs" && exec "$2" 127.0.0.1 7301 5 10' sh "$CG" "$SC" >"$T/client5"
assert_has "$T/client5" "client: 5 of 5" "after SIGKILL: the client"
assert_eq "$(tw_count "dport = :7301")" 5 "after SIGKILL: TIME_WAIT as bare"

# An agent that falls behind: stopped, with a one-page ring buffer, while
# 300 connections close.  The events that found it full are counted as
# lost; the sweep then finds those TIME_WAITs by their cookies.
tw_before=$(tw_count "dport = :7301")
TWSHIM_CGROUP_RINGBUF=4096 attach
kill -STOP "$agent"
sh -c 'echo 0 >"$1/cgroup.procs" && exec "$2" 127.0.0.1 7301 300 10' sh "$CG" "$SC" >"$T/client"
assert_has "$T/client" "client: 300 of 300" "behind: the client"
kill -CONT "$agent"
sleep 0.3
kill -TERM "$agent"
wait "$agent"
cat "$T/agent"
assert_has "$T/agent" "300 TIME_WAIT destroyed" "behind: all destroyed in the end"
grep -q " 0 events lost" "$T/agent" && fail "behind: no event was lost (the ring buffer held them all)"
grep -q "(0 found by sweeps" "$T/agent" && fail "behind: the sweep found none"
assert_eq "$(tw_count "dport = :7301")" "$tw_before" "behind: no TIME_WAIT left of these"

# A program that moves into a network namespace of its own, inside the cgroup.
attach
sh -c 'echo 0 >"$1/cgroup.procs" && exec unshare -n sh -c "
	ip link set lo up
	$2 7302 200 10 >$3/inner_server &
	sleep 0.3
	$4 127.0.0.1 7302 200 10 >$3/inner_client
	wait
	sleep 0.2
	ss -Htan state time-wait | wc -l >$3/inner_tw"' sh "$CG" "$SS" "$T" "$SC"
kill -TERM "$agent"
wait "$agent"
cat "$T/inner_server" "$T/inner_client" "$T/agent"
assert_has "$T/inner_client" "client: 200 of 200" "another namespace: the client"
assert_has "$T/inner_server" "200 every byte then EOF" "another namespace: the server read it all"
assert_eq "$(cat "$T/inner_tw")" 0 "another namespace: no TIME_WAIT left there"
assert_has "$T/agent" "200 in other namespaces" "another namespace: counted"
# The command form passes on a SIGTERM sent to it and exits as the program
# did; a process that outlives the program is moved out, and the cgroup goes.
$TW --cgroup -q -- $INSIDE sleep 30 &
tw=$!
for _i in $(seq 1 100); do [ -s "$T/attached.path" ] && break; sleep 0.05; done
kill -TERM $tw
wait $tw
assert_eq "$?" 143 "SIGTERM passed on: the program's status"
[ ! -d "$(cat "$T/attached.path")" ] || fail "SIGTERM: the cgroup was not removed"
$TW --cgroup -- sh -c 'sleep 3 & exit 3' 2>"$T/outlived"
assert_eq "$?" 3 "the program's exit status"
cat "$T/outlived"
assert_has "$T/outlived" "1 process of the program outlived it" "a process left behind: said"
echo "PASS"
