/*~ The peer manager's key source, on top of sv_ecdh.
 *
 * peer.h numbers its ECDH requests itself and may cancel them (a handshake
 * timed out or its socket closed); sv numbers its own.  This file keeps the
 * pairs, so that an answer reaches the right handshake and a cancel
 * reaches the right request.  A handshake may wait for a signer up to the
 * handshake timeout: in safe mode an inbound act one waits for the signer
 * that long, then the peer manager closes it.
 */
#include "supervisor/supervisor.h"

#include <stdlib.h>

#include "peer/peer.h"
#include "supervisor/sv_priv.h"

struct ks_req {
	struct ks_req *prev, *next;
	struct ks *ks;
	uint64_t peer_id; /* peer.h's id */
	uint64_t sv_id;   /* ours */
};

struct ks {
	struct supervisor *sv;
	double wait;
	struct ks_req *head;
};

static void unlink_req(struct ks_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->ks->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static void ks_done(void *arg, enum sv_result res, const uint8_t *secret)
{
	struct ks_req *r = arg;
	struct peer_mgr *mgr = sv_peer_mgr(r->ks->sv);
	static const uint8_t zero[32];

	unlink_req(r);
	/* A cancel came from the peer manager itself: it knows. */
	if (res != SV_ERR_CANCELLED && mgr)
		peer_mgr_ecdh_done(mgr, r->peer_id, res == SV_OK,
				   res == SV_OK ? secret : zero);
	free(r);
}

static void ks_ecdh(void *arg, uint64_t id, const uint8_t point[33])
{
	struct ks *ks = arg;
	struct ks_req *r = calloc(1, sizeof(*r));
	struct peer_mgr *mgr;

	if (!r)
		abort();
	r->ks = ks;
	r->peer_id = id;
	r->next = ks->head;
	if (ks->head)
		ks->head->prev = r;
	ks->head = r;
	/* The callback never fires inside sv_ecdh, so r is still ours.  A
	 * stranger's act one goes through the inbound budget. */
	mgr = sv_peer_mgr(ks->sv);
	if (mgr && peer_mgr_ecdh_inbound(mgr, id))
		r->sv_id = sv_ecdh_inbound(ks->sv, point, ks->wait, ks_done,
					   r);
	else
		r->sv_id = sv_ecdh(ks->sv, point, ks->wait, ks_done, r);
}

static void ks_cancel(void *arg, uint64_t id)
{
	struct ks *ks = arg;

	for (struct ks_req *r = ks->head; r; r = r->next) {
		if (r->peer_id == id) {
			/* Fires ks_done (CANCELLED), which frees r. */
			sv_cancel(ks->sv, r->sv_id);
			return;
		}
	}
}

void sv_keysource(struct supervisor *sv, struct peer_keysource *out,
		  double wait)
{
	void **slot = sv_keysource_slot(sv);
	struct ks *ks = *slot;

	if (!ks) {
		ks = calloc(1, sizeof(*ks));
		if (!ks)
			abort();
		ks->sv = sv;
		*slot = ks;
	}
	ks->wait = wait;
	out->ecdh = ks_ecdh;
	out->cancel = ks_cancel;
	out->arg = ks;
}

void sv_keysource_free_all(struct supervisor *sv)
{
	void **slot = sv_keysource_slot(sv);
	struct ks *ks = *slot;

	if (!ks)
		return;
	/* sv_free has completed every request, so every ks_req is gone. */
	while (ks->head) {
		struct ks_req *r = ks->head;
		unlink_req(r);
		free(r);
	}
	free(ks);
	*slot = NULL;
}
