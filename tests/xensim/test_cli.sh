#!/bin/sh
# The xensim CLI end to end: init, create, list, shutdown, destroy, and
# introduce/release against Debian's C xenstored under libxensim.so.
# usage: test_cli.sh XENSIM_BIN PRELOAD XENSTORED XENSTORE_READ
set -eu
XENSIM=$1 PRELOAD=$2 XENSTORED=$3 XSREAD=$4
[ -x "$XENSTORED" ] || { echo "SKIP: no $XENSTORED"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/xensim-cli.XXXXXX")
DPID=
cleanup() {
	if [ -n "$DPID" ]; then kill -9 "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true; fi
	rm -rf "$T"
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; exit 1; }

export XENSIM_DIR="$T/sim" XENSTORED_RUNDIR="$T/run" XENSTORED_PATH="$T/run/socket"
mkdir "$T/run"
"$XENSIM" init
[ "$("$XENSIM" create 5)" = 5 ] || fail "create 5"
[ "$("$XENSIM" create -n 3 | tr "\n" " ")" = "1 2 3 " ] || fail "create -n 3"
"$XENSIM" create 5 2>/dev/null && fail "duplicate domid accepted"
"$XENSIM" list | grep -q '^5 .*running' || fail "list"
"$XENSIM" shutdown --reason crash 5
"$XENSIM" info 5 | grep -q 'shutdown(3)' || fail "shutdown reason"

LD_PRELOAD="$PRELOAD" "$XENSTORED" -N >"$T/daemon.log" 2>&1 &
DPID=$!
i=0
while [ ! -S "$XENSTORED_PATH" ]; do
	i=$((i + 1)); [ $i -lt 3000 ] || fail "no socket"; sleep 0.01
done
# Introduce domain 2 as a toolstack does; the daemon maps its page.
"$XENSIM" introduce 2
"$XENSIM" info 2 | awk '{ exit !($NF == 1) }' || fail "ring not mapped after introduce"
"$XSREAD" /tool/xenstored >/dev/null || fail "xenstore-read on the socket"
"$XENSIM" release 2
"$XENSIM" introduce 2
"$XENSIM" destroy 2
i=0
while "$XENSIM" info 2 >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 3000 ] || fail "domain 2 not released by the daemon"; sleep 0.01
done
"$XENSIM" destroy 0 2>/dev/null && fail "dom0 destroyed"
kill -0 "$DPID" || fail "daemon died"
"$XENSIM" stats | grep -q '^lost 0$' || fail "lost events"
echo PASS
exit 0
