# twshim --stats FILE... over the files of a forking server (socat, a child
# per connection) and its client: per-program totals and a grand total, as
# text, JSON and the Prometheus text format, each checked against sums made
# here from the files themselves; then files that are not stats files, each
# refused with its name, nothing printed and no hang.
. tests/integration/lib.sh

PY=/usr/bin/python3	# Debian's, where python3-prometheus-client lives
D=$T/stats
mkdir "$D"

env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$D/twshim.%p" \
    socat TCP-LISTEN:7300,fork,reuseaddr PIPE &
server=$!
_pids="$_pids $server"
wait_listen 7300
with_shim '[client *];close = abort' env TWSHIM_STATS="$D/twshim.%p" \
    "$EX/legacy_client" -n 100 127.0.0.1 7300 >"$T/client" || fail "the client failed"
# Each child writes its file when its connection ends; the parent when stopped.
for _i in $(seq 100); do
	[ "$(ls "$D" | wc -l)" -ge 101 ] && break
	sleep 0.1
done
kill "$server"
wait "$server"
assert_eq "$(ls "$D" | wc -l)" 102 "a file per process: the client, socat and its 100 children"
assert_eq "$(stat_of role_accepted "$D/twshim.$server")" 100 "the socat parent accepted 100"

"$TW" --stats "$D"/twshim.* >"$T/text" 2>"$T/err" || { cat "$T/err"; fail "--stats failed"; }
cat "$T/text"
assert_has "$T/text" "socat: 101 processes" "socat's processes counted"
assert_has "$T/text" "legacy_client: 1 process (pid" "the client's one process"
assert_has "$T/text" "total of 2 programs: 102 processes" "the grand total"
# Each child counts only its own sockets: socat's total is the parent's 100.
assert_eq "$(sed -n '/^socat:/,/^total/p' "$T/text" | awk '/sockets returned by accept/ {print $1}')" 100 \
    "accepted sockets summed over socat's processes"
# The client's block: 100 clients, each closed with abort.
sed -n '/^legacy_client:/,/^socat:/p' "$T/text" >"$T/client_block"
assert_has "$T/client_block" "           100  sockets that became clients" "clients in text"
assert_has "$T/client_block" "           100  closes with abort" "aborts in text"
assert_lacks "$T/text" "closes with linger" "counters at zero left out of the text"

"$TW" --stats --format json "$D"/twshim.* >"$T/json" || fail "--format json failed"
"$TW" --stats --format=prometheus -- "$D"/twshim.* >"$T/prom" || fail "--format prometheus failed"
head -n 12 "$T/prom"

# Sums made here, from the files, against both formats: every counter of
# every program and of the total; the Prometheus text parsed by the
# reference parser, with a HELP and TYPE for every metric.
"$PY" - "$T/json" "$T/prom" shim/stats.def "$D"/twshim.* <<'EOF' || fail "the totals differ from the files"
import json, re, sys
from collections import defaultdict
from prometheus_client.parser import text_string_to_metric_families

got = json.load(open(sys.argv[1]))
prom = open(sys.argv[2]).read()
sums = defaultdict(lambda: defaultdict(int))
procs = defaultdict(int)
for path in sys.argv[4:]:
    kv = dict(line.split("=", 1) for line in open(path).read().splitlines())
    program = kv.pop("program")
    kv.pop("pid")
    procs[program] += 1
    for k, v in kv.items():
        sums[program][k] += int(v)
        sums[None][k] += int(v)

def check(what, a, b):
    if a != b:
        sys.exit("%s: got %r, expected %r" % (what, a, b))

check("programs", sorted(got["programs"]), sorted(procs))
for program, counters in sums.items():
    node = got["total"] if program is None else got["programs"][program]
    check("%s processes" % program, node["processes"],
          sum(procs.values()) if program is None else procs[program])
    check("%s counters" % program, node["counters"], dict(counters))
check("client role_client", got["programs"]["legacy_client"]["counters"]["role_client"], 100)
check("client close_abort", got["programs"]["legacy_client"]["counters"]["close_abort"], 100)

families = list(text_string_to_metric_families(prom))
for line in prom.splitlines():
    if not line.startswith("#"):
        check("sample syntax", bool(re.fullmatch(
            r'twshim_[a-z_]+\{program="[^"]*"(,[a-z]+="[a-z_]+")?\} [0-9]+', line)), True)
samples = {}
for f in families:
    check("prefix of " + f.name, f.name.startswith("twshim_"), True)
    check("HELP of " + f.name, f.documentation != "", True)
    check("TYPE of " + f.name, f.type in ("counter", "gauge"), True)
    for s in f.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
# The groups as the library declares them (shim/stats.def), not guessed.
defs = open(sys.argv[3]).read()
groups = {g: (m, l) for g, m, l in
          re.findall(r'GROUP\((\w+), "(\w+)", "(\w+)"', defs)}
grouped = {k: groups[g] + (v,) for k, g, v in
           re.findall(r'STAT_IN\((\w+), (\w+), "(\w+)"', defs)}
check("groups read", len(groups) >= 4 and "close_abort" in grouped, True)
def metric(name, program, **labels):
    return samples[(name, tuple(sorted(dict(program=program, **labels).items())))]
for program, counters in sums.items():
    if program is None:
        continue
    check("processes of " + program, metric("twshim_processes_total", program), procs[program])
    for k, v in counters.items():
        if k in grouped:
            metric_name, label, value = grouped[k]
            m = metric(metric_name, program, **{label: value})
        elif k == "tracked_at_exit":
            m = metric("twshim_sockets_open_at_exit", program)
        else:
            m = metric("twshim_%s_total" % k, program)
        check("%s %s in prometheus" % (program, k), m, v)
types = {f.name: f.type for f in families}
check("types", [types["twshim_processes"], types["twshim_sockets_open_at_exit"]],
      ["counter", "gauge"])
check("a counter", types["twshim_closes"], "counter")
check("client role", metric("twshim_sockets_by_role_total", "legacy_client", role="client"), 100)
print("json and prometheus agree with the files: %d programs, %d samples"
      % (len(procs), len(samples)))
EOF

# Counters this launcher does not know (a newer library's) are summed all
# the same, under twshim_other_total{counter=...} in the Prometheus text,
# whatever their names: one that starts like a group's (close_) or is
# named like a group's metric (closes) makes no second TYPE block.  Program
# names that are not UTF-8, or hold quotes and backslashes, stay distinct
# (\xNN for a stray byte, \\ for a backslash): two programs, two JSON
# keys, two Prometheus series, never one.
printf 'pid=7\nprogram=a"b\\c\377\nclose_someday=3\nsomething_new=5\ncloses=1\n' >"$T/new.1"
printf 'pid=8\nprogram=a"b\\c\376\nclose_someday=4\nsomething_new=6\ncloses=2\n' >"$T/new.2"
printf 'pid=9\nprogram=a"b\\c\376\nclose_someday=1\nsomething_new=1\ncloses=1\n' >"$T/new.3"
printf 'pid=10\nprogram=a"b\\\\c\\xfe\nclose_someday=1\nsomething_new=1\ncloses=1\n' >"$T/new.4"
"$TW" --stats "$T"/new.* >"$T/newtext" || fail "new keys refused"
cat "$T/newtext"
assert_has "$T/newtext" 'a"b\\c\xff: 1 process' "a stray byte as \\xNN"
assert_has "$T/newtext" 'a"b\\c\xfe: 2 processes' "another stray byte, another program"
assert_has "$T/newtext" 'a"b\\\\c\\xfe: 1 process' "a name that spells an escape is not the same program"
assert_has "$T/newtext" "             9  close_someday" "an unknown close counter summed"
"$TW" --stats --format json "$T"/new.* | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
p = d["programs"]
assert sorted(p) == sorted(["a\"b\\\\c\\xff", "a\"b\\\\c\\xfe", "a\"b\\\\\\\\c\\\\xfe"]), sorted(p)
assert d["total"]["programs"] == len(p) == 3, d["total"]
assert p["a\"b\\\\c\\xfe"]["counters"] == {"close_someday": 5, "something_new": 7, "closes": 3}, p
' || fail "unknown counters or odd names in JSON"
"$TW" --stats --format prometheus "$T"/new.* >"$T/newprom"
cat "$T/newprom"
assert_eq "$(grep -v '^#' "$T/newprom" | sed 's/ [0-9]*$//' | sort | uniq -d | wc -l)" 0 \
    "no series twice"
assert_eq "$(grep '^# TYPE' "$T/newprom" | sort | uniq -d | wc -l)" 0 "no metric declared twice"
"$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
s = {(x.name, tuple(sorted(x.labels.items()))): x.value
     for f in text_string_to_metric_families(open(sys.argv[1]).read()) for x in f.samples}
p = "a\"b\\\\c\\xfe"
assert s[("twshim_other_total", (("counter", "close_someday"), ("program", p)))] == 5, s
assert s[("twshim_other_total", (("counter", "something_new"), ("program", p)))] == 7, s
assert s[("twshim_other_total", (("counter", "closes"), ("program", p)))] == 3, s
assert s[("twshim_processes_total", (("program", p),))] == 2, s
assert len([k for k in s if k[0] == "twshim_processes_total"]) == 3, s
' "$T/newprom" || fail "unknown counters or odd names in the Prometheus text"

# Files that are not stats files: each refused, naming it; nothing printed.
good=$(ls "$D"/twshim.* | head -n 1)
# A live file (TWSHIM_STATS=DIR), then copies of it cut or changed.
mkdir "$T/livedir" "$T/a_directory" "$T/a_directory/x.twstats"
with_shim '[client *];close = abort' env TWSHIM_STATS="$T/livedir" \
    "$EX/legacy_client" -n 2 127.0.0.1 7300 >/dev/null 2>&1
live=$(ls "$T"/livedir/*.twstats)
"$TW" --stats "$T/livedir" >"$T/out" || fail "the live file refused"
assert_has "$T/out" "legacy_client: 1 process" "the live file read"
head -c -8 "$live" >"$T/live_cut"
sed 's/^counters=\([0-9]*\)@/counters=\1@1/' "$live" >"$T/live_offset"
sed 's/^close_abort$/close_abort\nclose_abort/' "$live" >"$T/live_twice"
mkfifo "$T/a_fifo"
ln -s "$good" "$T/a_link"
head -c -3 "$good" >"$T/truncated"
: >"$T/empty"
cp "$OPS" "$T/binary"
head -c 2000000 /dev/zero | tr '\0' x >"$T/huge"
{ echo pid=1; echo program=x; echo 'close_abort=12abc'; } >"$T/not_a_count"
{ echo pid=1; echo program=x; echo 'close_abort=99999999999999999999999'; } >"$T/too_big"
{ echo pid=1; echo program=x; echo 'close_abort=1'; echo 'close_abort=1'; } >"$T/twice"
{ echo program=x; echo 'close_abort=1'; } >"$T/no_pid"
printf 'pid=1\nprogram=x\nclose_abort=18446744073709551615\n' >"$T/max.1"
printf 'pid=2\nprogram=x\nclose_abort=1\n' >"$T/max.2"
for bad in a_directory a_fifo a_link truncated empty binary huge not_a_count too_big twice \
    no_pid live_cut live_offset live_twice /dev/null /nonexistent; do
	case $bad in /*) path=$bad ;; *) path=$T/$bad ;; esac
	rc=0
	timeout 10 "$TW" --stats "$good" "$path" >"$T/out" 2>"$T/err" || rc=$?
	echo "$bad: exit $rc: $(head -n 1 "$T/err")"
	assert_eq "$rc" 1 "$bad: refused"
	assert_has "$T/err" "twshim: $path" "$bad: the error names the file"
	assert_eq "$(wc -c <"$T/out")" 0 "$bad: nothing printed"
done
assert_has "$T/err" "No such file" "a missing file"
rc=0
"$TW" --stats "$T/max.1" "$T/max.2" >"$T/out" 2>"$T/err" || rc=$?
cat "$T/err"
assert_eq "$rc" 1 "a sum past 2^64 refused"
for usage in "--stats" "--stats --format" "--stats --format xml $good" "--stats --format json"; do
	rc=0
	"$TW" $usage >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 125 "twshim $usage: a usage error"
done
