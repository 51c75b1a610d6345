# CPython's own socket tests (test_socket, from Debian's
# libpython3.11-testsuite), bare and under the built-in default policy: a
# test that fails only under twshim is a change a program can see.  The
# VSOCK cases are left out (they hang on some kernels even bare).
. tests/integration/lib.sh

if [ "${SANITIZER:-plain}" = asan ]; then
	echo "skip: CPython's test_socket runs with the plain library only (its run takes seconds, and a sanitized interpreter adds nothing the plain pass misses)"
	exit 0
fi
PY=/usr/bin/python3
[ -f /usr/lib/python3.11/test/test_socket.py ] ||
    fail "no CPython test suite: apt-get install libpython3.11-testsuite (make deps)"

# The launcher with no policy, as a user would run it; another library
# (an older build, for comparison) by LD_PRELOAD, which is what it does.
if [ "$LIB" = "$(realpath "$B/libtwshim.so")" ]; then
	shim="$TW --"
else
	shim="env LD_PRELOAD=$LIB"
fi
start=$(date +%s)
env -u TWSHIM_POLICY -u TWSHIM_POLICY_TEXT \
    $PY tests/helpers/pysocketsuite.py 4 $shim >"$T/suite" 2>&1
rc=$?
cat "$T/suite"
echo "took $(($(date +%s) - start)) s"
ran=$(sed -n 's/^twshim: \([0-9]*\) tests ran.*/\1/p' "$T/suite")
assert_ge "${ran:-0}" 600 "test_socket ran under twshim"
[ "$rc" -eq 0 ] || fail "tests fail under twshim that pass bare"
