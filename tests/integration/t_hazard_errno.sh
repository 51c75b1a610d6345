# Return values and errno of every hooked call, bare and under the library,
# must be the same; successful calls leave errno alone.
. tests/integration/lib.sh

"$B/helpers/errnos" >"$T/bare" 2>&1
with_shim '[client *];close = abort-if-idle;nodelay = yes' "$B/helpers/errnos" >"$T/shim" 2>&1
with_shim '[client *];close = peer-first 1s' "$B/helpers/errnos" >"$T/shim2" 2>&1
diff "$T/bare" "$T/shim" || fail "errno or return values differ under the library"
diff "$T/bare" "$T/shim2" || fail "errno or return values differ (peer-first)"
grep -q "rc=0 errno=kept" "$T/bare" || fail "the table checks nothing"
"$OPS" errno >"$T/e1"
with_shim '' "$OPS" errno >"$T/e2"
assert_has "$T/e2" "errno: 12345 12345" "a successful socket()+close() keeps errno"
