#!/bin/sh
# Checks tests/model/ring.pml exhaustively with spin (safety: assertions
# and invalid end states).
#   run-spin.sh <model.pml> <cc> pass [spin -D options...]
#       passes when the whole state space was searched without error;
#   run-spin.sh <model.pml> <cc> fail:<pattern> [spin -D options...]
#       passes only when spin reports an error whose line matches
#       <pattern> (a broken variant must fail for the reason it is broken).
# A missing spin is a failure, never a skip: the model is the test.
set -eu
model=$1 cc=$2 expect=$3
shift 3
command -v spin >/dev/null || { echo "spin not installed (Debian: spin)"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/mxs-spin-XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
spin "$@" -a "$model"
# -DSAFETY: no cycle search (the properties are safety properties).
"$cc" -O2 -DSAFETY -w -o pan pan.c
# -m: search depth (the deepest path is ~500 steps); -w26: 2^26 hash
# slots.  -E is not given: invalid end states are errors (deadlocks).
./pan -m100000 -w26 >out 2>&1 || true
cat out
if grep -q "max search depth too small\|search not completed\|out of memory" out; then
	echo "FAIL: the search was not exhaustive"
	exit 1
fi
errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' out)
[ -n "$errors" ] || { echo "FAIL: no result from pan"; exit 1; }
case $expect in
pass)
	[ "$errors" -eq 0 ] || { echo "FAIL: $errors error(s)"; exit 1; }
	echo "OK: no error in any interleaving" ;;
fail:*)
	pattern=${expect#fail:}
	[ "$errors" -gt 0 ] || { echo "FAIL: the broken variant passed"; exit 1; }
	grep "^pan:" out | grep -q -- "$pattern" || {
		echo "FAIL: an error, but not '$pattern'"; exit 1; }
	echo "OK: the broken variant fails as expected ($pattern)" ;;
*)
	echo "usage: run-spin.sh model cc pass|fail:pattern [-Dvar...]"; exit 2 ;;
esac
