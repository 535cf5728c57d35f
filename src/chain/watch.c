/* The watch set: the funding outpoints of channels that passed their
 * check (funding.c), kept in <datadir>/chain.sqlite3 and in memory as an
 * open-addressing hash table on the outpoint (backward-shift deletion).
 * Every connected block's inputs are looked up in it: a spend is recorded
 * and reported, and CHAIN_FORGET_DELAY blocks later the channel is
 * forgotten.  A disconnected block undoes the spends seen in it and counts
 * as a spend of the channels funded in it.
 *
 * Loading 60,000 outpoints takes ~30 ms of CPU, so it is done a page per
 * idle loop iteration once the node first answers on the right network;
 * the follower connects no block before it is complete. */
#include "chain/block.h"
#include "chain/watch.h"
#include "common/common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUB "CHAIN"

/* The set in memory stays right when a write fails (disk full, I/O
 * error); only a restart would forget it, so say so loudly. */
static void stored(bool ok, const char *what, uint64_t scid)
{
	if (!ok)
		log_broken(SUB, "watch store: cannot %s channel %" PRIu64, what,
			   scid);
}

struct went {
	uint8_t txid[32];
	uint32_t vout;
	uint32_t spent;         /* height the spend was seen, 0 none */
	uint64_t scid;          /* 0: empty slot (no channel has scid 0) */
};                              /* 48 bytes; the capacity stays in SQLite */

struct chain_watch {
	struct went *tab;
	size_t cap, n, n_spent;
	ev_idle load;           /* loading from the store, a page a step */
	uint64_t load_cursor;
	bool loaded;
	struct ev_loop *loop;       /* borrowed */
	struct chain_store *store;  /* borrowed */
	struct chain_watch_ops ops;
	uint64_t spent_count, forgotten_count;
};

static size_t wslot(const struct chain_watch *w, const uint8_t txid[32],
		    uint32_t vout)
{
	uint64_t h;

	memcpy(&h, txid, 8); /* a txid is already uniformly distributed */
	h ^= (uint64_t)vout * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h & (w->cap - 1));
}

static struct went *wfind(const struct chain_watch *w,
			  const uint8_t txid[32], uint32_t vout)
{
	if (!w->cap)
		return NULL;
	for (size_t i = wslot(w, txid, vout);; i = (i + 1) & (w->cap - 1)) {
		struct went *e = &w->tab[i];
		if (!e->scid)
			return NULL;
		if (e->vout == vout && !memcmp(e->txid, txid, 32))
			return e;
	}
}

static void winsert(struct chain_watch *w, const struct went *src);

static void wresize(struct chain_watch *w, size_t cap)
{
	struct went *old = w->tab;
	size_t ocap = w->cap;

	w->cap = cap;
	w->tab = calloc(w->cap, sizeof(*w->tab));
	if (!w->tab)
		abort();
	w->n = 0;
	w->n_spent = 0;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].scid)
			winsert(w, &old[i]);
	free(old);
}

static void wgrow(struct chain_watch *w)
{
	wresize(w, w->cap ? w->cap * 2 : 1024);
}

static void winsert(struct chain_watch *w, const struct went *src)
{
	struct went *e;

	if (!src->scid)
		return; /* marks empty slots; never a real channel */
	if ((w->n + 1) * 2 > w->cap)
		wgrow(w);
	e = wfind(w, src->txid, src->vout);
	if (e) {
		w->n_spent -= e->spent != 0;
		*e = *src;
		w->n_spent += e->spent != 0;
		return;
	}
	for (size_t i = wslot(w, src->txid, src->vout);;
	     i = (i + 1) & (w->cap - 1))
		if (!w->tab[i].scid) {
			w->tab[i] = *src;
			w->n++;
			w->n_spent += src->spent != 0;
			return;
		}
}

static void wremove(struct chain_watch *w, struct went *e)
{
	size_t i = (size_t)(e - w->tab), j = i;

	w->n--;
	w->n_spent -= e->spent != 0;
	w->tab[i].scid = 0;
	/* Backward shift: move later entries of the run into the hole. */
	for (;;) {
		j = (j + 1) & (w->cap - 1);
		if (!w->tab[j].scid)
			return;
		size_t k = wslot(w, w->tab[j].txid, w->tab[j].vout);
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		w->tab[i] = w->tab[j];
		w->tab[j].scid = 0;
		i = j;
	}
}

static void wload(void *arg, uint64_t scid, const uint8_t txid[32],
		  uint32_t vout, uint64_t capacity, uint32_t spent)
{
	struct chain_watch *w = arg;
	struct went e = { .vout = vout, .spent = spent, .scid = scid };

	(void)capacity;
	memcpy(e.txid, txid, 32);
	winsert(w, &e);
	/* The owner keeps "spent" in memory only: say it again. */
	if (spent && w->ops.spent)
		w->ops.spent(w->ops.ctx, scid, spent);
}

size_t chain_watch_size(const struct chain_watch *w)
{
	return w ? w->n : 0;
}

uint64_t chain_watch_spent_count(const struct chain_watch *w)
{
	return w->spent_count;
}

uint64_t chain_watch_forgotten_count(const struct chain_watch *w)
{
	return w->forgotten_count;
}

void chain_watch_remove(struct chain_watch *w, uint64_t scid)
{
	for (size_t i = 0; scid && i < w->cap; i++)
		if (w->tab[i].scid == scid) {
			wremove(w, &w->tab[i]);
			stored(chain_store_watch_del(w->store, scid), "drop",
			       scid);
			return;
		}
}

static void mark_spent(struct chain_watch *w, struct went *e,
		       uint32_t height)
{
	if (e->spent)
		return;
	e->spent = height;
	w->n_spent++;
	w->spent_count++;
	stored(chain_store_watch_spent(w->store, e->scid, e->spent),
	       "mark spent", e->scid);
	log_info(SUB, "channel %ux%ux%u: funding output spent at block %u; "
		 "forgotten after %d blocks", (unsigned)(e->scid >> 40),
		 (unsigned)(e->scid >> 16) & 0xffffff,
		 (unsigned)e->scid & 0xffff, height, CHAIN_FORGET_DELAY);
	if (w->ops.spent)
		w->ops.spent(w->ops.ctx, e->scid, height);
}

void chain_watch_connect(struct chain_watch *w, uint32_t height,
			 const struct chain_block *b)
{
	if (w->n) {
		for (size_t t = 0; t < b->n_tx; t++)
			for (size_t i = 0; i < b->tx[t].n_in; i++) {
				const struct chain_outpoint *o =
					&b->tx[t].in[i].prevout;
				struct went *e = wfind(w, o->txid, o->vout);
				if (e)
					mark_spent(w, e, height);
			}
	}
	/* Channels accepted short of 6 confirmations that have 6 now. */
	if (w->ops.spends_done)
		w->ops.spends_done(w->ops.ctx);
	if (!w->n_spent)
		return;
	/* Forget CHAIN_FORGET_DELAY blocks after the spend.  A scan: spends
	 * are rare and blocks come every ten minutes. */
	for (size_t i = 0; i < w->cap;) {
		struct went *e = &w->tab[i];
		if (e->scid && e->spent &&
		    height >= e->spent + CHAIN_FORGET_DELAY) {
			uint64_t scid = e->scid;
			wremove(w, e);
			stored(chain_store_watch_del(w->store, scid), "drop",
			       scid);
			w->forgotten_count++;
			log_info(SUB, "channel %ux%ux%u forgotten (spent %d "
				 "blocks ago)", (unsigned)(scid >> 40),
				 (unsigned)(scid >> 16) & 0xffffff,
				 (unsigned)scid & 0xffff, CHAIN_FORGET_DELAY);
			if (w->ops.forgotten)
				w->ops.forgotten(w->ops.ctx, scid);
			continue; /* slot i holds a shifted entry now */
		}
		i++;
	}
}

/* Block height left the chain: channels funded in it lost their funding
 * (treated as spent, BOLT 7's delay applies); spends seen in it are
 * undone (the spend may come back in the new branch, seen again then). */
void chain_watch_disconnect(struct chain_watch *w, uint32_t height)
{
	for (size_t i = 0; i < w->cap; i++) {
		struct went *e = &w->tab[i];
		if (!e->scid)
			continue;
		if (e->spent == height) {
			e->spent = 0;
			w->n_spent--;
			stored(chain_store_watch_spent(w->store, e->scid, 0),
			       "mark unspent", e->scid);
			if (w->ops.spent)
				w->ops.spent(w->ops.ctx, e->scid, 0);
		}
		if ((uint32_t)(e->scid >> 40) == height)
			mark_spent(w, e, height);
	}
}

#define LOAD_PAGE 512

static void on_load(struct ev_loop *loop, ev_idle *t, int revents)
{
	struct chain_watch *w = t->data;
	bool err;
	size_t n = chain_store_watch_page(w->store, &w->load_cursor,
					  LOAD_PAGE, wload, w, &err);
	if (err)
		log_broken(SUB, "reading the watched funding outputs failed: "
			   "spends of some channels may be missed");
	if (n == LOAD_PAGE && !err)
		return; /* next page when the loop is idle again */
	ev_idle_stop(loop, t);
	w->loaded = true;
	log_debug(SUB, "%zu watched funding outputs loaded", w->n);
	if (w->ops.loaded)
		w->ops.loaded(w->ops.ctx);
}

bool chain_watch_loaded(const struct chain_watch *w)
{
	return w->loaded;
}

void chain_watch_start_load(struct chain_watch *w)
{
	if (!w->loaded && !ev_is_active(&w->load))
		ev_idle_start(w->loop, &w->load);
}

void chain_watch_insert(struct chain_watch *w, uint64_t scid,
			const uint8_t txid[32], uint32_t vout,
			uint64_t capacity)
{
	struct went e = { .vout = vout, .scid = scid };

	memcpy(e.txid, txid, 32);
	winsert(w, &e);
	stored(chain_store_watch_put(w->store, scid, txid, vout, capacity, 0),
	       "add", scid);
}

struct chain_watch *chain_watch_new(struct ev_loop *loop,
				    struct chain_store *store,
				    const struct chain_watch_ops *ops)
{
	struct chain_watch *w = calloc(1, sizeof(*w));

	if (!w)
		abort();
	w->loop = loop;
	w->store = store;
	w->ops = *ops;
	wgrow(w);
	/* An idle watcher: a page whenever nothing else is pending, so RPC
	 * calls go first. */
	ev_idle_init(&w->load, on_load);
	ev_set_priority(&w->load, EV_MINPRI);
	w->load.data = w;
	w->load_cursor = (uint64_t)INT64_MIN;
	return w;
}

void chain_watch_destroy(struct chain_watch *w)
{
	if (!w)
		return;
	ev_idle_stop(w->loop, &w->load);
	free(w->tab);
	free(w);
}
