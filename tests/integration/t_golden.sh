# The launcher's --check and --explain against checked-in transcripts:
# every error with its line and column, every effective option with the
# line that set it.  GOLDEN_UPDATE=1 rewrites tests/golden/expected.
. tests/integration/lib.sh

# --explain without POLICY reads these, as a run does.
unset TWSHIM_POLICY TWSHIM_POLICY_TEXT

transcript() {
	grep -v '^#' tests/golden/cases | grep . | while IFS= read -r line; do
		eval "set -- $line"
		echo "\$ twshim $line"
		rc=0
		"$TW" "$@" >"$T/out" 2>"$T/err" || rc=$?
		cat "$T/out"
		sed 's/^/! /' "$T/err"
		echo "[exit $rc]"
	done
}

transcript >"$T/got"
if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then
	cp "$T/got" tests/golden/expected
	echo "tests/golden/expected rewritten"
	exit 0
fi
diff -u tests/golden/expected "$T/got" || fail "the transcript differs from tests/golden/expected"
n=$(grep -c '^\$ twshim' "$T/got")
echo "$n invocations as expected"
