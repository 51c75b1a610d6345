#!/bin/sh
# run-all.sh BUILD - the whole suite: unit tests, integration tests (each in
# a network namespace of its own, once with the plain library and once with
# the ASan+UBSan build), the threaded stress tests (TSan) and a short fuzz.
# Ends with one line: "tests: N passed, N failed".
set -u
B=${1:-build}
passed=0
failed=0
failures=""

count() {	# count NAME STATUS
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok    $1"
	else
		failed=$((failed + 1))
		failures="$failures $1"
		echo "FAIL  $1"
	fi
}

if [ "$(id -u)" -eq 0 ]; then
	NETNS="unshare -n"
else
	NETNS="unshare -rn"	# an unprivileged user namespace, where allowed
fi

echo "== unit tests (Criterion, ASan+UBSan)"
"$B/unit_tests" -j2 >"$B/unit.log" 2>&1
unit_rc=$?
tail -n 1 "$B/unit.log"
u_pass=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' "$B/unit.log" | tail -n 1)
u_fail=$(sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p' "$B/unit.log" | tail -n 1)
passed=$((passed + ${u_pass:-0}))
set -- ${u_fail:-0 0}
failed=$(($failed + $1 + $2))
if [ "$unit_rc" -ne 0 ] && [ "$(($1 + $2))" -eq 0 ]; then
	cat "$B/unit.log"
	count unit_tests "$unit_rc"
fi

run_integration() {	# run_integration LABEL LIB PRELOAD_FIRST
	mkdir -p "$B/logs/$1"
	for t in tests/integration/t_*.sh; do
		name=$(basename "$t" .sh)
		log="$B/logs/$1/$name.log"
		started=$(date +%s)
		B="$B" LIB="$2" PRELOAD_FIRST="$3" SANITIZER="$1" timeout 120 \
		    $NETNS sh -c 'ip link set lo up && exec bash "$0"' "$t" >"$log" 2>&1
		rc=$?
		[ "$rc" -eq 0 ] || sed 's/^/    /' "$log" | tail -n 20
		count "$1/$name ($(( $(date +%s) - started )) s)" "$rc"
	done
}

echo "== integration tests"
run_integration plain "$B/libtwshim.so" ""

echo "== integration tests under ASan+UBSan"
ASAN_RT=$(${CC:-gcc} -print-file-name=libasan.so)
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_integration asan "$B/asan/libtwshim.so" "$ASAN_RT"
if grep -l "ERROR: AddressSanitizer\|runtime error:" "$B"/logs/asan/*.log 2>/dev/null; then
	count asan/no_sanitizer_reports 1
else
	count asan/no_sanitizer_reports 0
fi

echo "== threaded stress (TSan, shim linked in)"
TSAN_OPTIONS="halt_on_error=1 symbolize=1" timeout 300 $NETNS \
    sh -c 'ip link set lo up && exec "$0" 4 100000' "$B/tsan/stress" >"$B/logs/tsan.log" 2>&1
rc=$?
tail -n 3 "$B/logs/tsan.log"
count tsan/stress "$rc"
# The same with connects and the reaper thread busy.
TWSHIM_POLICY_TEXT="[client *:7901];close = abort;[client *:7902];close = graceful 100ms;[client *:7903];close = peer-first 50ms then abort-if-idle" \
TSAN_OPTIONS="halt_on_error=1 symbolize=1" timeout 300 $NETNS \
    sh -c 'ip link set lo up && exec "$0" 2 10000 soak' "$B/tsan/stress" >"$B/logs/tsan-soak.log" 2>&1
rc=$?
tail -n 3 "$B/logs/tsan-soak.log"
count tsan/soak_with_reaper "$rc"

echo "== soak: 2 threads x 50000 rounds of socket/connect/dup/close (about 10^6 calls), three close strategies"
TWSHIM_POLICY_TEXT="[client *:7901];close = abort;[client *:7902];close = graceful 100ms;[client *:7903];close = peer-first 50ms then abort-if-idle" \
    timeout 300 $NETNS sh -c 'ip link set lo up && exec "$0" 2 50000 soak' "$B/stress" >"$B/logs/soak.log" 2>&1
rc=$?
tail -n 3 "$B/logs/soak.log"
count soak/mixed_strategies "$rc"

if [ -x "$B/fuzz_policy" ] || command -v clang >/dev/null 2>&1; then
	echo "== policy parser fuzz (${FUZZ_SMOKE_SECONDS:-60} s)"
	make --no-print-directory "$B/fuzz_policy" >/dev/null 2>&1
	mkdir -p "$B/fuzz-corpus"
	"$B/fuzz_policy" -max_total_time="${FUZZ_SMOKE_SECONDS:-60}" -timeout=10 \
	    -artifact_prefix="$B/" "$B/fuzz-corpus" tests/fuzz/corpus >"$B/logs/fuzz.log" 2>&1
	rc=$?
	grep -E "^#[0-9]+ *DONE|Done [0-9]+ runs" "$B/logs/fuzz.log" | tail -n 1
	count fuzz/policy_parser "$rc"
fi

[ -z "$failures" ] || echo "failed:$failures"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
