# The launcher: exit codes, LD_PRELOAD kept, policy errors stop before the
# program, warnings for programs the library cannot reach.
. tests/integration/lib.sh

"$TW" --version | grep -q "^twshim " || fail "--version"
"$TW" --help | grep -q "usage: twshim" || fail "--help"
"$TW" sh -c 'exit 7'; assert_eq $? 7 "the command's own exit status"
"$TW" /nonexistent/prog 2>/dev/null; assert_eq $? 127 "command not found"
"$TW" /etc/passwd 2>/dev/null; assert_eq $? 126 "command not executable"
"$TW" --bogus true 2>/dev/null; assert_eq $? 125 "usage error"
"$TW" -e '[client *];close = sometimes' true 2>"$T/err"; assert_eq $? 125 "policy error"
assert_has "$T/err" "<inline>:2:9:" "the error names line and column"

# LD_PRELOAD: prepended, the previous value kept.
LD_PRELOAD=/lib/x86_64-linux-gnu/libm.so.6 "$TW" sh -c 'echo "$LD_PRELOAD"' >"$T/pre"
grep -q "libtwshim.so:/lib/x86_64-linux-gnu/libm.so.6$" "$T/pre" || fail "LD_PRELOAD: $(cat "$T/pre")"
# Variables reach the program.
"$TW" -v --dry-run -e '[client *];close = abort' sh -c 'echo "$TWSHIM_LOG $TWSHIM_DRY_RUN $TWSHIM_POLICY_TEXT"' \
    >"$T/env" 2>"$T/v"
assert_has "$T/env" "info 1 [client *];close = abort" "environment"
assert_has "$T/v" "close = abort" "-v prints the policy"

# A statically linked program: warned about, run all the same.
printf 'int main(void){return 3;}\n' >"$T/s.c"
cc -static -o "$T/static" "$T/s.c"
"$TW" "$T/static" 2>"$T/warn"; assert_eq $? 3 "static program ran"
assert_has "$T/warn" "statically linked" "static warning"
"$TW" -q "$T/static" 2>"$T/quiet"; [ -s "$T/quiet" ] && fail "-q must silence the warning"
# A Go program is recognised by the .go.buildinfo section its linker writes;
# no Go toolchain here, so a C program carries one as a stand-in.
printf '__attribute__((section(".go.buildinfo"), used)) static const char b[] = "x";\nint main(void){return 4;}\n' >"$T/g.c"
cc -o "$T/goish" "$T/g.c"
"$TW" "$T/goish" 2>"$T/warn3"; assert_eq $? 4 "the Go-like program ran"
assert_has "$T/warn3" "Go program" "Go warning"
# setuid, setgid, file capabilities: a warning for whoever the exec would
# change (nobody here), none for root running root's own setuid file.
chmod 755 "$T"
cp /bin/true "$T/suid"; chmod 4755 "$T/suid"
cp /bin/true "$T/sgid"; chmod 2755 "$T/sgid"
cp /bin/true "$T/caps"; setcap cap_net_bind_service+ep "$T/caps"
# nobody may not reach the checkout (a clone in a private directory): it
# runs copies of the launcher and the library it finds beside itself.
mkdir -m 755 "$T/bin"
cp "$TW" "$B/libtwshim.so" "$T/bin/"
chmod 755 "$T/bin/twshim" "$T/bin/libtwshim.so"
as_nobody="setpriv --reuid=nobody --regid=nogroup --clear-groups"
$as_nobody "$T/bin/twshim" "$T/suid" 2>"$T/warn2"; assert_has "$T/warn2" "is setuid" "setuid warning"
$as_nobody "$T/bin/twshim" "$T/sgid" 2>"$T/warn4"; assert_has "$T/warn4" "is setgid" "setgid warning"
$as_nobody "$T/bin/twshim" "$T/caps" 2>"$T/warn5"; assert_has "$T/warn5" "file capabilities" "capabilities warning"
"$TW" "$T/suid" 2>"$T/warn6"; assert_lacks "$T/warn6" "secure mode" "root's own setuid file"

# --dry-run alone says what would be done, and does nothing of it.
echo_server 127.0.0.1 7081 "$T/dry-server.log"
"$TW" --dry-run -e '[client *];close = abort' -- "$EX/legacy_client" -n 1 127.0.0.1 7081 \
    >/dev/null 2>"$T/dry"
sleep 0.2
cat "$T/dry" "$T/dry-server.log"
assert_has "$T/dry" "close would be abort (dry run)" "the dry run tells the close"
assert_lacks "$T/dry-server.log" "reset" "and does not reset"

# --check, --explain, --sysctl.
printf '[client 10.0.0.0/8:6379]\nclose = abort-if-idle\nlocal_ports = 20000-29999\n' >"$T/p.conf"
"$TW" --check "$T/p.conf" >/dev/null || fail "--check of a good file"
"$TW" --explain "$T/p.conf" client 10.1.2.3:6379 >"$T/ex"
cat "$T/ex"
assert_has "$T/ex" "close = abort-if-idle" "--explain shows the strategy"
assert_has "$T/ex" "p.conf:2" "with its line"
assert_has "$T/ex" "local_ports = 20000-29999" "and the port range"
"$TW" --sysctl | grep -q "tcp_fin_timeout" || fail "--sysctl"

# A bad policy from the environment follows its own on_error: passthrough
# runs the program (unmodified, after the errors), exit stops it with 125.
TWSHIM_POLICY_TEXT='[client *];close = bogus' "$TW" -- sh -c 'exit 3' 2>"$T/envbad"
assert_eq $? 3 "passthrough: the program ran, with its own status"
assert_has "$T/envbad" "without twshim (on_error = passthrough)" "and was told so"
TWSHIM_POLICY_TEXT='on_error = exit;[client *];close = bogus' "$TW" -- sh -c 'exit 3' 2>/dev/null
assert_eq $? 125 "on_error = exit: stopped before the program"

# An empty TWSHIM_POLICY_TEXT counts as unset, as an empty TWSHIM_POLICY does.
printf '[client *]\nclose = abort\n' >"$T/env.conf"
env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_LOG=info TWSHIM_POLICY_TEXT= \
    TWSHIM_POLICY="$T/env.conf" true 2>"$T/empty1"
assert_has "$T/empty1" "policy $T/env.conf loaded" "an empty TWSHIM_POLICY_TEXT: the file is read"
env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_LOG=info TWSHIM_POLICY_TEXT= \
    TWSHIM_POLICY= true 2>"$T/empty2"
assert_has "$T/empty2" "policy <default> loaded" "both empty: the built-in default"
