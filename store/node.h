/* SPDX-License-Identifier: MIT */
/*
 * Private to store/: the live tree's nodes, their versions and the index,
 * shared by node.c (which alone mutates them), txn.c, store.c and check.c.
 *
 * Ordering labels of the live tree (each names one release/acquire pair):
 *   STORE_NODE_R1/A1   mxs_node.pathlen: a node's path and links are
 *                      written before the index can match it.
 *   STORE_VAL_R1/A1    mxs_node.val: a node version is fully built before
 *                      a reader can load the pointer to it.
 *   STORE_KIDS_R1/A1   kids_head / next_sib: a child is fully built before
 *                      a reader walking its parent's list can reach it.
 *   STORE_KIDLIST_R1/A1 mxs_nodeval_kidslot(): a cached child list is
 *                      built before another reader can use it.
 *   STORE_SPECIAL_R1/A1 mxs_store.special[]: the permissions of
 *                      @introduceDomain / @releaseDomain.
 *   STORE_SEQ_R1/A1    mxs_store.seq: everything a commit stamped is
 *                      linked before a snapshot can include it.
 *   STORE_GRACE_R1/A1  mxs_grace.done: a grace period passed since the
 *                      probe was queued, and its callback is done with it.
 * The index itself (cds_lfht_add / cds_lfht_lookup) orders with liburcu's
 * own rcu_assign_pointer / rcu_dereference.
 */
#ifndef MXS_STORE_NODE_H
#define MXS_STORE_NODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "mxs/protocol.h"
#include "store/perms.h"
#include "store/rcu.h"
#include "store/store.h"

/* An impossible state: says where and why, then aborts (every build). */
#define MXS_STORE_BUG(why) mxs_store_bug(__FILE__, __LINE__, (why))
_Noreturn void mxs_store_bug(const char *file, int line, const char *why);

#define MXS_GEN_NONE UINT64_MAX /* generation recorded for a missing node */

/*
 * Commit sequence numbers, counted in generations (st->gen).  A commit (a
 * mutation outside a transaction, a transaction's commit, a domain's
 * removal) owns the generations from st->wseq (the one after the last
 * handed out when it began) to the last one it hands out, and publishes
 * that one as st->seq: births and deaths are stamped with wseq, versions
 * with their own generation, all of them > the previous st->seq and <=
 * the new one.  A reader samples st->seq once (a snapshot S) and sees,
 * per node, the version and the child links of the newest commit <= S.
 * MXS_SEQ_WRITER is the writer's own view (the newest of everything,
 * under the writer lock); MXS_SEQ_ALIVE the death stamp of a node that
 * is not removed.
 */
#define MXS_SEQ_ALIVE UINT64_MAX
#define MXS_SEQ_WRITER (UINT64_MAX - 1)

/*
 * One version of a node's contents.  Immutable once published, except
 * `older`, which only the writer sets, before publishing.  Versions of a
 * node form a chain from the newest (mxs_node.val) to older ones; only the
 * newest two are guaranteed allocated (the one before them was retired
 * when the newest was installed: no reader whose snapshot is newer than
 * the second one's seq ever goes past it, and older readers are covered
 * by the grace period).  No rcu_head here: a commit retires what it
 * superseded in one struct mxs_retired, one call_rcu per commit.
 *
 * Generations and commit stamps are one counter (st->gen): a commit
 * stamps its nodes with the first generation it may hand out (st->wseq)
 * and publishes the last one it handed out (st->seq), so a version's
 * generation orders it against snapshots as a commit stamp would, and no
 * version needs both.
 *
 * Two representations, fixed when the version is allocated:
 *   lean (gens == 0): the last change of value or permissions and the
 *       setting of the permission list are this version itself, so
 *       meta_gen and perms_gen are both seq and not stored.  Every
 *       version that sets its own list (a creation, SET_PERMS) is made
 *       lean: 16 bytes less, a 13-byte path's version of a 32-byte value
 *       and one permission in 64 bytes instead of 80 (docs/performance.md,
 *       "Memory per node").  Until installed (version_stamp) it is
 *       `unstamped`: its perms_gen is MXS_GEN_NONE (the list is being
 *       set now) and its meta_gen its base's seq, as the seq it holds.
 *   full (gens == 1): meta_gen and perms_gen stored at the start of data
 *       (mxs_nodeval_meta_gen / mxs_nodeval_perms_gen): a write that
 *       keeps the list, a touch (only the children changed), a copy.
 */
struct mxs_nodeval {
	/*
	 * The generation this version was installed at: its commit stamp
	 * (visible to snapshots >= seq), the transactions' conflict check
	 * (a different seq is a change of value, permissions or children)
	 * and DIRECTORY_PART's generation.  A version not yet installed
	 * holds its base's, stamped when installed (version_stamp).
	 */
	uint64_t seq;
	struct mxs_nodeval *older; /* STORE_VAL: the version before, or NULL */
	/*
	 * Bounded by the payload (MXS_PAYLOAD_MAX).  kidslot: this version
	 * ends with a child-list cache slot (mxs_nodeval_kidslot).  Only
	 * versions made by a change of the children (the touches) and the
	 * versions that copy one carry it: a leaf never pays for it.
	 * gens: full representation (above); unstamped: lean, not yet
	 * installed.
	 */
	unsigned int vlen : 13, kidslot : 1, gens : 1, unstamped : 1,
		nperms : 16;
	/*
	 * If gens, meta_gen and perms_gen (16 bytes, not 8-aligned: read
	 * and written with memcpy); then nperms permission entries, vlen
	 * bytes of value and a NUL, then, if kidslot, the cache slot, in
	 * this allocation (mxs_nodeval_perms / mxs_nodeval_value /
	 * mxs_nodeval_kidslot): no pointers to them, so that a version of a
	 * short value fits a small size class (docs/performance.md, "Memory
	 * per node").
	 */
	_Alignas(struct mxs_perm) unsigned char data[];
};

_Static_assert(MXS_PAYLOAD_MAX < 1u << 13 && MXS_PAYLOAD_MAX <= UINT16_MAX,
	       "vlen is 13 bits, nperms 16");
_Static_assert(offsetof(struct mxs_nodeval, data) <= 20,
	       "mxs_nodeval grew: a lean version of a 32-byte value and one "
	       "permission no longer fits 64 bytes, a full one 80");

/* Bytes before the permission list: the header, and the two stored
 * generations of a full version. */
static inline size_t mxs_nodeval_head(bool gens)
{
	return offsetof(struct mxs_nodeval, data) + (gens ? 16 : 0);
}

/* Last change of v's value or permissions. */
static inline uint64_t mxs_nodeval_meta_gen(const struct mxs_nodeval *v)
{
	uint64_t g;

	if (!v->gens)
		return v->seq;
	memcpy(&g, v->data, sizeof(g));
	return g;
}

/*
 * Generation at which v's permission list was set (creation or
 * SET_PERMS): the domain oracle's entries introduced later are stale
 * (store.h).  MXS_GEN_NONE in a version not yet installed that sets the
 * list itself: stamped with seq when it is installed.
 */
static inline uint64_t mxs_nodeval_perms_gen(const struct mxs_nodeval *v)
{
	uint64_t g;

	if (!v->gens)
		return v->unstamped ? MXS_GEN_NONE : v->seq;
	memcpy(&g, v->data + sizeof(g), sizeof(g));
	return g;
}

/* Sets the stored generations of a full version v, not yet published.
 * Caller: the version's only user (the writer, or its transaction). */
static inline void mxs_nodeval_set_gens(struct mxs_nodeval *v,
					uint64_t meta_gen, uint64_t perms_gen)
{
	if (!v->gens)
		MXS_STORE_BUG("stored generations of a lean version");
	memcpy(v->data, &meta_gen, sizeof(meta_gen));
	memcpy(v->data + sizeof(meta_gen), &perms_gen, sizeof(perms_gen));
}

/* The permission list of v (writable only before v is published). */
static inline struct mxs_perm *mxs_nodeval_perms(const struct mxs_nodeval *v)
{
	return (struct mxs_perm *)((char *)v + mxs_nodeval_head(v->gens));
}

/* The value of v: vlen bytes and a NUL. */
static inline const char *mxs_nodeval_value(const struct mxs_nodeval *v)
{
	return (const char *)mxs_nodeval_perms(v) +
	       v->nperms * sizeof(struct mxs_perm);
}

struct mxs_kidlist {
	size_t len;
	char names[]; /* each NUL-terminated */
};

/* Offset of the child-list cache slot after the head (mxs_nodeval_head),
 * nperms entries and vlen bytes of value and its NUL. */
static inline size_t mxs_nodeval_kidslot_off(bool gens, size_t nperms,
					     size_t vlen)
{
	size_t off = mxs_nodeval_head(gens) +
		     nperms * sizeof(struct mxs_perm) + vlen + 1;
	size_t a = _Alignof(struct mxs_kidlist *);

	return (off + a - 1) & ~(a - 1);
}

/*
 * STORE_KIDLIST: the child list at version v, concatenated, built by the
 * first DIRECTORY_PART that needs it (NULL until then); NULL if v has no
 * slot.  The one field a reader writes: every commit that changes a
 * child list gives the parent a new version, so the list of a version
 * never changes.  Freed with the version.
 */
static inline struct mxs_kidlist **
mxs_nodeval_kidslot(const struct mxs_nodeval *v)
{
	if (!v->kidslot)
		return NULL;
	return (struct mxs_kidlist **)((char *)v +
				       mxs_nodeval_kidslot_off(v->gens,
							       v->nperms,
							       v->vlen));
}

/*
 * A node object: one life of a path, from the commit that created it
 * (born) to the one that removed it (died).  A removed node stays in the
 * index and in its parent's child list, invisible to snapshots >= died,
 * until no reader can hold an older snapshot (a grace period after died
 * was published); then the writer unlinks it and frees it after one more
 * grace period.  A path removed and created again has two node objects
 * meanwhile, of which at most one is visible at any snapshot.
 *
 * How long a looked-up node stays valid: until the reader's next
 * quiescent state; its next_sib keeps pointing into the same list (or at
 * a node unlinked in the same grace period), so a listing goes on.
 */
struct mxs_node {
	struct cds_lfht_node hnode;    /* in st->index, key = path */
	/*
	 * Writer lock: previous sibling; the first child's is the last.
	 * No parent pointer: the writer finds the parent through the index
	 * (mxs_node_parent), a lookup where it needs one, which keeps the
	 * header and a short path within 96 bytes.
	 */
	struct mxs_node *prev_sib;
	/* One use per phase of a life (writer lock, then call_rcu). */
	union {
		struct {               /* alive: the owner index */
			struct mxs_node *own_next, *own_prev;
		};
		struct mxs_node *grave_next; /* removed, still linked */
		struct rcu_head rcu;   /* unlinked, waiting to be freed */
	};
	/*
	 * What readers touch, last and next to the path: a listing reads
	 * next_sib, born, died, pathlen and the name, a few contiguous
	 * bytes per child.  Kept small: node size is what a DIRECTORY of
	 * thousands of children costs (docs/design.md).
	 */
	struct mxs_nodeval *val;       /* STORE_VAL: newest, never NULL */
	struct mxs_node *kids_head;    /* STORE_KIDS: first child */
	struct mxs_node *next_sib;     /* STORE_KIDS: next child of parent */
	uint64_t born;                 /* set before the node is linked */
	uint64_t died;                 /* STORE_SEQ: MXS_SEQ_ALIVE or seq */
	/* STORE_NODE: 0 until mxs_node_create publishes the node (set
	 * before indexing), then the length of path (<= MXS_ABS_PATH_MAX). */
	uint16_t pathlen;
	char path[];                   /* and a NUL */
};

/*
 * The header ends 82 bytes in (the node is allocated to the end of its
 * path, not to sizeof): a 13-byte path and its NUL fit the 96-byte class
 * (docs/performance.md, "Memory per node").
 */
_Static_assert(offsetof(struct mxs_node, path) <= 82, "mxs_node grew");
_Static_assert(MXS_ABS_PATH_MAX <= UINT16_MAX, "pathlen is 16 bits");

/* The last component of published node c's path, *len bytes (the root's
 * is empty). */
static inline const char *mxs_node_name(const struct mxs_node *c,
					size_t *len)
{
	size_t i = c->pathlen;

	while (i > 0 && c->path[i - 1] != '/')
		i--;
	*len = c->pathlen - i;
	return c->path + i;
}

/*
 * A grace-period probe, queued with call_rcu by a commit that removed
 * nodes: once done, no reader holds a snapshot older than seq, and the
 * writer may unlink the nodes removed up to seq.
 */
struct mxs_grace {
	struct rcu_head rcu;
	uint64_t seq;    /* the commit that queued it */
	int done;        /* STORE_GRACE: set by the callback */
	struct mxs_grace *next; /* writer lock: queue order */
};

#define MXS_CACHE_LINE 64

/*
 * Laid out by who touches what: the read-mostly fields every request
 * reads, then the writer lock, the commit sequence and the writer's
 * counters on lines of their own, so that writers taking the lock and
 * bumping generations do not evict what readers load.
 */
struct mxs_store {
	/* Read by every request; set at creation (oracle, strict: before
	 * the store is shared). */
	struct cds_lfht *index;
	struct mxs_node *root;
	/* @introduceDomain and @releaseDomain permissions (STORE_SPECIAL). */
	struct mxs_nodeval *special[2];
	/* Domain oracle (store.h). */
	mxs_store_domain_fn oracle;
	void *oracle_arg;
	bool strict_conflicts; /* the C daemon's conflict rule */
	/* Node quota (store.h, mxs_store_set_node_quota). */
	mxs_store_quota_fn node_quota;
	void *node_quota_arg;
	/* Memory quota (store.h, mxs_store_set_memory_quota). */
	mxs_store_mem_fn mem_quota;
	void *mem_quota_arg;

	/* Serialises all mutations of the live tree. */
	_Alignas(MXS_CACHE_LINE) pthread_mutex_t wlock;

	/* STORE_SEQ: the last commit visible to readers (release, once per
	 * commit, after everything the commit changed is linked). */
	_Alignas(MXS_CACHE_LINE) uint64_t seq;

	/* Writer lock (relaxed reads where noted). */
	_Alignas(MXS_CACHE_LINE) uint64_t gen; /* last generation handed out */
	uint64_t wseq;  /* the commit being applied: its first generation */
	struct mxs_touches *touches; /* the commit's touches */
	uint64_t nodes;        /* relaxed reads */
	/* Buckets the index was last grown to (mxs_index_grow): claimed
	 * with a compare-and-swap, so no lock. */
	unsigned long index_size;
	uint64_t commits, conflicts; /* relaxed reads */
	/* Removed nodes not yet unlinked, oldest first. */
	struct mxs_node *grave_head, *grave_tail;
	/* Probes in flight, oldest first, and what the finished ones proved:
	 * every reader's snapshot is >= safe_seq. */
	struct mxs_grace *grace_head, *grace_tail;
	uint64_t safe_seq;
	/*
	 * Owner index: per owner slot, the list of the nodes it owns
	 * (own_next/own_prev), so that everything a domain owns is found in
	 * O(nodes owned).  MXS_DOMID_FIRST_RESERVED + 1 heads.
	 */
	struct mxs_node **own_head;
	/* Nodes per owning domain: relaxed reads (quotas). */
	uint32_t owned[MXS_DOMID_FIRST_RESERVED + 1];
	/* Bytes of node records per owner slot (store/account.c), as many
	 * slots as owned[]: relaxed reads (quotas). */
	uint64_t *mem;
};

#define MXS_STORE_LINE(f) (offsetof(struct mxs_store, f) / MXS_CACHE_LINE)
_Static_assert(MXS_STORE_LINE(oracle_arg) < MXS_STORE_LINE(wlock),
	       "read-mostly fields share the writer lock's line");
_Static_assert(sizeof(pthread_mutex_t) <= MXS_CACHE_LINE &&
	       MXS_STORE_LINE(wlock) < MXS_STORE_LINE(seq),
	       "the writer lock shares the commit sequence's line");
_Static_assert(MXS_STORE_LINE(seq) < MXS_STORE_LINE(gen),
	       "the commit sequence shares the writer counters' line");

/* Owner-count slot of a domid: reserved ids share the last slot. */
static inline uint32_t mxs_owner_slot(uint32_t domid)
{
	return domid < MXS_DOMID_FIRST_RESERVED ? domid
						: MXS_DOMID_FIRST_RESERVED;
}

/* Owner of a version: its first permission entry (dom0 if it has none). */
static inline uint32_t mxs_nodeval_owner(const struct mxs_nodeval *v)
{
	return v->nperms ? mxs_nodeval_perms(v)[0].domid : 0;
}

/*
 * Counters written under the writer lock and read without it (stats,
 * quotas): relaxed, a reader only needs some recent value.
 */
static inline void mxs_count_add(uint64_t *c, int64_t d)
{
	__atomic_fetch_add(c, (uint64_t)d, __ATOMIC_RELAXED);
}

/* Caller: writer lock.  Relaxed: stats read it without the lock. */
static inline uint64_t mxs_store_gen_next(struct mxs_store *st)
{
	return __atomic_add_fetch(&st->gen, 1, __ATOMIC_RELAXED);
}

/*
 * Reader side of the live tree.  Caller: RCU read side (online); results
 * valid until its next quiescent state.
 */

/*
 * A snapshot: the last published commit.  STORE_SEQ_A1: acquire, pairs
 * with STORE_SEQ_R1 in mxs_store_commit_end(): every node, version and
 * child link stamped with a seq <= the snapshot is visible.
 */
static inline uint64_t mxs_store_snap(struct mxs_store *st)
{
	return __atomic_load_n(&st->seq, __ATOMIC_ACQUIRE);
}

/*
 * Is n alive at snapshot s?  born is written before n is linked
 * (STORE_KIDS_R1 / the index publish it); died is read relaxed: for
 * s >= died, STORE_SEQ_A1 already ordered its store before the reader.
 */
static inline bool mxs_node_visible(const struct mxs_node *n, uint64_t s)
{
	return n->born <= s && s < __atomic_load_n(&n->died, __ATOMIC_RELAXED);
}

/*
 * The version of n at snapshot s (n visible at s).  STORE_VAL_A1:
 * acquire, pairs with STORE_VAL_R1 in node.c: a version reached is
 * fully built.
 */
static inline struct mxs_nodeval *mxs_node_val_at(struct mxs_node *n,
						  uint64_t s)
{
	struct mxs_nodeval *v = mxs_rcu_deref(n->val);

	while (v && v->seq > s)
		v = mxs_rcu_deref(v->older);
	return v;
}

/* STORE_KIDS_A1: acquire, pairs with STORE_KIDS_R1 in node.c: the child
 * reached is fully built.  Children of every life, filter with
 * mxs_node_visible. */
static inline struct mxs_node *mxs_node_kids(struct mxs_node *n)
{
	return mxs_rcu_deref(n->kids_head);
}

/* STORE_KIDS_A1 as in mxs_node_kids(). */
static inline struct mxs_node *mxs_node_next(struct mxs_node *c)
{
	return mxs_rcu_deref(c->next_sib);
}

/*
 * The node object of p[0..len) visible at snapshot s, or NULL; with
 * MXS_SEQ_WRITER (writer lock held) the live one.
 */
struct mxs_node *mxs_node_find(struct mxs_store *st, const char *p,
			       size_t len, uint64_t s);

/*
 * The index's initial size (16 KiB of buckets) and its load factor:
 * mxs_index_grow() doubles the buckets whenever the nodes pass
 * MXS_INDEX_LOAD per bucket, so a lookup walks one or two entries at
 * most sizes and the buckets cost 8 to 16 bytes per node.
 */
#define MXS_INDEX_MIN 1024UL
#define MXS_INDEX_LOAD 2

/*
 * Grows the index if the nodes outgrew it.  liburcu's own lazy resize
 * (CDS_LFHT_AUTO_RESIZE) is not used: it runs on a worker thread that
 * falls behind on busy cores and can stop growing for good
 * (docs/performance.md).  Caller: online (RCU read side), writer lock
 * NOT held (growth links up to millions of buckets: writers carry on
 * meanwhile, readers are never blocked).  Never waits for a grace
 * period, so it is safe with other online threads blocked on the
 * writer lock.  Concurrent callers: one grows, the others return.
 */
void mxs_index_grow(struct mxs_store *st);

/*
 * A new unpublished version holding seq (its base's generation until it
 * is installed) and, if kidslot, an empty child-list cache slot; NULL on
 * ENOMEM.  perms_gen: MXS_GEN_NONE if the version sets its permission
 * list (a lean version, stamped with its seq when installed), else the
 * generation of the list it keeps (a full one, meta_gen seq until
 * installed).  No lock.
 */
struct mxs_nodeval *mxs_nodeval_new(uint64_t seq, uint64_t perms_gen,
				    const struct mxs_perm *perms,
				    unsigned int nperms, const void *value,
				    size_t vlen, bool kidslot);
/* A full copy of o (generations included) with a slot if o has one or
 * kidslot; NULL on ENOMEM.  No lock. */
struct mxs_nodeval *mxs_nodeval_dup(const struct mxs_nodeval *o,
				    bool kidslot);
/* Frees a version and its child list (no reader may hold it). */
void mxs_nodeval_free(struct mxs_nodeval *v);


/*
 * The parent of n, alive or removed but still linked: of the lives of
 * the parent's path in the index, the first to die at or after n (a
 * child lives within its parent's life; an earlier life died before n
 * was born).  NULL for the root.  Caller: writer lock, online.
 */
struct mxs_node *mxs_node_parent(struct mxs_store *st,
				 const struct mxs_node *n);

/* The live node of p[0..len) (the writer's view).  Caller: writer lock. */
static inline struct mxs_node *mxs_node_lookup(struct mxs_store *st,
					       const char *p, size_t len)
{
	return mxs_node_find(st, p, len, MXS_SEQ_WRITER);
}

/*
 * A commit: begin stamps what follows with the next seq (and unlinks
 * removed nodes no reader can see any more) and takes the sealed
 * touches the commit's mutations use; end publishes it.  Caller:
 * writer lock, held from begin to end.
 */
void mxs_store_commit_begin(struct mxs_store *st,
			    struct mxs_touches *touches);
void mxs_store_commit_end(struct mxs_store *st);

/*
 * Live mutations.  Caller: writer lock, between commit_begin and
 * commit_end.  Readers see none of them before commit_end, and all of
 * them after.  None allocates or fails: what they need is allocated
 * first (mxs_node_alloc, versions, the touches of every node whose child
 * list changes), so a commit is applied whole or not at all.
 */
/* A node object for path[0..len), not linked; NULL on ENOMEM. */
struct mxs_node *mxs_node_alloc(const char *path, size_t len);
/* Links n as a new child of parent with version v (both taken over). */
void mxs_node_create(struct mxs_store *st, struct mxs_node *parent,
		     struct mxs_node *n, struct mxs_nodeval *v);
/* Replaces n's version with v (taken over). */
void mxs_node_update(struct mxs_store *st, struct mxs_node *n,
		     struct mxs_nodeval *v);
/* Removes n and its subtree at this commit (they stay linked for older
 * snapshots; unlinked and freed later). */
void mxs_node_remove(struct mxs_store *st, struct mxs_node *n);

/*
 * The versions reserved for the touches of one commit: every live node
 * whose child list the commit changes gets a new version with a new
 * generation.  add records a node (no version yet; 0 or -ENOMEM), seal
 * allocates one version per distinct node and the room to retire the
 * versions the commit supersedes (0 or -ENOMEM), free frees what the
 * commit did not use.  Caller: writer lock.
 */
struct mxs_touch {
	struct mxs_node *node;
	struct mxs_nodeval *val;
};

/* The versions one commit superseded, freed a grace period after it. */
struct mxs_retired {
	struct rcu_head rcu;
	size_t n;
	struct mxs_nodeval *v[];
};

struct mxs_touches {
	struct mxs_touch *v;
	size_t n, cap;
	/* Updates (mxs_node_update) the commit will make: set before
	 * sealing, so that seal reserves retired room for them too. */
	size_t updates;
	struct mxs_retired *retired; /* room for n + updates */
	size_t rcap;
};

int mxs_touches_add(struct mxs_touches *t, struct mxs_node *n);
int mxs_touches_seal(struct mxs_touches *t);
void mxs_touches_free(struct mxs_touches *t);

/*
 * Adds a node built outside node.c (the root) to the owner index.  Caller:
 * writer lock or sole owner of the store.
 */
void mxs_node_own_link(struct mxs_store *st, struct mxs_node *n);

/*
 * Removes every node but the root and unlinks them right away.  Caller:
 * writer lock, and no reader uses the store any more (mxs_store_free).
 */
void mxs_node_drop_all(struct mxs_store *st);

/* Frees the finished probes.  Caller: mxs_store_free, after
 * rcu_barrier() (every probe is done). */
void mxs_node_grace_drain(struct mxs_store *st);

/* A growable stack of node pointers (walks).  Not shared. */
struct mxs_nodevec {
	struct mxs_node **v;
	size_t n, cap;
};

int mxs_nodevec_push(struct mxs_nodevec *nv, struct mxs_node *n);

#endif
