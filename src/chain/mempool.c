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
	bool fresh;  /* pushed since chain_mempool_mark */
	bool told;   /* handed up (chain_mempool_txs / _new_txs) */
	struct chain_tx *tx; /* owned; NULL until fetched or if unfetchable */
	uint8_t *raw;        /* owned: tx points into it */
};

struct chain_mempool {
	struct entry *e; /* sorted by id */
	size_t n;
	/* Pushed transactions (ZMQ rawtx) not merged yet, in arrival
	 * order: merged in one pass before the next lookup, so a flood of
	 * pushes costs a sort of the flood, not a move of the table per
	 * transaction. */
	struct entry *pend;
	size_t npend, cappend;
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
	for (size_t i = 0; i < m->npend; i++)
		entry_clear(&m->pend[i]);
	free(m->e);
	free(m->pend);
	free(m->view);
	free(m);
}

/* Pending pushes into the sorted table (a known txid keeps its entry
 * unless that one has no transaction yet). */
static void merge(struct chain_mempool *m)
{
	struct entry *ne;
	size_t i = 0, j = 0, k = 0;

	if (!m->npend)
		return;
	qsort(m->pend, m->npend, sizeof(*m->pend), cmp_id);
	ne = calloc(m->n + m->npend, sizeof(*ne));
	if (!ne)
		abort();
	while (i < m->n || j < m->npend) {
		int c = i == m->n ? 1 : j == m->npend ? -1
			: memcmp(m->e[i].id, m->pend[j].id, 32);
		struct entry *src;
		if (c < 0) {
			src = &m->e[i++];
		} else if (c > 0) {
			src = &m->pend[j++];
		} else if (m->e[i].tx) {
			entry_clear(&m->pend[j++]); /* already have it */
			continue;
		} else {
			entry_clear(&m->e[i++]); /* asked: the push answers */
			continue; /* the pending one is taken next */
		}
		if (k && !memcmp(ne[k - 1].id, src->id, 32)) {
			entry_clear(src); /* pushed twice */
			continue;
		}
		ne[k++] = *src;
	}
	free(m->e);
	m->e = ne;
	m->n = k;
	m->npend = 0;
}

void chain_mempool_mark(struct chain_mempool *m)
{
	merge(m);
	for (size_t i = 0; i < m->n; i++)
		m->e[i].fresh = false;
}

bool chain_mempool_push(struct chain_mempool *m, const uint8_t *raw,
			size_t len)
{
	char err[96];
	struct entry e = { .asked = true, .done = true, .fresh = true };

	e.raw = malloc(len ? len : 1);
	if (!e.raw)
		abort();
	memcpy(e.raw, raw, len);
	e.tx = chain_tx_parse(e.raw, len, err, sizeof(err));
	if (!e.tx) {
		free(e.raw);
		return false;
	}
	memcpy(e.id, e.tx->txid, 32);
	if (m->npend == m->cappend) {
		m->cappend = m->cappend ? m->cappend * 2 : 64;
		m->pend = realloc(m->pend, m->cappend * sizeof(*m->pend));
		if (!m->pend)
			abort();
	}
	m->pend[m->npend++] = e;
	return true;
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

	merge(m);

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
	for (size_t i = 0; i < m->n; i++) {
		/* Pushed after the answer was asked for: the answer could
		 * not hold it yet; kept until the next answer. */
		if (m->e[i].fresh && m->e[i].tx) {
			if (m->npend == m->cappend) {
				m->cappend = m->cappend ? m->cappend * 2 : 64;
				m->pend = realloc(m->pend, m->cappend *
						  sizeof(*m->pend));
				if (!m->pend)
					abort();
			}
			m->pend[m->npend++] = m->e[i];
			continue;
		}
		entry_clear(&m->e[i]);
	}
	free(m->e);
	free(sorted);
	m->e = ne;
	m->n = k;
	merge(m);
	return m->n;
}

size_t chain_mempool_next(struct chain_mempool *m, uint8_t (*out)[32],
			  size_t max)
{
	size_t k = 0;
	merge(m);
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
	struct entry *e;

	merge(m);
	e = find(m, id);
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

/* The parsed transactions in m->view (every one, or those not handed
 * out before); all of them count as handed out afterwards. */
static const struct chain_tx *const *make_view(struct chain_mempool *m,
					       size_t *n, bool only_new)
{
	size_t k = 0;
	merge(m);
	free(m->view);
	m->view = calloc(m->n ? m->n : 1, sizeof(*m->view));
	if (!m->view)
		abort();
	for (size_t i = 0; i < m->n; i++) {
		if (m->e[i].tx && (!only_new || !m->e[i].told))
			m->view[k++] = m->e[i].tx;
		if (m->e[i].tx || !only_new)
			m->e[i].told = true;
	}
	*n = k;
	return (const struct chain_tx *const *)m->view;
}

const struct chain_tx *const *chain_mempool_txs(struct chain_mempool *m,
						size_t *n)
{
	return make_view(m, n, false);
}

const struct chain_tx *const *chain_mempool_new_txs(struct chain_mempool *m,
						    size_t *n)
{
	return make_view(m, n, true);
}
