/*~ The supervisor session: the signer streams (up to --signer.maxsigners:
 * one active, the rest standby; signerset.c decides), the requests they
 * carry, and what happens to the rest of the node when they come and go.
 *
 * Each request lives on exactly one list at a time:
 *   queued  - waiting for a signer (only when the caller allowed a wait);
 *   st->sent - written to stream @st, waiting for its reply (to the
 *             active stream, or with a key check whose answer it then
 *             waits for: see "one flight" in docs/signer.md);
 *   orphans - sent to an active stream that was just lost, until the
 *             state machine says: send again to the standby taking over,
 *             or fail;
 *   failing - being failed after a loss (a list so sv_cancel still finds
 *             it while earlier callbacks run);
 *   done    - answered without the signer (refused, or computed locally),
 *             delivered on the next loop iteration so a callback never
 *             fires inside the call that started it.
 * A stream proves the node key before it counts for anything (issue 22):
 * until its key check passes it is "checking" (a candidate), holds no
 * signer slot (--signer.maxsigners counts checked streams only), stays in
 * the pre-auth class of its connection's budget, and if it fails, misses
 * a deadline or goes away, its whole connection is closed.  Candidates are
 * bounded (SV_MAX_CANDIDATES, one per connection).
 * The generation counts signer sessions: a request records the one it was
 * sent in.  Request ids are never reused, so a late reply from an old
 * stream finds nothing and is dropped, as lnd does.
 */
#include "supervisor/supervisor.h"

#include <assert.h>
#include <ev.h>
#include <secp256k1.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer/peer.h"
#include "supervisor/sv_priv.h"

#define SUBSYS "SUPV"
/* A request behind others may wait this many timeouts in all while the
 * signer keeps answering the ones before it. */
#define SV_TIMEOUT_CAP 3

enum req_kind {
	REQ_ECDH,
	REQ_SIGN,
	REQ_PING,     /* internal: health */
	REQ_KEYCHECK, /* internal: does the signer hold the node key? */
	REQ_FORWARD,  /* the signer proxy's: bytes in, bytes out */
};

struct req_list {
	struct req *head, *tail;
	size_t n;
	bool is_sent; /* a stream's sent list: forwards on it are counted */
};

struct req {
	struct req *prev, *next;
	struct req_list *on;
	struct supervisor *sv;
	struct sv_stream *st; /* the stream it is sent on (st->sent), or NULL */
	uint64_t id;
	enum req_kind kind;
	/* sv_ecdh_inbound: counted in sv->inbound_n until freed.  zombie:
	 * cancelled by its caller after it was sent; kept on the sent list
	 * (timer running) until the signer answers, without a callback. */
	bool inbound, zombie;
	uint64_t generation; /* when sent; 0 while never sent */
	double sent_at;      /* cn_now() when sent, for the latency histogram */
	double wait_until;   /* cn_now() limit of its wait for a signer; 0:
			      * it may not wait */
	ev_timer timer;      /* wait limit (queued) or reply deadline (sent) */
	uint8_t point[33];   /* ECDH */
	uint8_t *msg;        /* SIGN: our copy; FORWARD: the member's bytes */
	size_t msglen;
	unsigned field;      /* FORWARD: the oneof member */
	double created_at;   /* FORWARD: cn_now() at sv_forward */
	bool queued;         /* FORWARD: it waited for a signer */
	/* Sent with a key check: the answer is held here (answered) until
	 * the check passes, then delivered; dropped if it fails. */
	bool answered;
	/* Result for the done list (and a held answer). */
	enum sv_result result;
	uint8_t out[64];
	sv_ecdh_cb ecdh_cb;
	sv_sign_cb sign_cb;
	sv_fwd_cb fwd_cb;
	void *arg;
};

enum stream_phase {
	PHASE_REGISTERING, /* candidate: waiting for SignerRegistration */
	PHASE_KEYCHECK,    /* candidate: registered, our key check in flight */
	PHASE_READY,       /* key checked: active or standby */
};

struct sv_stream {
	struct sv_stream *prev, *next; /* sv->streams, in arrival order */
	struct supervisor *sv;
	const struct sv_stream_ops *ops;
	void *conn;
	enum stream_phase phase;
	enum sv_role role;
	bool broken;      /* a send failed: the drop is on its way */
	ev_timer reg_timer;
	ev_timer ping_timer;
	uint8_t challenge[SV_CHALLENGE_LEN];
	uint64_t ping_id; /* outstanding ping, 0 if none */
	uint64_t ready_seq;
	struct req_list sent; /* requests written to this stream */
	char peer[64];
	char info[128];
	int64_t since_unix, role_since_unix;
	uint64_t answered;
	bool not_leader;  /* cluster standby: refused at registration */
	const void *connection; /* ops->connection's answer, compared only */
	double last_answer; /* cn_now() of its last reply to a request */
};

struct supervisor {
	struct ev_loop *loop;
	struct sv_config cfg;
	struct sv_cbs cbs;
	enum sv_state state;
	int64_t since_unix;
	char cause[384];
	uint64_t generation;
	uint64_t last_id;
	bool allow_full;
	/* The node key: known from config, pin, local key or first signer. */
	bool have_pub;
	uint8_t pub[33];
	bool pub_expected; /* have_pub and a signer must match it */
	char *pin_db_path;
	struct cn_nodekey *local;
	struct peer_mgr *peers;
	/* Attached signer streams (at most cfg.max_signers), in arrival
	 * order; @active is the one requests go to, NULL if none. */
	struct sv_stream *streams_head, *streams_tail;
	size_t nstreams;
	size_t nready; /* of them in PHASE_READY (the rest are candidates) */
	struct sv_stream *active;
	uint64_t ready_seq;
	/* queued: waiting for a signer; orphans: sent to a lost active
	 * stream, waiting for the state machine (resend or fail). */
	struct req_list queued, orphans, failing, done;
	ev_timer done_timer;
	/* Keysource adapter state (keysource.c). */
	void *ks;
	/* Counters. */
	uint64_t transitions[SV_NUM_STATES];
	uint64_t signer_sessions, signer_registrations, signer_losses;
	uint64_t signer_refused, key_mismatches;
	uint64_t requests_ok, requests_failed, full_closed;
	uint64_t requests_unavailable, requests_timed_out;
	uint64_t signer_arrivals;
	uint64_t failovers, requests_resent, standby_registrations;
	uint64_t early_sent, early_dropped;
	size_t forwards_sent; /* REQ_FORWARD on the sent list */
	struct sv_req_stats req_stats[SV_NUM_REQ_KINDS];
	int64_t signer_lost_unix; /* when the last stream went away */
	/* Cluster mode: the standby's refusal (NULL: the leader, or no
	 * cluster) and the leader's fencing token (0: none). */
	char *not_leader;
	uint64_t token;
	uint64_t fencing_refusals;
	/* Issue 22: inbound handshakes' ECDH budget. */
	size_t inbound_n;   /* requests with ->inbound alive */
	uint64_t inbound_refused;
	struct log_burst log_busy;
	/* Streams refused or failed before the key check: anyone with the
	 * macaroon can cause them as fast as they like. */
	struct log_burst log_refused;
};

static void stream_drop(struct supervisor *sv, struct sv_stream *st,
			enum sv_code code, const char *why);
static void stream_reject(struct supervisor *sv, struct sv_stream *st,
			  enum sv_code code, const char *why);

/* ---- request lists ------------------------------------------------------ */

static void list_add(struct req_list *l, struct req *r)
{
	assert(!r->on);
	r->prev = l->tail;
	r->next = NULL;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	l->n++;
	r->on = l;
	if (r->kind == REQ_FORWARD && l->is_sent)
		r->sv->forwards_sent++;
}

static void list_del(struct req *r)
{
	struct req_list *l = r->on;

	if (!l)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	l->n--;
	if (r->kind == REQ_FORWARD && l->is_sent)
		r->sv->forwards_sent--;
	r->on = NULL;
	r->st = NULL;
	r->prev = r->next = NULL;
}

/* Replies come back roughly in order, so the oldest is usually first. */
static struct req *list_find(const struct req_list *l, uint64_t id)
{
	for (struct req *r = l->head; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static bool is_internal(const struct req *r)
{
	switch (r->kind) {
	case REQ_ECDH:
	case REQ_SIGN:
	case REQ_FORWARD:
		return false;
	case REQ_PING:
	case REQ_KEYCHECK:
		return true;
	}
	abort();
}

/* Count @res and hand it to the caller.  The only place a user callback
 * fires.  @fwd: a forwarded request's answer (SV_OK / SV_ERR_SIGNER), else
 * NULL. */
static void deliver(struct req *r, enum sv_result res, const uint8_t *data,
		    const struct sv_fwd_resp *fwd)
{
	struct supervisor *sv = r->sv;

	/* Forwarded requests count in the totals only: the proxy keeps its
	 * own per-method statistics. */
	if (!is_internal(r)) {
		if (r->kind != REQ_FORWARD) {
			struct sv_req_stats *rs =
				&sv->req_stats[r->kind == REQ_ECDH
						       ? SV_REQ_ECDH
						       : SV_REQ_SIGN_MESSAGE];
			rs->results[res]++;
			/* Latency of the signer itself: only what it
			 * answered. */
			if (r->sent_at > 0 &&
			    (res == SV_OK || res == SV_ERR_SIGNER ||
			     res == SV_ERR_BAD_REPLY))
				cn_hist_observe(&rs->latency,
						cn_now() - r->sent_at);
		}
		if (res == SV_OK)
			sv->requests_ok++;
		else
			sv->requests_failed++;
		if (res == SV_ERR_UNAVAILABLE)
			sv->requests_unavailable++;
		else if (res == SV_ERR_TIMEOUT)
			sv->requests_timed_out++;
	}
	switch (r->kind) {
	case REQ_ECDH:
		r->ecdh_cb(r->arg, res, res == SV_OK ? data : NULL);
		break;
	case REQ_SIGN:
		r->sign_cb(r->arg, res, res == SV_OK ? data : NULL);
		break;
	case REQ_FORWARD: {
		double now = cn_now();
		struct sv_fwd_answer a = {
			.result = res,
			.queued = r->queued,
			.sent = r->sent_at > 0,
			.waited = (r->sent_at > 0 ? r->sent_at : now) -
				  r->created_at,
			.signer_time = r->sent_at > 0 ? now - r->sent_at : 0,
		};
		if (!r->queued)
			a.waited = 0;
		if (res == SV_OK && fwd) {
			a.field = fwd->field;
			a.body = fwd->body;
			a.len = fwd->len;
		} else if (res == SV_ERR_SIGNER && fwd) {
			a.error = fwd->error;
		}
		r->fwd_cb(r->arg, &a);
		break;
	}
	case REQ_PING:
	case REQ_KEYCHECK:
		break;
	}
}

/* Deliver @res (unless the caller is gone already: a zombie) and free
 * @r. */
static void complete_req(struct req *r, enum sv_result res,
			 const uint8_t *data, const struct sv_fwd_resp *fwd)
{
	struct supervisor *sv = r->sv;

	list_del(r);
	ev_timer_stop(sv->loop, &r->timer);
	if (r->inbound)
		sv->inbound_n--;
	if (!r->zombie)
		deliver(r, res, data, fwd);
	sodium_memzero(r->out, sizeof(r->out));
	free(r->msg);
	free(r);
}

static void complete(struct req *r, enum sv_result res, const uint8_t *data)
{
	complete_req(r, res, data, NULL);
}

static void done_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct supervisor *sv = w->data;
	struct req *r;

	/* Callbacks may add more: they wait for the next round. */
	size_t n = sv->done.n;
	while (n-- && (r = sv->done.head))
		complete(r, r->result, r->out);
}

/* Answer @r on the next loop iteration. */
static void defer(struct req *r, enum sv_result res, const uint8_t *out,
		  size_t len)
{
	struct supervisor *sv = r->sv;

	list_del(r);
	ev_timer_stop(sv->loop, &r->timer);
	r->result = res;
	if (out)
		memcpy(r->out, out, len);
	list_add(&sv->done, r);
	if (!ev_is_active(&sv->done_timer)) {
		ev_timer_set(&sv->done_timer, 0., 0.);
		ev_timer_start(sv->loop, &sv->done_timer);
	}
}

/* Fail every request on @from, one at a time through sv->failing. */
static void fail_list(struct supervisor *sv, struct req_list *from)
{
	struct req *r;

	while ((r = from->head)) {
		list_del(r);
		list_add(&sv->failing, r);
	}
	while ((r = sv->failing.head))
		complete(r, SV_ERR_UNAVAILABLE, NULL);
}

/* Put @r (on no list) back in the queue for what is left of its wait. */
static void requeue(struct supervisor *sv, struct req *r)
{
	double left = r->wait_until - cn_now();

	ev_timer_stop(sv->loop, &r->timer);
	if (r->answered) {
		/* An answer from a signer whose key was never checked (or
		 * failed the check): never used. */
		sv->early_dropped++;
		r->answered = false;
		sodium_memzero(r->out, sizeof(r->out));
	}
	r->sent_at = 0;
	if (left <= 0 || sv->state == SV_SHUTTING_DOWN) {
		list_add(&sv->failing, r);
		complete(r, SV_ERR_UNAVAILABLE, NULL);
		return;
	}
	list_add(&sv->queued, r);
	ev_timer_set(&r->timer, left, 0.);
	ev_timer_start(sv->loop, &r->timer);
}

/* ---- state machine application ----------------------------------------- */

static void notify(struct supervisor *sv)
{
	if (sv->cbs.changed)
		sv->cbs.changed(sv->cbs.arg, sv);
}

static void send_req(struct supervisor *sv, struct sv_stream *st,
		     struct req *r);

/* The first held answer on @st, if any. */
static struct req *first_answered(struct sv_stream *st)
{
	for (struct req *r = st->sent.head; r; r = r->next)
		if (r->answered)
			return r;
	return NULL;
}

static bool stream_alive(const struct supervisor *sv,
			 const struct sv_stream *st)
{
	for (const struct sv_stream *s = sv->streams_head; s; s = s->next)
		if (s == st)
			return true;
	return false;
}

/* @st passed its key check: the answers it gave before are good. */
static void use_early(struct supervisor *sv, struct sv_stream *st)
{
	struct req *r;

	/* A callback may end @st: look it up again each time. */
	while (stream_alive(sv, st) && (r = first_answered(st)))
		complete(r, r->result, r->out);
}

static void send_queued(struct supervisor *sv)
{
	struct req *r;

	/* In arrival order; a send failure schedules the stream's drop,
	 * which puts the rest through the next loss. */
	while ((r = sv->queued.head) && sv->active &&
	       sv->state == SV_ACTIVE) {
		list_del(r);
		ev_timer_stop(sv->loop, &r->timer);
		send_req(sv, sv->active, r);
	}
}

static void apply(struct supervisor *sv, enum sv_event ev, const char *cause)
{
	struct sv_step st = sv_fsm_step(sv->state, ev);
	enum sv_state old = sv->state;

	if (!st.valid) {
		log_broken(SUBSYS, "event %s in state %s (%s): ignored",
			   sv_event_str(ev), sv_state_str(old), cause);
		return;
	}
	/* The state first: callbacks fired below see the new one. */
	sv->state = st.next;
	snprintf(sv->cause, sizeof(sv->cause), "%s", cause);
	if (old != st.next) {
		sv->transitions[st.next]++;
		sv->since_unix = (int64_t)time(NULL);
		log_info(SUBSYS, "%s -> %s: %s", sv_state_str(old),
			 sv_state_str(st.next), cause);
	} else {
		log_info(SUBSYS, "%s stays %s: %s", sv_event_str(ev),
			 sv_state_str(old), cause);
	}

	if (st.actions & SV_ACT_NEXT_GENERATION)
		sv->generation++;
	if (st.actions & SV_ACT_DENY_FULL)
		sv->allow_full = false;
	if (st.actions & SV_ACT_FAIL_SENT)
		fail_list(sv, &sv->orphans);
	if (st.actions & SV_ACT_FAIL_QUEUED)
		fail_list(sv, &sv->queued);
	if ((st.actions & SV_ACT_CLOSE_FULL) && sv->peers) {
		size_t n = peer_mgr_close_mode(sv->peers, PEER_MODE_FULL,
					       "signer lost");
		sv->full_closed += n;
		if (n)
			log_info(SUBSYS, "closed %zu full peer session(s), "
				 "kept %zu gossip-only", n,
				 peer_mgr_count(sv->peers,
						PEER_MODE_GOSSIP_ONLY));
	}
	if (st.actions & SV_ACT_DROP_SIGNER)
		while (sv->streams_head)
			stream_drop(sv, sv->streams_head, SV_CODE_UNAVAILABLE,
				    "coldnode is shutting down");
	if (st.actions & SV_ACT_RESEND_SENT) {
		struct req *r;
		while ((r = sv->orphans.head) && sv->active) {
			list_del(r);
			ev_timer_stop(sv->loop, &r->timer);
			sv->requests_resent++;
			send_req(sv, sv->active, r);
		}
	}
	if (st.actions & SV_ACT_ALLOW_FULL)
		sv->allow_full = true;
	if ((st.actions & SV_ACT_USE_EARLY) && sv->active)
		use_early(sv, sv->active);
	if (st.actions & SV_ACT_SEND_QUEUED)
		send_queued(sv);
	if ((st.actions & SV_ACT_SAFE_DIALS) && sv->peers) {
		peer_mgr_hold_redials(sv->peers, true);
		peer_mgr_keep_gossip_sessions(sv->peers,
					      sv->cfg.gossip_min_sessions);
	}
	if ((st.actions & SV_ACT_IDENTITY_DIALS) && sv->peers) {
		size_t n;
		peer_mgr_keep_gossip_sessions(sv->peers, 0);
		peer_mgr_hold_redials(sv->peers, false);
		/* Before the redial: a persistent peer reached with the
		 * local key is dialed again with the node's identity. */
		n = peer_mgr_close_local_key(sv->peers,
					     "signer back: the node's identity "
					     "is used again");
		if (n)
			log_info(SUBSYS, "closed %zu session(s) made with the "
				 "local gossip key", n);
	}
	if ((st.actions & SV_ACT_REDIAL) && sv->peers)
		peer_mgr_redial_now(sv->peers);
	notify(sv);
}

/* ---- sending ------------------------------------------------------------ */

/* The attached streams other than @skip, as the signer set sees them;
 * @ptrs gets the matching streams.  Returns how many. */
static size_t set_members(const struct supervisor *sv,
			  const struct sv_stream *skip,
			  struct sv_set_member m[SV_MAX_SIGNERS],
			  struct sv_stream *ptrs[SV_MAX_SIGNERS])
{
	size_t n = 0;

	for (struct sv_stream *st = sv->streams_head; st && n < SV_MAX_SIGNERS;
	     st = st->next) {
		/* Candidates never take over nor count: at most
		 * max_signers streams are READY. */
		if (st == skip || st->phase != PHASE_READY)
			continue;
		m[n].role = st->role;
		m[n].healthy = st->phase == PHASE_READY && !st->broken;
		m[n].ready_seq = st->ready_seq;
		ptrs[n++] = st;
	}
	return n;
}

/* Would losing the active signer now leave another to take over? */
static bool standby_ready(const struct supervisor *sv)
{
	struct sv_set_member m[SV_MAX_SIGNERS];
	struct sv_stream *p[SV_MAX_SIGNERS];
	size_t n = set_members(sv, sv->active, m, p);

	return sv_set_pick(m, n) != SIZE_MAX;
}

static void req_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct req *r = w->data;
	struct supervisor *sv = r->sv;
	struct sv_stream *st = r->st;

	if (r->on == &sv->queued) {
		/* Waited for a signer long enough. */
		complete(r, SV_ERR_UNAVAILABLE, NULL);
		return;
	}
	assert(st);
	bool ping = r->kind == REQ_PING;
	enum req_kind r_kind = r->kind; /* @r may be freed below */
	/* The signer answers in order, so a request sent behind others (a
	 * burst, or inbound handshakes' ECDH) waits for their answers first,
	 * and that wait is not the signer's fault: it is judged by the time
	 * its stream has been silent since this request went out.  A signer
	 * that keeps answering but never this request is caught by the cap.
	 * The key check is the first request on its stream: nothing is
	 * before it, its deadline is fixed. */
	if (r->kind != REQ_KEYCHECK) {
		double limit = ping ? sv->cfg.ping_timeout
				    : sv->cfg.request_timeout;
		double now = cn_now();
		double cap = r->sent_at + SV_TIMEOUT_CAP * limit;
		if (st->last_answer > r->sent_at &&
		    now - st->last_answer < limit && now < cap) {
			double until = st->last_answer + limit;
			ev_timer_set(&r->timer, (until < cap ? until : cap) - now,
				     0.);
			ev_timer_start(sv->loop, &r->timer);
			return;
		}
	}
	/* lnd: "remote signer response timeout reached".  A signer that
	 * does not answer cannot be trusted with the next request either:
	 * treat it as lost. */

	log_unusual(SUBSYS, "signer %s: request %llu timed out: dropping it",
		    st->peer, (unsigned long long)r->id);
	if (ping)
		st->ping_id = 0;
	/* A user request the active signer sat on goes to the standby with
	 * the rest; with no standby it fails as lnd's does.  One sent with
	 * a key check goes back to the queue. */
	if (is_internal(r) || r->kind == REQ_FORWARD ||
	    (st == sv->active && !standby_ready(sv)))
		complete(r, SV_ERR_TIMEOUT, NULL);
	/* The callback may have dropped the stream already. */
	if (stream_alive(sv, st))
		stream_reject(sv, st, SV_CODE_DEADLINE_EXCEEDED,
			      ping ? "ping unanswered past --signer.pingtimeout"
			      : r_kind == REQ_KEYCHECK
				      ? "key check unanswered past "
					"--signer.requesttimeout"
				      : "remote signer response timeout reached");
}

static struct req *req_new(struct supervisor *sv, enum req_kind kind)
{
	struct req *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->sv = sv;
	r->kind = kind;
	r->id = ++sv->last_id;
	ev_timer_init(&r->timer, req_timeout_cb, 0., 0.);
	r->timer.data = r;
	return r;
}

static uint8_t *encode(struct supervisor *sv, const struct sv_stream *st,
		       const struct req *r, size_t *len)
{
	switch (r->kind) {
	case REQ_ECDH:
		return sv_proto_shared_key(len, r->id, r->point,
					   sv->have_pub ? sv->pub : NULL);
	case REQ_SIGN:
		return sv_proto_sign_message(len, r->id, r->msg, r->msglen,
					     false);
	case REQ_KEYCHECK:
		return sv_proto_sign_message(len, r->id, st->challenge,
					     SV_CHALLENGE_LEN, true);
	case REQ_PING:
		return sv_proto_ping(len, r->id);
	case REQ_FORWARD:
		return sv_proto_forward(len, r->id, r->field, r->msg,
					r->msglen);
	}
	abort();
}

/* Cluster mode: append field 100 (varint) to an encoded message; a
 * protobuf message may be extended by concatenation. */
static uint8_t *with_token(const struct supervisor *sv, uint8_t *buf,
			   size_t *len)
{
	uint8_t *n;
	uint64_t v = sv->token;
	size_t l = *len;

	if (!buf || !v)
		return buf;
	n = realloc(buf, l + 2 + 10);
	if (!n)
		abort();
	n[l++] = 0xa0; /* (100 << 3) | 0, as a two-byte varint */
	n[l++] = 0x06;
	do {
		n[l++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	*len = l;
	return n;
}

static bool may_act(struct supervisor *sv)
{
	return !sv->cbs.may_act || sv->cbs.may_act(sv->cbs.arg, sv);
}

/* Put @r (on no list) on the wire of @st. */
static void send_req(struct supervisor *sv, struct sv_stream *st,
		     struct req *r)
{
	size_t len;
	uint8_t *buf;
	bool ok;

	if (!may_act(sv)) {
		/* Our leadership ran out: nothing more goes to the signer. */
		if (r->kind == REQ_PING)
			st->ping_id = 0;
		defer(r, SV_ERR_UNAVAILABLE, NULL, 0);
		return;
	}
	buf = with_token(sv, encode(sv, st, r, &len), &len);
	if (!buf)
		abort();
	r->generation = sv->generation;
	r->sent_at = cn_now();
	list_add(&st->sent, r);
	r->st = st;
	ev_timer_set(&r->timer,
		     r->kind == REQ_PING ? sv->cfg.ping_timeout
					 : sv->cfg.request_timeout, 0.);
	ev_timer_start(sv->loop, &r->timer);
	ok = !st->broken && st->ops->send(st->conn, buf, len);
	free(buf);
	if (!ok && !st->broken) {
		/* The transport is going away; losing it moves @r with the
		 * rest.  Never synchronously inside a caller's request: the
		 * drop is deferred through a zero timer on the stream. */
		st->broken = true;
		ev_timer_stop(sv->loop, &st->reg_timer);
		ev_timer_set(&st->reg_timer, 0., 0.);
		ev_timer_start(sv->loop, &st->reg_timer);
	}
}

/* Can a request go out right now? */
static bool signer_usable(const struct supervisor *sv)
{
	return sv->state == SV_ACTIVE && sv->active;
}

/* With no active signer, a stream whose key check is in flight takes the
 * waiting requests along (answers held until the check passes). */
static struct sv_stream *early_target(const struct supervisor *sv)
{
	if (sv->active || sv->state == SV_SHUTTING_DOWN || sv->not_leader)
		return NULL;
	for (struct sv_stream *st = sv->streams_head; st; st = st->next)
		if (st->phase == PHASE_KEYCHECK && !st->broken)
			return st;
	return NULL;
}

/* ---- the stream --------------------------------------------------------- */

static void ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sv_stream *st = w->data;
	struct supervisor *sv = st->sv;
	struct req *r;

	if (st->phase != PHASE_READY || st->ping_id || st->broken)
		return;
	r = req_new(sv, REQ_PING);
	st->ping_id = r->id;
	send_req(sv, st, r);
}

static void stream_unlink(struct supervisor *sv, struct sv_stream *st)
{
	if (st->prev)
		st->prev->next = st->next;
	else
		sv->streams_head = st->next;
	if (st->next)
		st->next->prev = st->prev;
	else
		sv->streams_tail = st->prev;
	st->prev = st->next = NULL;
	sv->nstreams--;
	if (st->phase == PHASE_READY)
		sv->nready--;
}

/* @want, or debug once the macaroon holders' lines are over their rate. */
static enum log_level refused_level(struct supervisor *sv,
				    enum log_level want)
{
	return log_burst_allow(&sv->log_refused, cn_now(), SUBSYS,
			       "refused or unchecked signer streams")
		       ? want
		       : LOG_DEBUG;
}

/* One flight: what waits for a signer goes along with @st's key check
 * (docs/signer.md, "Key check and ECDH in one flight"). */
static void send_early(struct supervisor *sv, struct sv_stream *st)
{
	size_t n = 0;
	struct req *r, *nx;

	for (r = sv->queued.head; r && !st->broken; r = nx) {
		nx = r->next;
		/* A forwarded answer is read only from a checked signer
		 * (sv_stream_recv): those wait for it. */
		if (r->kind == REQ_FORWARD)
			continue;
		list_del(r);
		ev_timer_stop(sv->loop, &r->timer);
		sv->early_sent++;
		n++;
		send_req(sv, st, r);
	}
	if (n)
		log_debug(SUBSYS, "sent %zu waiting request(s) with the key "
			  "check to %s", n, st->peer);
}

/* @st is gone: forget it and let the signer set and the state machine
 * decide what it means. */
static void stream_lost(struct supervisor *sv, struct sv_stream *st,
			const char *why)
{
	struct sv_set_member m[SV_MAX_SIGNERS];
	struct sv_stream *p[SV_MAX_SIGNERS];
	struct sv_set_loss d;
	struct req_list mine = { 0 };
	char cause[384];
	enum sv_role role = st->role;
	struct req *r;
	size_t n;

	stream_unlink(sv, st);
	if (sv->active == st)
		sv->active = NULL;
	sv->signer_losses++;
	ev_timer_stop(sv->loop, &st->reg_timer);
	ev_timer_stop(sv->loop, &st->ping_timer);
	log_msg(SUBSYS,
		role == SV_ROLE_CHECKING ? refused_level(sv, LOG_INFO)
					 : LOG_INFO,
		"signer %s (%s) gone: %s", st->peer, sv_role_str(role), why);
	/* Its pings and key check end with it; its user requests wait for
	 * the decision below. */
	while ((r = st->sent.head)) {
		list_del(r);
		if (is_internal(r) || r->zombie) {
			/* (A zombie's caller is gone: it only frees its
			 * place in the inbound budget.) */
			list_add(&sv->failing, r);
			complete(r, SV_ERR_UNAVAILABLE, NULL);
		} else if (r->kind == REQ_FORWARD) {
			/* Never sent again: a MuSig2 session lives in the
			 * signer that created it (docs/signerproxy.md). */
			list_add(&sv->orphans, r);
		} else {
			list_add(&mine, r);
		}
	}
	n = set_members(sv, NULL, m, p);
	d = sv_set_on_loss(role, m, n);
	if (sv->state == SV_SHUTTING_DOWN)
		d.promote = SIZE_MAX, d.ev = SV_EV_SIGNER_LOST;
	snprintf(cause, sizeof(cause), "signer %s lost: %s", st->peer, why);
	if (!sv->nstreams)
		sv->signer_lost_unix = (int64_t)time(NULL);
	sodium_memzero(st->challenge, sizeof(st->challenge));
	free(st);

	if (d.promote != SIZE_MAX) {
		struct sv_stream *next = p[d.promote];
		next->role = SV_ROLE_ACTIVE;
		next->role_since_unix = (int64_t)time(NULL);
		sv->active = next;
		sv->failovers++;
		log_info(SUBSYS, "standby signer %s is active now (%zu "
			 "request(s) to send again)", next->peer, mine.n);
		snprintf(cause, sizeof(cause),
			 "signer lost: %s; standby %s took over", why,
			 next->peer);
	}
	if (d.requeue) {
		while ((r = mine.head)) {
			list_del(r);
			requeue(sv, r);
		}
	} else {
		while ((r = mine.head)) {
			list_del(r);
			list_add(&sv->orphans, r);
		}
	}
	if (d.fsm) {
		/* lnd's wording kept for the plain loss: tests and operators
		 * grep "signer lost". */
		if (d.promote == SIZE_MAX)
			snprintf(cause, sizeof(cause), "signer lost: %s", why);
		apply(sv, d.ev, cause);
	} else {
		notify(sv);
	}
	/* Whatever the state machine left (e.g. while shutting down). */
	fail_list(sv, &sv->orphans);
	if (sv->active) {
		send_queued(sv);
	} else {
		/* A candidate that failed its check may have carried them:
		 * another one whose check is in flight takes them now, rather
		 * than one that only holds the macaroon delaying them. */
		struct sv_stream *early = early_target(sv);
		if (early)
			send_early(sv, early);
	}
}

/* We end the stream (bad input, timeout, wrong key). */
static void stream_drop(struct supervisor *sv, struct sv_stream *st,
			enum sv_code code, const char *why)
{
	st->ops->finish(st->conn, code, why);
	stream_lost(sv, st, why);
}

/* @st failed (bad input, deadline, wrong key).  One that never proved the
 * node key takes its whole connection with it: whoever holds only the
 * macaroon connects again through the pre-auth budget (issue 22). */
static void stream_reject(struct supervisor *sv, struct sv_stream *st,
			  enum sv_code code, const char *why)
{
	if (st->phase != PHASE_READY && st->ops->close_connection)
		st->ops->close_connection(st->conn);
	stream_drop(sv, st, code, why);
}

static bool cand_on_connection(const struct supervisor *sv, const void *c)
{
	for (const struct sv_stream *st = sv->streams_head; st; st = st->next)
		if (st->phase != PHASE_READY && st->connection == c)
			return true;
	return false;
}

static void reg_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sv_stream *st = w->data;

	if (st->not_leader) {
		st->ops->finish(st->conn, SV_CODE_DEADLINE_EXCEEDED,
				"timed out waiting for remote signer "
				"registration");
		free(st);
	} else if (st->broken)
		/* Armed by a failed send. */
		stream_reject(st->sv, st, SV_CODE_UNAVAILABLE,
			      "could not send to remote signer");
	else if (st->phase == PHASE_REGISTERING)
		stream_reject(st->sv, st, SV_CODE_DEADLINE_EXCEEDED,
			      "timed out waiting for remote signer "
			      "registration");
}

struct sv_stream *sv_stream_open(struct supervisor *sv, enum sv_code *code,
				 const char **msg,
				 const struct sv_stream_ops *ops, void *conn,
				 const char *peer)
{
	const void *connection = ops->connection ? ops->connection(conn)
						 : NULL;
	struct sv_stream *st;

	*code = SV_CODE_OK;
	*msg = NULL;
	if (sv->local) {
		*code = SV_CODE_FAILED_PRECONDITION;
		*msg = "coldnode runs with --signer=local";
	} else if (sv->state == SV_SHUTTING_DOWN) {
		*code = SV_CODE_UNAVAILABLE;
		*msg = "coldnode is shutting down";
	} else if (sv->not_leader) {
		/* Answered at registration (sv_stream_recv). */
	} else if (!sv_set_admit(sv->nready, sv->cfg.max_signers)) {
		/* lnd: ErrMultipleConnections.  Only key-checked signers
		 * count (issue 22): a stream still checking holds no slot, so
		 * whoever holds the macaroon without the key cannot keep the
		 * real signer out. */
		*code = SV_CODE_ALREADY_EXISTS;
		*msg = sv->cfg.max_signers > 1
			       ? "--signer.maxsigners remote signers are "
				 "already connected"
			       : "only one remote signer can be connected";
	} else if (connection && cand_on_connection(sv, connection)) {
		*code = SV_CODE_ALREADY_EXISTS;
		*msg = "a signer registration is already in progress on this "
		       "connection";
	} else if (sv->nstreams - sv->nready >= SV_MAX_CANDIDATES) {
		*code = SV_CODE_RESOURCE_EXHAUSTED;
		*msg = "too many signer streams waiting for the key check";
	}
	if (*code != SV_CODE_OK) {
		sv->signer_refused++;
		log_msg(SUBSYS, refused_level(sv, LOG_UNUSUAL),
			"refused signer stream from %s: %s", peer, *msg);
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		abort();
	st->sv = sv;
	st->ops = ops;
	st->conn = conn;
	st->connection = connection;
	st->phase = PHASE_REGISTERING;
	st->role = SV_ROLE_CHECKING;
	ev_timer_init(&st->reg_timer, reg_timeout_cb, sv->cfg.request_timeout,
		      0.);
	st->reg_timer.data = st;
	ev_timer_start(sv->loop, &st->reg_timer);
	if (sv->not_leader) {
		/* Not linked: it never becomes a signer here. */
		st->not_leader = true;
		log_info(SUBSYS, "signer stream from %s on a standby: refusing "
			 "at registration", peer);
		return st;
	}
	st->sent.is_sent = true;
	ev_timer_init(&st->ping_timer, ping_cb, 0., 0.);
	st->ping_timer.data = st;
	st->prev = sv->streams_tail;
	if (sv->streams_tail)
		sv->streams_tail->next = st;
	else
		sv->streams_head = st;
	sv->streams_tail = st;
	sv->nstreams++;
	sv->signer_sessions++;
	snprintf(st->peer, sizeof(st->peer), "%s", peer);
	st->since_unix = (int64_t)time(NULL);
	log_msg(SUBSYS, refused_level(sv, LOG_INFO),
		"signer stream from %s: waiting for registration", peer);
	notify(sv);
	return st;
}

void sv_connection_arrived(struct supervisor *sv, const char *peer)
{
	/* ACTIVE has what it needs, and a stream already attached is the
	 * signer we are waiting for. */
	if (sv->local || sv->state == SV_ACTIVE || sv->not_leader ||
	    sv->state == SV_SHUTTING_DOWN || sv->nstreams)
		return;
	sv->signer_arrivals++;
	log_debug(SUBSYS, "connection from %s on the signer port while %s",
		  peer, sv_state_str(sv->state));
	if (sv->cbs.signer_arriving)
		sv->cbs.signer_arriving(sv->cbs.arg, sv);
}

static void registered(struct supervisor *sv, struct sv_stream *st,
		       const struct sv_resp *resp)
{
	struct req *r;
	uint8_t *buf;
	size_t len;

	ev_timer_stop(sv->loop, &st->reg_timer);
	snprintf(st->info, sizeof(st->info), "%s", resp->text);
	if (!may_act(sv)) {
		stream_drop(sv, st, SV_CODE_UNAVAILABLE,
			    "not the cluster leader any more");
		return;
	}
	/* lnd's SignCoordinator sends this fixed text (sign_coordinator.go). */
	buf = sv_proto_registration_complete(&len,
					     "watch-only registration info");
	buf = with_token(sv, buf, &len);
	if (!buf)
		abort();
	if (!st->ops->send(st->conn, buf, len)) {
		free(buf);
		stream_reject(sv, st, SV_CODE_UNAVAILABLE,
			      "could not send to remote signer");
		return;
	}
	free(buf);
	/* A registration proves nothing but the macaroon: the connection
	 * stays pre-auth until the key check passes (issue 22). */
	log_msg(SUBSYS, refused_level(sv, LOG_INFO),
		"signer %s registered (%s): checking its key", st->peer,
		st->info);
	st->phase = PHASE_KEYCHECK;
	sv_keycheck_challenge(st->challenge);
	r = req_new(sv, REQ_KEYCHECK);
	send_req(sv, st, r);
	if (early_target(sv) == st)
		send_early(sv, st);
}

static void keycheck_done(struct supervisor *sv, struct sv_stream *st,
			  const struct sv_resp *resp)
{
	char why[384], got[67], want[67];
	uint8_t pub[33];
	const char *err;

	if (resp->kind == SV_RESP_SIGNER_ERROR) {
		if (strstr(resp->text, "fencing token"))
			sv->fencing_refusals++;
		snprintf(why, sizeof(why), "key check refused by signer: %s",
			 resp->text);
		stream_reject(sv, st, SV_CODE_PERMISSION_DENIED, why);
		return;
	}
	if (resp->kind != SV_RESP_SIGNATURE) {
		stream_reject(sv, st, SV_CODE_INVALID_ARGUMENT,
			      "key check: unexpected response type");
		return;
	}
	if (!sv_keycheck_verify(pub, &err, st->challenge, resp->sig,
				resp->sig_len)) {
		sv->key_mismatches++;
		stream_reject(sv, st, SV_CODE_PERMISSION_DENIED, err);
		return;
	}
	hex_encode(got, pub, 33);
	if (sv->pub_expected && sodium_memcmp(pub, sv->pub, 33) != 0) {
		sv->key_mismatches++;
		hex_encode(want, sv->pub, 33);
		snprintf(why, sizeof(why),
			 "signer holds node key %s, expected %s", got, want);
		log_msg(SUBSYS, refused_level(sv, LOG_UNUSUAL),
			"refusing signer %s: %s", st->peer, why);
		stream_reject(sv, st, SV_CODE_PERMISSION_DENIED, why);
		return;
	}
	if (!sv_set_admit(sv->nready, sv->cfg.max_signers)) {
		/* Other candidates proved the key first and fill the slots.
		 * This one holds the key too: its connection may stay. */
		const char *full = sv->cfg.max_signers > 1
					   ? "--signer.maxsigners remote "
					     "signers are already connected"
					   : "only one remote signer can be "
					     "connected";
		sv->signer_refused++;
		log_msg(SUBSYS, refused_level(sv, LOG_UNUSUAL),
			"refused signer stream from %s: %s", st->peer, full);
		stream_drop(sv, st, SV_CODE_ALREADY_EXISTS, full);
		return;
	}
	if (!sv->pub_expected) {
		/* First contact: this key is ours from now on. */
		if (sv->pin_db_path && !sv_pin_store(sv->pin_db_path, pub)) {
			stream_drop(sv, st, SV_CODE_UNAVAILABLE,
				    "cannot pin the node key");
			return;
		}
		memcpy(sv->pub, pub, 33);
		sv->have_pub = sv->pub_expected = true;
		log_info(SUBSYS, "pinned node key %s from first signer", got);
	}
	st->phase = PHASE_READY;
	sv->nready++;
	sodium_memzero(st->challenge, sizeof(st->challenge));
	/* Only now out of the flood's reach (the connection budget). */
	if (st->ops->authenticated)
		st->ops->authenticated(st->conn);
	st->ready_seq = ++sv->ready_seq;
	st->role = sv_set_role_on_ready(sv->active != NULL);
	st->role_since_unix = (int64_t)time(NULL);
	sv->signer_registrations++;
	ev_timer_set(&st->ping_timer, sv->cfg.ping_interval,
		     sv->cfg.ping_interval);
	ev_timer_start(sv->loop, &st->ping_timer);
	if (st->role == SV_ROLE_STANDBY) {
		sv->standby_registrations++;
		log_info(SUBSYS, "signer %s (%s) proved node key %s: standby "
			 "behind %s", st->peer, st->info, got,
			 sv->active->peer);
		notify(sv);
		use_early(sv, st);
		return;
	}
	sv->active = st;
	snprintf(why, sizeof(why), "signer %s ready (%s), node key %s",
		 st->peer, st->info, got);
	apply(sv, SV_EV_SIGNER_READY, why);
}

/* Verify a wire signature of double-SHA256(@msg) against the node key. */
static bool sig_ok(const struct supervisor *sv, const uint8_t sig[64],
		   const uint8_t *msg, size_t len)
{
	const secp256k1_context *ctx = cn_secp();
	secp256k1_ecdsa_signature s;
	secp256k1_pubkey pk;
	uint8_t digest[32];

	crypto_hash_sha256(digest, msg, len);
	crypto_hash_sha256(digest, digest, sizeof(digest));
	return sv->have_pub &&
	       secp256k1_ec_pubkey_parse(ctx, &pk, sv->pub, 33) &&
	       secp256k1_ecdsa_signature_parse_compact(ctx, &s, sig) &&
	       secp256k1_ecdsa_verify(ctx, &s, digest, &pk);
}

/* The result an answer to user request @r means (SV_OK: @out filled). */
static enum sv_result user_result(struct supervisor *sv, struct req *r,
				  const struct sv_resp *resp, uint8_t *out)
{
	switch (r->kind) {
	case REQ_ECDH:
		if (resp->kind == SV_RESP_SHARED_KEY) {
			memcpy(out, resp->shared_key, 32);
			return SV_OK;
		}
		break;
	case REQ_SIGN:
		if (resp->kind == SV_RESP_SIGNATURE) {
			if (resp->sig_len == 64 &&
			    sig_ok(sv, resp->sig, r->msg, r->msglen)) {
				memcpy(out, resp->sig, 64);
				return SV_OK;
			}
			log_unusual(SUBSYS, "signer returned a bad signature "
				    "for request %llu",
				    (unsigned long long)r->id);
			return SV_ERR_BAD_REPLY;
		}
		break;
	case REQ_FORWARD:
		/* Answered through forward_reply; a message that reached here
		 * did not decode as a forwarded answer. */
		break;
	case REQ_PING:
	case REQ_KEYCHECK:
		abort();
	}
	if (resp->kind == SV_RESP_SIGNER_ERROR) {
		log_info(SUBSYS, "signer error for request %llu: %s",
			 (unsigned long long)r->id, resp->text);
		return SV_ERR_SIGNER;
	}
	/* lnd: ErrUnexpectedResponse "unexpected response type". */
	log_unusual(SUBSYS, "unexpected response type for request %llu",
		    (unsigned long long)r->id);
	return SV_ERR_BAD_REPLY;
}

/* A reply to request @r (found in @st's sent list). */
static void reply(struct supervisor *sv, struct sv_stream *st, struct req *r,
		  const struct sv_resp *resp)
{
	enum sv_result res;

	switch (r->kind) {
	case REQ_KEYCHECK:
		complete(r, SV_OK, NULL);
		keycheck_done(sv, st, resp);
		return;
	case REQ_PING:
		st->ping_id = 0;
		if (resp->kind != SV_RESP_PONG || !resp->pong) {
			complete(r, SV_ERR_BAD_REPLY, NULL);
			stream_drop(sv, st, SV_CODE_INVALID_ARGUMENT,
				    "incorrect Pong response from remote signer");
			return;
		}
		complete(r, SV_OK, NULL);
		return;
	case REQ_ECDH:
	case REQ_SIGN:
	case REQ_FORWARD:
		break;
	}
	if (r->answered)
		return; /* a duplicate id: the first answer stands */
	if (r->zombie) {
		/* Cancelled while with the signer: its place in the inbound
		 * budget is free now. */
		st->answered++;
		complete(r, SV_ERR_CANCELLED, NULL);
		return;
	}
	res = user_result(sv, r, resp, r->out);
	st->answered++;
	if (res == SV_ERR_SIGNER && strstr(resp->text, "fencing token")) {
		/* The signer follows a newer leader: we are not it. */
		sv->fencing_refusals++;
		complete(r, res, NULL);
		stream_drop(sv, st, SV_CODE_FAILED_PRECONDITION, resp->text);
		return;
	}
	if (st->phase != PHASE_READY) {
		/* Sent with the key check: held until it passes. */
		r->answered = true;
		r->result = res;
		ev_timer_stop(sv->loop, &r->timer);
		return;
	}
	complete(r, res, r->out);
}

/* The answer to a forwarded request: any member 4..13 is handed back as
 * bytes (the proxy checks it is the one it asked for), a SignerError as
 * its text. */
static void forward_reply(struct req *r, const struct sv_fwd_resp *fr)
{
	if (fr->field == 14) {
		log_debug(SUBSYS, "signer error for forwarded request %llu: %s",
			  (unsigned long long)r->id, fr->error);
		complete_req(r, SV_ERR_SIGNER, NULL, fr);
	} else if (fr->field >= SV_FWD_FIELD_MIN &&
		   fr->field <= SV_FWD_FIELD_MAX) {
		complete_req(r, SV_OK, NULL, fr);
	} else {
		log_unusual(SUBSYS, "unexpected response type for forwarded "
			    "request %llu", (unsigned long long)r->id);
		complete(r, SV_ERR_BAD_REPLY, NULL);
	}
}

void sv_stream_recv(struct sv_stream *st, const uint8_t *msg, size_t len)
{
	struct supervisor *sv = st->sv;
	struct sv_resp resp;
	const char *err;
	char buf[160];
	struct req *r;

	if (st->not_leader) {
		/* A standby answers whatever comes first with the leader's
		 * whereabouts, in-band (lnd's registration_error) and as the
		 * call's status. */
		const char *why = sv->not_leader ? sv->not_leader
						 : "not the leader";
		uint8_t *m = sv_proto_registration_error(&len, why);
		if (m)
			st->ops->send(st->conn, m, len);
		free(m);
		sv->signer_refused++;
		ev_timer_stop(sv->loop, &st->reg_timer);
		st->ops->finish(st->conn, SV_CODE_FAILED_PRECONDITION, why);
		free(st);
		return;
	}
	/* Forwarded answers first: they may be bigger than SV_MAX_MSG and
	 * carry members the node's own codec does not know. */
	if (sv->forwards_sent && st->phase == PHASE_READY) {
		struct sv_fwd_resp fr;
		if (sv_proto_decode_forward(&fr, msg, len)) {
			r = list_find(&st->sent, fr.ref_id);
			if (r && r->kind == REQ_FORWARD) {
				st->last_answer = cn_now();
				forward_reply(r, &fr);
				sv_proto_fwd_resp_clear(&fr);
				return;
			}
			if (!r && fr.ref_id != SV_REGISTRATION_ID) {
				/* lnd: "Responses with unknown ids are
				 * dropped", whatever member they carry. */
				log_debug(SUBSYS, "dropping signer response "
					  "for unknown request %llu",
					  (unsigned long long)fr.ref_id);
				sv_proto_fwd_resp_clear(&fr);
				return;
			}
			sv_proto_fwd_resp_clear(&fr);
		}
	}
	if (!sv_proto_decode(&resp, &err, msg, len)) {
		log_msg(SUBSYS,
			st->phase == PHASE_READY
				? LOG_UNUSUAL
				: refused_level(sv, LOG_UNUSUAL),
			"bad message from signer %s: %s", st->peer, err);
		stream_reject(sv, st, SV_CODE_INVALID_ARGUMENT, err);
		goto out;
	}
	if (st->phase == PHASE_REGISTERING) {
		err = sv_proto_check_registration(buf, sizeof(buf), &resp);
		if (err) {
			uint8_t *m;
			size_t mlen;
			log_msg(SUBSYS, refused_level(sv, LOG_UNUSUAL),
				"signer %s: %s", st->peer, err);
			/* Tell the signer in-band too, then end the call. */
			m = sv_proto_registration_error(&mlen, err);
			if (m)
				st->ops->send(st->conn, m, mlen);
			free(m);
			stream_reject(sv, st, SV_CODE_INVALID_ARGUMENT, err);
			goto out;
		}
		registered(sv, st, &resp);
		goto out;
	}
	if (resp.kind == SV_RESP_REGISTRATION) {
		/* One registration per stream: a second one is no reply to
		 * anything, and lnd's signer never sends it (issue 22: it
		 * was a way to keep the signer slot busy). */
		log_msg(SUBSYS, refused_level(sv, LOG_UNUSUAL),
			"signer %s registered twice", st->peer);
		stream_reject(sv, st, SV_CODE_INVALID_ARGUMENT,
			      "remote signer registered twice on one stream");
		goto out;
	}
	st->last_answer = cn_now();
	r = list_find(&st->sent, resp.ref_id);
	if (!r) {
		/* lnd: "Responses with unknown ids are dropped". */
		log_debug(SUBSYS, "dropping signer response for unknown "
			  "request %llu", (unsigned long long)resp.ref_id);
		goto out;
	}
	reply(sv, st, r, &resp);
out:
	/* It may hold an ECDH result (SHARED_KEY). */
	sodium_memzero(&resp, sizeof(resp));
}

void sv_stream_gone(struct sv_stream *st, const char *why)
{
	if (st->not_leader) {
		ev_timer_stop(st->sv->loop, &st->reg_timer);
		free(st);
		return;
	}
	/* One that never proved the key: its connection goes too. */
	if (st->phase != PHASE_READY && st->ops->close_connection)
		st->ops->close_connection(st->conn);
	stream_lost(st->sv, st, why);
}

/* ---- requests ----------------------------------------------------------- */

/* Send now, queue for a signer, or refuse. */
static uint64_t start(struct supervisor *sv, struct req *r, double wait)
{
	uint64_t id = r->id;

	struct sv_stream *early;

	r->wait_until = wait > 0 ? cn_now() + wait : 0;
	if (signer_usable(sv)) {
		send_req(sv, sv->active, r);
	} else if (wait > 0 && sv->state != SV_SHUTTING_DOWN && !sv->local) {
		if ((early = early_target(sv))) {
			/* Its answer is held until the key check passes. */
			sv->early_sent++;
			send_req(sv, early, r);
			return id;
		}
		list_add(&sv->queued, r);
		ev_timer_set(&r->timer, wait, 0.);
		ev_timer_start(sv->loop, &r->timer);
	} else {
		defer(r, SV_ERR_UNAVAILABLE, NULL, 0);
	}
	return id;
}

static uint64_t ecdh(struct supervisor *sv, const uint8_t point[33],
		     double wait, sv_ecdh_cb cb, void *arg, bool inbound)
{
	struct req *r = req_new(sv, REQ_ECDH);

	memcpy(r->point, point, 33);
	r->ecdh_cb = cb;
	r->arg = arg;
	/* The budget protects a remote signer's stream; the local key needs
	 * no protection (and answers at once). */
	if (inbound && !sv->local) {
		if (sv->cfg.max_inbound_ecdh &&
		    sv->inbound_n >= sv->cfg.max_inbound_ecdh) {
			sv->inbound_refused++;
			log_msg(SUBSYS,
				log_burst_allow(&sv->log_busy, cn_now(), SUBSYS,
						"inbound handshakes dropped")
					? LOG_INFO
					: LOG_DEBUG,
				"inbound handshake dropped at act one: %zu ECDH "
				"requests of inbound handshakes already with the "
				"signer (--signer.maxinboundecdh)",
				sv->inbound_n);
			defer(r, SV_ERR_BUSY, NULL, 0);
			return r->id;
		}
		r->inbound = true;
		sv->inbound_n++;
	}
	if (sv->local && sv->state == SV_ACTIVE) {
		uint8_t secret[32];
		bool ok = cn_nodekey_ecdh(sv->local, secret, point);
		defer(r, ok ? SV_OK : SV_ERR_SIGNER, secret, sizeof(secret));
		sodium_memzero(secret, sizeof(secret));
		return r->id;
	}
	return start(sv, r, wait);
}

uint64_t sv_ecdh(struct supervisor *sv, const uint8_t point[33], double wait,
		 sv_ecdh_cb cb, void *arg)
{
	return ecdh(sv, point, wait, cb, arg, false);
}

uint64_t sv_ecdh_inbound(struct supervisor *sv, const uint8_t point[33],
			 double wait, sv_ecdh_cb cb, void *arg)
{
	return ecdh(sv, point, wait, cb, arg, true);
}

uint64_t sv_sign_message(struct supervisor *sv, const uint8_t *msg,
			 size_t len, sv_sign_cb cb, void *arg)
{
	struct req *r = req_new(sv, REQ_SIGN);

	r->sign_cb = cb;
	r->arg = arg;
	r->msg = malloc(len + 1);
	if (!r->msg)
		abort();
	memcpy(r->msg, msg, len);
	r->msglen = len;
	if (sv->local && sv->state == SV_ACTIVE) {
		uint8_t sig[64];
		/* BOLT 7 signs the double SHA-256 of the message. */
		bool ok = cn_nodekey_sign(sv->local, sig, msg, len, true);
		defer(r, ok ? SV_OK : SV_ERR_SIGNER, sig, sizeof(sig));
		return r->id;
	}
	/* BOLT 7 signatures are made in ACTIVE only: never wait. */
	return start(sv, r, 0);
}

uint64_t sv_forward(struct supervisor *sv, bool *queued, unsigned field,
		    const uint8_t *body, size_t len, double wait,
		    sv_fwd_cb cb, void *arg)
{
	struct req *r;
	uint64_t id;

	if (field < SV_FWD_FIELD_MIN || field > SV_FWD_FIELD_MAX)
		abort();
	r = req_new(sv, REQ_FORWARD);
	r->field = field;
	r->fwd_cb = cb;
	r->arg = arg;
	r->created_at = cn_now();
	r->msg = malloc(len + 1);
	if (!r->msg)
		abort();
	memcpy(r->msg, body, len);
	r->msglen = len;
	id = start(sv, r, wait);
	/* start() left it on the queued list, or sent/deferred it. */
	r->queued = r->on == &sv->queued;
	if (queued)
		*queued = r->queued;
	return id;
}

void sv_cancel(struct supervisor *sv, uint64_t id)
{
	struct req_list *lists[] = { &sv->queued, &sv->orphans, &sv->failing,
				     &sv->done };
	struct req *r = NULL;

	for (size_t i = 0; i < CN_ARRAY_SIZE(lists) && !r; i++)
		r = list_find(lists[i], id);
	for (struct sv_stream *st = sv->streams_head; st && !r; st = st->next)
		r = list_find(&st->sent, id);
	if (!r || is_internal(r) || r->zombie)
		return;
	if (r->inbound && r->st && !r->answered) {
		/* The signer has it: the caller is told now, the budget is
		 * freed only once the signer answers (or is lost). */
		deliver(r, SV_ERR_CANCELLED, NULL, NULL);
		r->zombie = true;
		return;
	}
	complete(r, SV_ERR_CANCELLED, NULL);
}

/* ---- life cycle and queries --------------------------------------------- */

void sv_config_default(struct sv_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ping_interval = 10;
	cfg->ping_timeout = 5;
	/* lnd's experimentalrequesttimeout default. */
	cfg->request_timeout = 5;
	/* At a mobile link's 200 ms RTT, 80 strangers' handshakes a second:
	 * far above what a node is dialled at, and a few kilobytes of the
	 * signer's link in flight at most. */
	cfg->max_inbound_ecdh = 16;
	/* lnd's rule: one signer. */
	cfg->max_signers = 1;
}

struct supervisor *sv_new(struct ev_loop *loop, const struct sv_config *cfg,
			  const struct sv_cbs *cbs)
{
	struct supervisor *sv = calloc(1, sizeof(*sv));

	if (!sv)
		return NULL;
	sv->loop = loop;
	sv->cfg = *cfg;
	sv->cfg.local_key_path = NULL;
	sv->cfg.pin_db_path = NULL;
	if (cbs)
		sv->cbs = *cbs;
	sv->state = SV_WAITING_FOR_SIGNER;
	sv->transitions[SV_WAITING_FOR_SIGNER] = 1;
	sv->since_unix = (int64_t)time(NULL);
	snprintf(sv->cause, sizeof(sv->cause), "started");
	sv->generation = 1;
	if (sv->cfg.max_signers < 1)
		sv->cfg.max_signers = 1;
	if (sv->cfg.max_signers > SV_MAX_SIGNERS)
		sv->cfg.max_signers = SV_MAX_SIGNERS;
	/* lnd: the counter starts at 1 (the registration), so the first
	 * real request is 2. */
	sv->last_id = SV_REGISTRATION_ID;
	ev_timer_init(&sv->done_timer, done_cb, 0., 0.);
	sv->done_timer.data = sv;

	if (cfg->local) {
		if (!cfg->local_key_path) {
			log_broken(SUBSYS, "--signer=local needs a key path");
			free(sv);
			return NULL;
		}
		sv->local = cn_nodekey_load(SUBSYS, cfg->local_key_path, true);
		if (!sv->local) {
			free(sv);
			return NULL;
		}
		cn_nodekey_pub(sv->local, sv->pub);
		sv->have_pub = sv->pub_expected = true;
		apply(sv, SV_EV_LOCAL_KEY, "--signer=local: node key in data dir");
		return sv;
	}

	if (cfg->have_node_pubkey) {
		memcpy(sv->pub, cfg->node_pubkey, 33);
		sv->have_pub = sv->pub_expected = true;
	}
	if (cfg->pin_db_path) {
		uint8_t pinned[33];
		bool found;
		sv->pin_db_path = strdup(cfg->pin_db_path);
		if (!sv->pin_db_path ||
		    !sv_pin_load(cfg->pin_db_path, pinned, &found)) {
			sv_free(sv);
			return NULL;
		}
		if (found && !sv->have_pub) {
			memcpy(sv->pub, pinned, 33);
			sv->have_pub = sv->pub_expected = true;
		} else if (found && sodium_memcmp(pinned, sv->pub, 33) != 0) {
			/* The operator's explicit choice wins. */
			log_unusual(SUBSYS, "--signer.nodepubkey differs from "
				    "the key pinned in %s: using the option",
				    cfg->pin_db_path);
		}
	}
	log_info(SUBSYS, "waiting for the remote signer to connect");
	return sv;
}

void sv_free(struct supervisor *sv)
{
	struct req *r;

	if (!sv)
		return;
	sv->peers = NULL;
	while (sv->streams_head) {
		struct sv_stream *st = sv->streams_head;
		stream_unlink(sv, st);
		ev_timer_stop(sv->loop, &st->reg_timer);
		ev_timer_stop(sv->loop, &st->ping_timer);
		st->ops->finish(st->conn, SV_CODE_UNAVAILABLE,
				"coldnode is shutting down");
		fail_list(sv, &st->sent);
		free(st);
	}
	sv->active = NULL;
	fail_list(sv, &sv->orphans);
	fail_list(sv, &sv->queued);
	while ((r = sv->done.head))
		complete(r, r->result, r->out);
	ev_timer_stop(sv->loop, &sv->done_timer);
	sv_keysource_free_all(sv);
	free(sv->not_leader);
	cn_nodekey_free(sv->local);
	free(sv->pin_db_path);
	free(sv);
}

void sv_set_standby(struct supervisor *sv, const char *refusal)
{
	char *t = strdup(refusal);

	if (!t)
		abort();
	free(sv->not_leader);
	sv->not_leader = t;
	sv->token = 0;
	while (sv->streams_head)
		stream_drop(sv, sv->streams_head, SV_CODE_UNAVAILABLE, refusal);
}

void sv_set_leader(struct supervisor *sv, uint64_t token)
{
	free(sv->not_leader);
	sv->not_leader = NULL;
	sv->token = token;
}

uint64_t sv_fencing_refusals(const struct supervisor *sv)
{
	return sv->fencing_refusals;
}

void sv_set_peer_mgr(struct supervisor *sv, struct peer_mgr *mgr)
{
	sv->peers = mgr;
}

struct peer_mgr *sv_peer_mgr(const struct supervisor *sv)
{
	return sv->peers;
}

void **sv_keysource_slot(struct supervisor *sv)
{
	return &sv->ks;
}

bool sv_allow_full(void *arg)
{
	const struct supervisor *sv = arg;
	return sv->allow_full;
}

enum sv_state sv_get_state(const struct supervisor *sv)
{
	return sv->state;
}

uint64_t sv_generation(const struct supervisor *sv)
{
	return sv->generation;
}

bool sv_node_pubkey(const struct supervisor *sv, uint8_t out[33])
{
	if (sv->have_pub)
		memcpy(out, sv->pub, 33);
	return sv->have_pub;
}

void sv_shutdown(struct supervisor *sv, const char *why)
{
	struct req *r;

	/* Everything sent to any signer fails with the rest. */
	for (struct sv_stream *st = sv->streams_head; st; st = st->next) {
		struct req *next;
		for (r = st->sent.head; r; r = next) {
			next = r->next;
			if (is_internal(r))
				continue;
			list_del(r);
			list_add(&sv->orphans, r);
		}
	}
	apply(sv, SV_EV_SHUTDOWN, why);
}

void sv_get_info(const struct supervisor *sv, struct sv_info *out)
{
	memset(out, 0, sizeof(*out));
	out->state = sv->state;
	out->since_unix = sv->since_unix;
	out->cause = sv->cause;
	out->generation = sv->generation;
	out->node_pubkey_known = sv->have_pub;
	if (sv->have_pub)
		memcpy(out->node_pubkey, sv->pub, 33);
	/* The active signer, else the first attached. */
	const struct sv_stream *shown =
		sv->active ? sv->active : sv->streams_head;
	out->signer_connected = sv->nstreams > 0;
	out->signer_ready = sv->active != NULL;
	out->signer_peer = shown ? shown->peer : "";
	out->signer_info = shown ? shown->info : "";
	out->signer_since_unix = shown ? shown->since_unix : 0;
	for (const struct sv_stream *st = sv->streams_head; st; st = st->next)
		for (const struct req *r = st->sent.head; r; r = r->next)
			out->requests_sent += !is_internal(r);
	out->requests_queued = sv->queued.n;
	memcpy(out->transitions, sv->transitions, sizeof(out->transitions));
	out->signer_sessions = sv->signer_sessions;
	out->signer_registrations = sv->signer_registrations;
	out->signer_losses = sv->signer_losses;
	out->signer_refused = sv->signer_refused;
	out->key_mismatches = sv->key_mismatches;
	out->requests_ok = sv->requests_ok;
	out->requests_failed = sv->requests_failed;
	out->requests_unavailable = sv->requests_unavailable;
	out->requests_timed_out = sv->requests_timed_out;
	out->full_closed = sv->full_closed;
	out->signer_arrivals = sv->signer_arrivals;
	out->failovers = sv->failovers;
	out->requests_resent = sv->requests_resent;
	out->standby_registrations = sv->standby_registrations;
	out->early_sent = sv->early_sent;
	out->early_dropped = sv->early_dropped;
	out->inbound_ecdh = sv->inbound_n;
	out->inbound_ecdh_refused = sv->inbound_refused;
}

static void signer_fill(struct sv_signer_info *o, const struct sv_stream *st)
{
	memset(o, 0, sizeof(*o));
	o->role = st->role;
	snprintf(o->peer, sizeof(o->peer), "%s", st->peer);
	snprintf(o->info, sizeof(o->info), "%s", st->info);
	o->since_unix = st->since_unix;
	o->role_since_unix = st->role_since_unix;
	o->requests_answered = st->answered;
	for (const struct req *r = st->sent.head; r; r = r->next)
		o->requests_in_flight += !is_internal(r);
}

size_t sv_get_signers(const struct supervisor *sv, struct sv_signer_info *out,
		      size_t max)
{
	size_t n = 0;

	if (sv->active && n < max)
		signer_fill(&out[n++], sv->active);
	/* Standbys in promotion order (a few: selection is fine), then
	 * streams still checking. */
	for (uint64_t after = 0; n < max;) {
		const struct sv_stream *next = NULL;
		for (const struct sv_stream *st = sv->streams_head; st;
		     st = st->next)
			if (st->role == SV_ROLE_STANDBY &&
			    st->ready_seq > after &&
			    (!next || st->ready_seq < next->ready_seq))
				next = st;
		if (!next)
			break;
		signer_fill(&out[n++], next);
		after = next->ready_seq;
	}
	for (const struct sv_stream *st = sv->streams_head; st && n < max;
	     st = st->next)
		if (st->role == SV_ROLE_CHECKING)
			signer_fill(&out[n++], st);
	return n;
}

void sv_get_req_stats(const struct supervisor *sv,
		      struct sv_req_stats out[SV_NUM_REQ_KINDS])
{
	memcpy(out, sv->req_stats, sizeof(sv->req_stats));
}

int64_t sv_signer_last_seen(const struct supervisor *sv)
{
	if (sv->cfg.local || sv->nstreams)
		return (int64_t)time(NULL);
	return sv->signer_lost_unix;
}

const char *sv_req_kind_str(enum sv_req_kind k)
{
	switch (k) {
	case SV_REQ_ECDH:
		return "ecdh";
	case SV_REQ_SIGN_MESSAGE:
		return "sign_message";
	}
	abort();
}

const char *sv_result_str(enum sv_result r)
{
	switch (r) {
	case SV_OK:
		return "OK";
	case SV_ERR_SIGNER:
		return "signer error";
	case SV_ERR_UNAVAILABLE:
		return "UNAVAILABLE: no signer";
	case SV_ERR_TIMEOUT:
		return "remote signer response timeout reached";
	case SV_ERR_CANCELLED:
		return "cancelled";
	case SV_ERR_BAD_REPLY:
		return "unexpected response type";
	case SV_ERR_BUSY:
		return "RESOURCE_EXHAUSTED: inbound ECDH budget full";
	}
	return "?";
}
