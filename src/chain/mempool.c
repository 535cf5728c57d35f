/*~ chain/mempool: a cache of the node's mempool transactions, sorted by
 * txid, so each poll fetches only what is new.  The wallet matches them
 * for its unconfirmed view (lnd's btcwallet sees them through bitcoind's
 * ZMQ rawtx; we poll getrawmempool + getrawtransaction). */
#include "chain/mempool.h"
#include "chain/block.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	uint8_t id[32];
	bool asked, done;
	struct chain_tx *tx; /* owned; NULL until fetched or if unfetchable */
	uint8_t *raw;        /* owned: tx points into it */
};

struct chain_mempool {
	struct entry *e; /* sorted by id */
	size_t n;
	const struct chain_tx **view; /* chain_mempool_txs' answer */
};

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

struct chain_mempool *chain_mempool_new(void)
{
	return calloc(1, sizeof(struct chain_mempool));
}

static void entry_clear(struct entry *e)
{
	chain_tx_free(e->tx);
	free(e->raw);
}

void chain_mempool_free(struct chain_mempool *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		entry_clear(&m->e[i]);
	free(m->e);
	free(m->view);
	free(m);
}

static struct entry *find(struct chain_mempool *m, const uint8_t id[32])
{
	return m->n ? bsearch(id, m->e, m->n, sizeof(*m->e), cmp_id) : NULL;
}

size_t chain_mempool_set(struct chain_mempool *m, const uint8_t (*ids)[32],
			 size_t n)
{
	uint8_t (*sorted)[32];
	struct entry *ne;
	size_t k = 0;

	sorted = malloc((n ? n : 1) * 32);
	ne = calloc(n ? n : 1, sizeof(*ne));
	if (!sorted || !ne)
		abort();
	if (n) /* ids may be NULL for an empty mempool */
		memcpy(sorted, ids, n * 32);
	qsort(sorted, n, 32, cmp_id);
	for (size_t i = 0; i < n; i++) {
		if (k && !memcmp(ne[k - 1].id, sorted[i], 32))
			continue; /* duplicate txid in the answer */
		struct entry *old = find(m, sorted[i]);
		if (old) {
			ne[k] = *old;
			old->tx = NULL;
			old->raw = NULL;
			/* asked but not answered: ask again */
			if (!old->done)
				ne[k].asked = false;
		} else {
			memcpy(ne[k].id, sorted[i], 32);
		}
		k++;
	}
	for (size_t i = 0; i < m->n; i++)
		entry_clear(&m->e[i]);
	free(m->e);
	free(sorted);
	m->e = ne;
	m->n = k;
	return k;
}

size_t chain_mempool_next(struct chain_mempool *m, uint8_t (*out)[32],
			  size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < m->n && k < max; i++) {
		if (m->e[i].asked)
			continue;
		m->e[i].asked = true;
		memcpy(out[k++], m->e[i].id, 32);
	}
	return k;
}

void chain_mempool_add(struct chain_mempool *m, const uint8_t id[32],
		       const uint8_t *raw, size_t len)
{
	char err[96];
	struct entry *e = find(m, id);
	if (!e || e->done)
		return;
	e->done = true;
	if (!raw)
		return;
	e->raw = malloc(len ? len : 1);
	if (!e->raw)
		abort();
	memcpy(e->raw, raw, len);
	e->tx = chain_tx_parse(e->raw, len, err, sizeof(err));
	/* A tx that does not parse, or is not the one asked for, is left
	 * out (the node is not trusted to answer right). */
	if (!e->tx || memcmp(e->tx->txid, id, 32)) {
		chain_tx_free(e->tx);
		e->tx = NULL;
		free(e->raw);
		e->raw = NULL;
	}
}

const struct chain_tx *const *chain_mempool_txs(struct chain_mempool *m,
						size_t *n)
{
	size_t k = 0;
	free(m->view);
	m->view = calloc(m->n ? m->n : 1, sizeof(*m->view));
	if (!m->view)
		abort();
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].tx)
			m->view[k++] = m->e[i].tx;
	*n = k;
	return (const struct chain_tx *const *)m->view;
}
