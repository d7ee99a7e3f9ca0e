#!/bin/sh
# Installs the dependencies, builds mxenstored and starts it in the
# foreground in socket-only mode on a socket under the checkout.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build" -j"$(nproc)" --target mxenstored
mkdir -p "$here/run"
sock="$here/run/socket"
echo "mxenstored: socket $sock"
echo "try:  XENSTORED_PATH=$sock xenstore-ls /"
exec "$here/build/mxenstored" -N -D --socket "$sock"
