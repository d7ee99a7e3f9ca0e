#!/bin/sh
# Installs the dependencies, builds mxenstored three ways (plain,
# ASan+UBSan, TSan) and runs the whole test suite through CTest (the
# plain tree's includes the spin model, label "model"); builds the
# packagers' Release (-O3) with gcc and with clang (built, not run: a
# warning is an error there too); smoke-runs the libFuzzer targets.
# With CI=true (.ci/run in CI) a test skipped for a missing dependency
# fails the run (scripts/ctest-ci.sh).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
"$here/scripts/install-deps.sh"

build() { # dir, extra cmake args
	dir=$1; shift
	cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j"$jobs"
}

# 1. TSan build of the daemon first: the plain suite's threaded
#    integration test also runs against it (MXS_TSAN_DAEMON).
build "$here/build-tsan" -DMXS_SANITIZE=thread -DMXS_BUILD_BENCH=OFF
# 2. Plain build: every test.
build "$here/build"
export MXS_TSAN_DAEMON="$here/build-tsan/mxenstored"
ctest_ci="$here/scripts/ctest-ci.sh" # ctest; with CI=true a skip fails
"$ctest_ci" "$here/build" -j"$jobs" -LE reference
# 3. ASan+UBSan: unit, integration and guest tests again (label guests
#    includes the advisory tests, xsa).
build "$here/build-asan" -DMXS_SANITIZE=address -DMXS_BUILD_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1 "$ctest_ci" "$here/build-asan" -j"$jobs" \
	-L "unit|integration|diff|guests"
# 4. TSan: unit tests (the RCU stress test is threaded) and the daemon
#    serving simulated guests, the advisory tests among them.
"$ctest_ci" "$here/build-tsan" -j"$jobs" -L "unit|guests"
# 5. Release (-O3) with gcc and with clang, benchmarks included: build
#    only.  -O3 inlines differently, so gcc's -Wmaybe-uninitialized and
#    clang's own warnings see code the RelWithDebInfo builds do not.
for cc in gcc clang; do
	cxx=g++; [ "$cc" = clang ] && cxx=clang++
	cmake -S "$here" -B "$here/build-release-$cc" -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_C_COMPILER=$cc -DCMAKE_CXX_COMPILER=$cxx >/dev/null
	cmake --build "$here/build-release-$cc" -j"$jobs"
done
# 6. libFuzzer smoke runs (clang; ASan+UBSan+fuzzer coverage): the
#    dispatcher 60 s, the ring, transaction and guest targets 30 s each.
cmake -S "$here" -B "$here/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	-DMXS_SANITIZE=address -DMXS_FUZZ=ON -DMXS_BUILD_BENCH=OFF >/dev/null
cmake --build "$here/build-fuzz" -j"$jobs" --target fuzz_dispatch fuzz_ring fuzz_txn fuzz_guest
"$ctest_ci" "$here/build-fuzz" -L fuzz
