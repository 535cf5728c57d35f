/* chain/watch.c: the watch set of funding outpoints.  Random adds and
 * removals against a reference list (the table deletes by backward shift,
 * easy to get wrong), spends found in blocks, forgetting exactly
 * CHAIN_FORGET_DELAY blocks later, undone spends, reorged-out funding,
 * and reloading from the store. */
#include "chain/block.h"
#include "chain/chain_internal.h"
#include "check.h"
#include "common/common.h"

#include <ev.h>
#include <sodium.h>
#include <unistd.h>

#define N 4000

struct ref {
	uint64_t scid;
	uint8_t txid[32];
	uint32_t vout;
	bool live;
	int spent_events, forget_events;
};
static struct ref refs[N];

static struct ref *by_scid(uint64_t scid)
{
	for (size_t i = 0; i < N; i++)
		if (refs[i].scid == scid)
			return &refs[i];
	return NULL;
}

static uint32_t last_spent_height;
static void on_spent(void *ctx, uint64_t scid, uint32_t height)
{
	struct ref *r = by_scid(scid);

	CHECK(r != NULL);
	if (r)
		r->spent_events += height ? 1 : -1;
	last_spent_height = height;
}

static void on_forget(void *ctx, uint64_t scid)
{
	struct ref *r = by_scid(scid);

	CHECK(r != NULL && r->live);
	if (r) {
		r->forget_events++;
		r->live = false;
	}
}

static struct chain *open_chain(struct ev_loop *loop, const char *db)
{
	struct chain_config cc;
	struct chain_events ev = { .funding_spent = on_spent,
				   .funding_forget = on_forget };
	char err[200];
	struct chain *c;

	chain_config_defaults(&cc);
	cc.network = "regtest";
	cc.rpchost = "127.0.0.1:1"; /* never started: no request is made */
	cc.rpcuser = "u";
	cc.rpcpass = "p";
	cc.db_path = db;
	c = chain_new(loop, &cc, &ev, err, sizeof(err));
	CHECK(c != NULL);
	chain_watch_load(c);
	for (int i = 0; i < 10000 && !chain_watch_ready(c); i++)
		ev_run(loop, EVRUN_NOWAIT);
	CHECK(chain_watch_ready(c));
	return c;
}

/* A block whose one transaction spends the given outpoints. */
static void spend_block(struct chain *c, uint32_t height,
			const struct ref *const *spend, size_t n)
{
	struct chain_txin in[16];
	struct chain_tx tx = { .n_in = n, .in = in };
	struct chain_block b = { .n_tx = 1, .tx = &tx };

	for (size_t i = 0; i < n; i++) {
		memcpy(in[i].prevout.txid, spend[i]->txid, 32);
		in[i].prevout.vout = spend[i]->vout;
	}
	chain_watch_block(c, height, &b);
}

int main(void)
{
	struct ev_loop *loop = ev_default_loop(0);
	char dir[] = "/tmp/cn-test-watch-XXXXXX", db[300], cmd[400];
	struct chain *c;
	size_t live = 0;

	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	if (!mkdtemp(dir))
		return 1;
	snprintf(db, sizeof(db), "%s/chain.sqlite3", dir);
	c = open_chain(loop, db);

	/* Random adds and removals; some txids shared by several vouts (one
	 * funding tx for many channels) so runs collide. */
	for (size_t i = 0; i < N; i++) {
		refs[i].scid = ((uint64_t)(1000 + i / 100) << 40) |
			       ((uint64_t)(i % 100) << 16) | (i % 3);
		if (i % 3 == 0 || i == 0)
			randombytes_buf(refs[i].txid, 32);
		else
			memcpy(refs[i].txid, refs[i - 1].txid, 32);
		refs[i].vout = (uint32_t)(i % 3);
		chain_watch_add(c, refs[i].scid, refs[i].txid, refs[i].vout,
				1000 + i);
		refs[i].live = true;
	}
	CHECK(chain_watch_count(c) == N);
	for (size_t i = 0; i < N; i += 2) {
		chain_unwatch(c, refs[i].scid);
		refs[i].live = false;
	}
	for (size_t i = 0; i < N; i++)
		live += refs[i].live;
	CHECK(chain_watch_count(c) == live);
	chain_unwatch(c, 0);              /* no such scid: nothing happens */
	chain_unwatch(c, 12345);
	CHECK(chain_watch_count(c) == live);

	/* Every live outpoint is found, every removed one is not: spend them
	 * all in blocks at height 5000 (16 inputs a block). */
	const struct ref *batch[16];
	size_t nb = 0;
	for (size_t i = 0; i < N; i++) {
		batch[nb++] = &refs[i];
		if (nb == 16 || i == N - 1) {
			spend_block(c, 5000, batch, nb);
			nb = 0;
		}
	}
	for (size_t i = 0; i < N; i++)
		CHECK(refs[i].spent_events == (refs[i].live ? 1 : 0));
	/* A second spend of the same outpoint is not a second event. */
	batch[0] = &refs[1];
	spend_block(c, 5001, batch, 1);
	CHECK(refs[1].spent_events == 1);

	/* Forgotten exactly CHAIN_FORGET_DELAY blocks after the spend. */
	struct chain_block empty = { .n_tx = 0 };
	chain_watch_block(c, 5000 + CHAIN_FORGET_DELAY - 1, &empty);
	for (size_t i = 0; i < N; i++)
		CHECK(refs[i].forget_events == 0);
	CHECK(chain_watch_count(c) == live);
	/* Before that: the spend at 5000 is reorganised out for refs[1],
	 * so it is not forgotten; and reloading keeps what is left. */
	chain_watch_unblock(c, 5000);
	CHECK(refs[1].spent_events == 0); /* undone: one -1 event */
	chain_free(c);

	/* Reload from the store: spent entries are reported again. */
	for (size_t i = 0; i < N; i++)
		refs[i].spent_events = 0;
	c = open_chain(loop, db);
	CHECK(chain_watch_count(c) == live);
	for (size_t i = 0; i < N; i++)
		CHECK(refs[i].spent_events == 0); /* 5000's spends undone */
	/* Spend them again at 6000 and let 72 blocks pass. */
	for (size_t i = 0; i < N; i++) {
		batch[nb++] = &refs[i];
		if (nb == 16 || i == N - 1) {
			spend_block(c, 6000, batch, nb);
			nb = 0;
		}
	}
	chain_watch_block(c, 6000 + CHAIN_FORGET_DELAY - 1, &empty);
	CHECK(chain_watch_count(c) == live);
	chain_watch_block(c, 6000 + CHAIN_FORGET_DELAY, &empty);
	CHECK(chain_watch_count(c) == 0);
	for (size_t i = 1; i < N; i += 2)
		CHECK(refs[i].forget_events == 1);

	/* Funding reorganised out: the block that funded a channel leaves
	 * the chain, so the channel counts as spent at that height. */
	struct ref *f = &refs[0];
	f->live = true;
	f->spent_events = 0;
	chain_watch_add(c, f->scid, f->txid, f->vout, 1);
	chain_watch_unblock(c, (uint32_t)(f->scid >> 40));
	CHECK(f->spent_events == 1 &&
	      last_spent_height == (uint32_t)(f->scid >> 40));
	chain_free(c);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return check_exit();
}
