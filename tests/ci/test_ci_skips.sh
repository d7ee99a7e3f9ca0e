#!/bin/sh
# test_ci_skips.sh <repo> <python>
# In CI (CI=true) a test whose dependency is missing fails; elsewhere it
# is skipped.  Checked both ways at the two places that decide it:
#  1. an integration test (tests/integration/mxsfixture.py's SKIP) whose
#     daemon binary does not exist: exit 77 outside CI, a failure in CI;
#  2. scripts/ctest-ci.sh over a CTest tree holding one test that exits
#     77 (SKIP_RETURN_CODE 77, as the C tests of tests/xensim do): passes
#     outside CI, fails in CI.
set -u
repo=$1 py=$2
fail() { echo "FAIL: $*"; exit 1; }
missing=/nonexistent/mxenstored

rc=0; env -u CI "$py" "$repo/tests/integration/test_xstest.py" \
	--daemon "$missing" || rc=$?
[ "$rc" -eq 77 ] || fail "outside CI: exit $rc, expected 77 (skip)"
rc=0; CI=true "$py" "$repo/tests/integration/test_xstest.py" \
	--daemon "$missing" || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || fail "CI=true: exit $rc, expected a failure"

dir=$(mktemp -d "${TMPDIR:-/tmp}/mxs-ci-XXXXXX")
trap 'rm -rf "$dir"' EXIT
cat >"$dir/CTestTestfile.cmake" <<'EOT'
add_test(needs_missing_tool "sh" "-c" "echo 'SKIP: tool missing'; exit 77")
set_tests_properties(needs_missing_tool PROPERTIES SKIP_RETURN_CODE 77)
EOT
env -u CI "$repo/scripts/ctest-ci.sh" "$dir" >/dev/null ||
	fail "outside CI: ctest-ci.sh failed on a skipped test"
grep -q '\*\*\*Skipped' "$dir/ctest-ci.log" || fail "the test was not skipped"
if CI=true "$repo/scripts/ctest-ci.sh" "$dir" >/dev/null; then
	fail "CI=true: ctest-ci.sh passed with a skipped test"
fi
echo "OK: skips fail in CI, stay skips elsewhere"
