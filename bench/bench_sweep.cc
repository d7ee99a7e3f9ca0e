// SPDX-License-Identifier: MIT
// One VIRQ_DOM_EXC sweep (core/domain.c mxs_domains_sweep) of a host of
// N domains, through the domain-info plugin ABI (include/mxs/dominfo.h)
// with a synthetic plugin (bench/dominfo-synthetic.c: N alive domains,
// no hypervisor) on an in-process daemon of one worker
// (bench/sweep-fixture.c over tests/inproc.h).
//
//   build/bench_sweep [--benchmark_filter=...] [--benchmark_format=json]
//
//   BM_DominfoSweep/N           mxs_dominfo_sweep alone: the plugin's
//                               getinfolist of N domains into the
//                               daemon's array
//   BM_DomainsSweep/N           the whole sweep on a daemon that knows
//                               the N domains: getinfolist,
//                               forget_vanished (one pass over the domid
//                               space), a lookup per reported domain,
//                               the walk of the domain list (nothing
//                               released: all are alive)
//   BM_DomainsSweepNoneKnown/N  the same on a daemon that knows none of
//                               them (every lookup misses, empty list)
//
// N: 1,024, 8,192 and 32,752, every domid a guest can have
// (MXS_DOMID_FIRST_RESERVED: a getinfolist result has at most that many
// entries; "32k domains").  items_per_second counts domains.  Results
// are checked, not asserted for speed: the count returned is N, and
// after a run every known domain was seen by the last sweep and none
// was released (SkipWithError otherwise).
#include <benchmark/benchmark.h>

#include <cstdint>

#include "bench/sweep-fixture.h"
#include "mxs/protocol.h"

namespace {

const char *const kPlugin = MXS_BENCH_DOMINFO_PLUGIN;

void BM_DominfoSweep(benchmark::State &state)
{
	const auto n = static_cast<uint32_t>(state.range(0));

	if (bench_sweep_setup(kPlugin, n, 0)) {
		state.SkipWithError("no in-process daemon or plugin");
		return;
	}
	for (auto _ : state) {
		// No DoNotOptimize(got): the call is to another translation
		// unit and its result is compared.  (g++ 12 -O2 with
		// -fsanitize=address,undefined, MXS_SANITIZE=address, reads
		// an int passed to benchmark 1.7.1's DoNotOptimize, a "+m,r"
		// asm, as 0 afterwards; either sanitizer alone, or clang, does
		// not.)
		int got = bench_sweep_dominfo();

		if (got != static_cast<int>(n)) {
			state.SkipWithError("getinfolist count is not N");
			break;
		}
	}
	state.SetItemsProcessed(state.iterations() * n);
}

void sweep(benchmark::State &state, bool all_known)
{
	const auto n = static_cast<uint32_t>(state.range(0));
	const char *why = nullptr;

	if (bench_sweep_setup(kPlugin, n, all_known ? n : 0)) {
		state.SkipWithError("no in-process daemon or plugin");
		return;
	}
	for (auto _ : state) {
		bench_sweep_domains();
		benchmark::ClobberMemory();
	}
	if (bench_sweep_check(&why))
		state.SkipWithError(why);
	state.SetItemsProcessed(state.iterations() * n);
}

void BM_DomainsSweep(benchmark::State &state)
{
	sweep(state, true);
}

void BM_DomainsSweepNoneKnown(benchmark::State &state)
{
	sweep(state, false);
}

void Sizes(benchmark::internal::Benchmark *b)
{
	b->Arg(1024)->Arg(8192)->Arg(MXS_DOMID_FIRST_RESERVED);
}

BENCHMARK(BM_DominfoSweep)->Apply(Sizes);
BENCHMARK(BM_DomainsSweep)->Apply(Sizes);
BENCHMARK(BM_DomainsSweepNoneKnown)->Apply(Sizes);

} // namespace

BENCHMARK_MAIN();
