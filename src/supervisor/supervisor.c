/*~ The supervisor session: one signer stream, the requests it carries,
 * and what happens to the rest of the node when it comes and goes.
 *
 * Each request lives on exactly one list at a time:
 *   queued  - waiting for a signer (only when the caller allowed a wait);
 *   sent    - written to the current stream, waiting for its reply;
 *   failing - being failed after a loss (a list so sv_cancel still finds
 *             it while earlier callbacks run);
 *   done    - answered without the signer (refused, or computed locally),
 *             delivered on the next loop iteration so a callback never
 *             fires inside the call that started it.
 * The generation counts signer sessions: a request records the one it was
 * sent in, and a loss ends a generation by failing every sent request.
 * Request ids are never reused, so a late reply from an old stream finds
 * nothing and is dropped, as lnd does.
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
};

struct req_list {
	struct req *head, *tail;
	size_t n;
};

struct req {
	struct req *prev, *next;
	struct req_list *on;
	struct supervisor *sv;
	uint64_t id;
	enum req_kind kind;
	/* sv_ecdh_inbound: counted in sv->inbound_n until freed.  zombie:
	 * cancelled by its caller after it was sent; kept on the sent list
	 * (timer running) until the signer answers, without a callback. */
	bool inbound, zombie;
	uint64_t generation; /* when sent; 0 while never sent */
	double sent_at;      /* cn_now() when sent, for the latency histogram */
	ev_timer timer;      /* wait limit (queued) or reply deadline (sent) */
	uint8_t point[33];   /* ECDH */
	uint8_t *msg;        /* SIGN: our copy */
	size_t msglen;
	/* Result for the done list. */
	enum sv_result result;
	uint8_t out[64];
	sv_ecdh_cb ecdh_cb;
	sv_sign_cb sign_cb;
	void *arg;
};

enum stream_phase {
	PHASE_REGISTERING, /* candidate: waiting for SignerRegistration */
	PHASE_KEYCHECK,    /* candidate: registered, our key check in flight */
	PHASE_READY,       /* key checked: the signer (sv->stream) */
};

/* A stream is a candidate (on sv->cands) until it passes the key check,
 * then the signer (sv->stream).  Only the signer is sent requests, and
 * only its replies are matched against them: a candidate cannot answer
 * (or spoil) another stream's requests. */
struct sv_stream {
	struct supervisor *sv;
	const struct sv_stream_ops *ops;
	void *conn;
	enum stream_phase phase;
	/* Candidate: registration, then key-check deadline.  Signer: re-armed
	 * to drop it after a failed send. */
	ev_timer reg_timer;
	uint8_t challenge[SV_CHALLENGE_LEN];
	uint64_t keycheck_id; /* the key check's request id */
	uint64_t ping_id; /* outstanding ping, 0 if none */
	struct sv_stream *next_cand; /* on sv->cands */
	const void *connection; /* ops->connection's answer, compared only */
	char peer[64];
	char info[128];  /* registration_info */
	int64_t since_unix;
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
	struct sv_stream *stream; /* the key-checked signer, or NULL */
	struct sv_stream *cands;  /* candidates, newest first */
	size_t ncands;
	char signer_peer[64];
	char signer_info[128];
	int64_t signer_since_unix;
	struct req_list queued, sent, failing, done;
	ev_timer done_timer;
	ev_timer ping_timer;
	/* Keysource adapter state (keysource.c). */
	void *ks;
	/* Counters. */
	uint64_t transitions[SV_NUM_STATES];
	uint64_t signer_sessions, signer_registrations, signer_losses;
	uint64_t signer_refused, key_mismatches;
	uint64_t requests_ok, requests_failed, full_closed;
	uint64_t requests_unavailable, requests_timed_out;
	uint64_t signer_arrivals;
	struct sv_req_stats req_stats[SV_NUM_REQ_KINDS];
	int64_t signer_lost_unix; /* when the last stream went away */
	double last_answer; /* cn_now() of the signer's last message */
	size_t inbound_n;   /* requests with ->inbound alive */
	uint64_t inbound_refused;
	struct log_burst log_busy;
	/* Streams refused or failed before the key check: anyone with the
	 * macaroon can cause them as fast as they like. */
	struct log_burst log_refused;
};

static void stream_drop(struct supervisor *sv, enum sv_code code,
			const char *why);
static void cand_drop(struct sv_stream *st, enum sv_code code,
		      const char *why, bool close_conn);

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
	r->on = NULL;
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
		return false;
	case REQ_PING:
		return true;
	}
	abort();
}

/* Count @res and hand it to the caller.  The only place a user callback
 * fires. */
static void deliver(struct req *r, enum sv_result res, const uint8_t *data)
{
	struct supervisor *sv = r->sv;

	if (!is_internal(r)) {
		struct sv_req_stats *rs =
			&sv->req_stats[r->kind == REQ_ECDH ? SV_REQ_ECDH
							  : SV_REQ_SIGN_MESSAGE];
		rs->results[res]++;
		/* Latency of the signer itself: only what it answered. */
		if (r->sent_at > 0 && (res == SV_OK || res == SV_ERR_SIGNER ||
				       res == SV_ERR_BAD_REPLY))
			cn_hist_observe(&rs->latency, cn_now() - r->sent_at);
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
	case REQ_PING:
		break;
	}
}

/* Deliver @res (unless the caller is gone already) and free @r. */
static void complete(struct req *r, enum sv_result res, const uint8_t *data)
{
	struct supervisor *sv = r->sv;

	list_del(r);
	ev_timer_stop(sv->loop, &r->timer);
	if (r->inbound)
		sv->inbound_n--;
	if (!r->zombie)
		deliver(r, res, data);
	sodium_memzero(r->out, sizeof(r->out));
	free(r->msg);
	free(r);
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

/* ---- state machine application ----------------------------------------- */

static void notify(struct supervisor *sv)
{
	if (sv->cbs.changed)
		sv->cbs.changed(sv->cbs.arg, sv);
}

static void send_req(struct supervisor *sv, struct req *r);

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
		fail_list(sv, &sv->sent);
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
	if ((st.actions & SV_ACT_DROP_SIGNER) && sv->stream)
		stream_drop(sv, SV_CODE_UNAVAILABLE, "coldnode is shutting down");
	if (st.actions & SV_ACT_ALLOW_FULL)
		sv->allow_full = true;
	if (st.actions & SV_ACT_SEND_QUEUED) {
		struct req *r;
		/* In arrival order; a send failure drops the stream, which
		 * leaves the rest queued again through the next loss. */
		while ((r = sv->queued.head) && sv->state == SV_ACTIVE) {
			list_del(r);
			ev_timer_stop(sv->loop, &r->timer);
			send_req(sv, r);
		}
	}
	if ((st.actions & SV_ACT_REDIAL) && sv->peers)
		peer_mgr_redial_now(sv->peers);
	notify(sv);
}

/* ---- sending ------------------------------------------------------------ */

static void req_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct req *r = w->data;
	struct supervisor *sv = r->sv;

	if (r->on == &sv->queued) {
		/* Waited for a signer long enough. */
		complete(r, SV_ERR_UNAVAILABLE, NULL);
		return;
	}
	/* The signer answers in order, so a request sent behind others (a
	 * burst, or inbound handshakes' ECDH) waits for their answers first,
	 * and that wait is not the signer's fault: it is judged by the time
	 * it has been silent since this request went out.  A signer that
	 * keeps answering but never this request is caught by the cap. */
	bool ping = r->kind == REQ_PING;
	double limit = ping ? sv->cfg.ping_timeout : sv->cfg.request_timeout;
	double now = cn_now();
	double cap = r->sent_at + SV_TIMEOUT_CAP * limit;
	if (sv->last_answer > r->sent_at && now - sv->last_answer < limit &&
	    now < cap) {
		double until = sv->last_answer + limit;
		ev_timer_set(&r->timer, (until < cap ? until : cap) - now, 0.);
		ev_timer_start(sv->loop, &r->timer);
		return;
	}
	/* lnd: "remote signer response timeout reached".  A signer that
	 * does not answer cannot be trusted with the next request either:
	 * treat it as lost. */
	log_unusual(SUBSYS, "signer request %llu timed out: dropping signer",
		    (unsigned long long)r->id);
	if (ping)
		sv->stream->ping_id = 0;
	complete(r, SV_ERR_TIMEOUT, NULL);
	/* The callback may have dropped the stream already. */
	if (sv->stream)
		stream_drop(sv, SV_CODE_DEADLINE_EXCEEDED,
			    ping ? "ping unanswered past --signer.pingtimeout"
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

static uint8_t *encode(struct supervisor *sv, const struct req *r,
		       size_t *len)
{
	switch (r->kind) {
	case REQ_ECDH:
		return sv_proto_shared_key(len, r->id, r->point,
					   sv->have_pub ? sv->pub : NULL);
	case REQ_SIGN:
		return sv_proto_sign_message(len, r->id, r->msg, r->msglen,
					     false);
	case REQ_PING:
		return sv_proto_ping(len, r->id);
	}
	abort();
}

/* Put @r on the wire of the current stream. */
static void send_req(struct supervisor *sv, struct req *r)
{
	size_t len;
	uint8_t *buf;
	bool ok;

	assert(sv->stream);
	buf = encode(sv, r, &len);
	if (!buf)
		abort();
	r->generation = sv->generation;
	r->sent_at = cn_now();
	list_add(&sv->sent, r);
	ev_timer_set(&r->timer,
		     r->kind == REQ_PING ? sv->cfg.ping_timeout
					 : sv->cfg.request_timeout, 0.);
	ev_timer_start(sv->loop, &r->timer);
	ok = sv->stream->ops->send(sv->stream->conn, buf, len);
	free(buf);
	if (!ok) {
		/* The transport is going away; losing it fails @r with the
		 * rest.  Never synchronously inside a caller's request: the
		 * drop is deferred through a zero timer on the stream. */
		ev_timer_stop(sv->loop, &sv->stream->reg_timer);
		ev_timer_set(&sv->stream->reg_timer, 0., 0.);
		ev_timer_start(sv->loop, &sv->stream->reg_timer);
	}
}

/* Can a request go out right now? */
static bool signer_usable(const struct supervisor *sv)
{
	return sv->state == SV_ACTIVE && sv->stream &&
	       sv->stream->phase == PHASE_READY;
}

/* ---- the stream --------------------------------------------------------- */

static void ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct supervisor *sv = w->data;
	struct req *r;

	if (!sv->stream || sv->stream->phase != PHASE_READY ||
	    sv->stream->ping_id)
		return;
	r = req_new(sv, REQ_PING);
	sv->stream->ping_id = r->id;
	send_req(sv, r);
}

/* The stream is gone: forget it and tell the state machine. */
static void stream_lost(struct supervisor *sv, const char *why)
{
	struct sv_stream *st = sv->stream;
	char cause[384];

	assert(st);
	sv->stream = NULL;
	sv->signer_losses++;
	ev_timer_stop(sv->loop, &st->reg_timer);
	ev_timer_stop(sv->loop, &sv->ping_timer);
	free(st);
	log_info(SUBSYS, "signer %s gone: %s", sv->signer_peer, why);
	sv->signer_peer[0] = sv->signer_info[0] = '\0';
	sv->signer_since_unix = 0;
	sv->signer_lost_unix = (int64_t)time(NULL);
	snprintf(cause, sizeof(cause), "signer lost: %s", why);
	apply(sv, SV_EV_SIGNER_LOST, cause);
}

/* We end the stream (bad input, timeout, wrong key). */
static void stream_drop(struct supervisor *sv, enum sv_code code,
			const char *why)
{
	struct sv_stream *st = sv->stream;

	st->ops->finish(st->conn, code, why);
	stream_lost(sv, why);
}

static void reg_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sv_stream *st = w->data;

	switch (st->phase) {
	case PHASE_REGISTERING:
		cand_drop(st, SV_CODE_DEADLINE_EXCEEDED,
			  "timed out waiting for remote signer registration",
			  true);
		return;
	case PHASE_KEYCHECK:
		cand_drop(st, SV_CODE_DEADLINE_EXCEEDED,
			  "key check unanswered past --signer.requesttimeout",
			  true);
		return;
	case PHASE_READY:
		/* Re-armed by a failed send. */
		stream_drop(st->sv, SV_CODE_UNAVAILABLE,
			    "could not send to remote signer");
		return;
	}
	abort();
}

/* ---- candidates: streams that have not proved the node key yet ---------
 *
 * Holding signer.macaroon is not holding the node key.  Were the slot
 * taken at the stream's start, a client with the macaroon alone could keep
 * it busy by registering again and again (or by never answering the key
 * check), and the real signer would be refused with ALREADY_EXISTS and
 * back off.  So a candidate takes nothing: its connection stays in the
 * pre-auth class of the budget, several candidates are checked side by
 * side, the first to prove the key becomes the signer, and one that fails
 * or goes away takes its connection with it. */

static void cand_unlink(struct supervisor *sv, struct sv_stream *st)
{
	for (struct sv_stream **p = &sv->cands; *p; p = &(*p)->next_cand) {
		if (*p == st) {
			*p = st->next_cand;
			st->next_cand = NULL;
			sv->ncands--;
			return;
		}
	}
	abort(); /* not a candidate: programmer error */
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

/* The candidate is gone (the transport is done with it): forget it. */
static void cand_gone(struct sv_stream *st, const char *why)
{
	struct supervisor *sv = st->sv;

	cand_unlink(sv, st);
	ev_timer_stop(sv->loop, &st->reg_timer);
	sv->signer_losses++;
	log_msg(SUBSYS, refused_level(sv, LOG_INFO),
		"signer stream from %s ended before the key check passed: %s",
		st->peer, why);
	sodium_memzero(st->challenge, sizeof(st->challenge));
	free(st);
	notify(sv);
}

/* We end a candidate.  @close_conn: its connection too (it did not prove
 * the key). */
static void cand_drop(struct sv_stream *st, enum sv_code code,
		      const char *why, bool close_conn)
{
	if (close_conn && st->ops->close_connection)
		st->ops->close_connection(st->conn);
	st->ops->finish(st->conn, code, why);
	cand_gone(st, why);
}

static void cand_registered(struct sv_stream *st, const struct sv_resp *resp)
{
	struct supervisor *sv = st->sv;
	uint8_t *buf;
	size_t len;

	ev_timer_stop(sv->loop, &st->reg_timer);
	snprintf(st->info, sizeof(st->info), "%s", resp->text);
	/* lnd's SignCoordinator sends this fixed text (sign_coordinator.go). */
	buf = sv_proto_registration_complete(&len,
					     "watch-only registration info");
	if (!buf)
		abort();
	if (!st->ops->send(st->conn, buf, len)) {
		free(buf);
		cand_drop(st, SV_CODE_UNAVAILABLE,
			  "could not send to remote signer", true);
		return;
	}
	free(buf);
	log_msg(SUBSYS, refused_level(sv, LOG_INFO),
		"signer %s registered (%s): checking its key", st->peer,
		st->info);
	st->phase = PHASE_KEYCHECK;
	sv_keycheck_challenge(st->challenge);
	st->keycheck_id = ++sv->last_id;
	buf = sv_proto_sign_message(&len, st->keycheck_id, st->challenge,
				    SV_CHALLENGE_LEN, true);
	if (!buf)
		abort();
	if (!st->ops->send(st->conn, buf, len)) {
		free(buf);
		cand_drop(st, SV_CODE_UNAVAILABLE,
			  "could not send to remote signer", true);
		return;
	}
	free(buf);
	ev_timer_set(&st->reg_timer, sv->cfg.request_timeout, 0.);
	ev_timer_start(sv->loop, &st->reg_timer);
}

/* The candidate proved the node key: it becomes the signer. */
static void cand_promote(struct sv_stream *st, const char *got)
{
	struct supervisor *sv = st->sv;
	char why[384];

	cand_unlink(sv, st);
	ev_timer_stop(sv->loop, &st->reg_timer);
	sodium_memzero(st->challenge, sizeof(st->challenge));
	st->phase = PHASE_READY;
	sv->stream = st;
	snprintf(sv->signer_peer, sizeof(sv->signer_peer), "%s", st->peer);
	snprintf(sv->signer_info, sizeof(sv->signer_info), "%s", st->info);
	sv->signer_since_unix = st->since_unix;
	/* Only now out of the flood's reach (the connection budget). */
	if (st->ops->authenticated)
		st->ops->authenticated(st->conn);
	sv->signer_registrations++;
	ev_timer_set(&sv->ping_timer, sv->cfg.ping_interval,
		     sv->cfg.ping_interval);
	ev_timer_start(sv->loop, &sv->ping_timer);
	snprintf(why, sizeof(why), "signer %s ready (%s), node key %s",
		 sv->signer_peer, sv->signer_info, got);
	apply(sv, SV_EV_SIGNER_READY, why);
}

static void cand_keycheck_done(struct sv_stream *st,
			       const struct sv_resp *resp)
{
	struct supervisor *sv = st->sv;
	char why[384], got[67], want[67];
	uint8_t pub[33];
	const char *err;

	if (resp->kind == SV_RESP_SIGNER_ERROR) {
		snprintf(why, sizeof(why), "key check refused by signer: %s",
			 resp->text);
		cand_drop(st, SV_CODE_PERMISSION_DENIED, why, true);
		return;
	}
	if (resp->kind != SV_RESP_SIGNATURE) {
		cand_drop(st, SV_CODE_INVALID_ARGUMENT,
			  "key check: unexpected response type", true);
		return;
	}
	if (!sv_keycheck_verify(pub, &err, st->challenge, resp->sig,
				resp->sig_len)) {
		sv->key_mismatches++;
		cand_drop(st, SV_CODE_PERMISSION_DENIED, err, true);
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
		cand_drop(st, SV_CODE_PERMISSION_DENIED, why, true);
		return;
	}
	if (sv->stream) {
		/* Another candidate proved the key first.  This one holds it
		 * too: its connection may stay. */
		sv->signer_refused++;
		log_msg(SUBSYS, refused_level(sv, LOG_UNUSUAL),
			"refused signer stream from %s: %s", st->peer,
			"only one remote signer can be connected");
		cand_drop(st, SV_CODE_ALREADY_EXISTS,
			  "only one remote signer can be connected", false);
		return;
	}
	if (!sv->pub_expected) {
		/* First contact: this key is ours from now on. */
		if (sv->pin_db_path && !sv_pin_store(sv->pin_db_path, pub)) {
			cand_drop(st, SV_CODE_UNAVAILABLE,
				  "cannot pin the node key", false);
			return;
		}
		memcpy(sv->pub, pub, 33);
		sv->have_pub = sv->pub_expected = true;
		log_info(SUBSYS, "pinned node key %s from first signer", got);
	}
	cand_promote(st, got);
}

/* A message on a candidate stream. */
static void cand_recv(struct sv_stream *st, const struct sv_resp *resp)
{
	char buf[160];
	const char *err;

	if (st->phase == PHASE_REGISTERING) {
		err = sv_proto_check_registration(buf, sizeof(buf), resp);
		if (err) {
			uint8_t *m;
			size_t mlen;
			log_unusual(SUBSYS, "signer %s: %s", st->peer, err);
			/* Tell the signer in-band too, then end the call. */
			m = sv_proto_registration_error(&mlen, err);
			if (m)
				st->ops->send(st->conn, m, mlen);
			free(m);
			cand_drop(st, SV_CODE_INVALID_ARGUMENT, err, true);
			return;
		}
		cand_registered(st, resp);
		return;
	}
	if (resp->kind == SV_RESP_REGISTRATION) {
		log_unusual(SUBSYS, "signer %s registered twice", st->peer);
		cand_drop(st, SV_CODE_INVALID_ARGUMENT,
			  "remote signer registered twice on one stream", true);
		return;
	}
	if (resp->ref_id != st->keycheck_id) {
		/* lnd: "Responses with unknown ids are dropped". */
		log_debug(SUBSYS, "dropping response for unknown request %llu "
			  "from unchecked signer %s",
			  (unsigned long long)resp->ref_id, st->peer);
		return;
	}
	cand_keycheck_done(st, resp);
}

static bool cand_on_connection(const struct supervisor *sv, const void *c)
{
	for (const struct sv_stream *st = sv->cands; st; st = st->next_cand)
		if (st->connection == c)
			return true;
	return false;
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
	} else if (sv->stream) {
		/* lnd: ErrMultipleConnections. */
		*code = SV_CODE_ALREADY_EXISTS;
		*msg = "only one remote signer can be connected";
	} else if (connection && cand_on_connection(sv, connection)) {
		*code = SV_CODE_ALREADY_EXISTS;
		*msg = "a signer registration is already in progress on this "
		       "connection";
	} else if (sv->ncands >= SV_MAX_CANDIDATES) {
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
	snprintf(st->peer, sizeof(st->peer), "%s", peer);
	st->since_unix = (int64_t)time(NULL);
	ev_timer_init(&st->reg_timer, reg_timeout_cb, sv->cfg.request_timeout,
		      0.);
	st->reg_timer.data = st;
	ev_timer_start(sv->loop, &st->reg_timer);
	st->next_cand = sv->cands;
	sv->cands = st;
	sv->ncands++;
	sv->signer_sessions++;
	log_msg(SUBSYS, refused_level(sv, LOG_INFO),
		"signer stream from %s: waiting for registration", peer);
	notify(sv);
	return st;
}

void sv_connection_arrived(struct supervisor *sv, const char *peer)
{
	/* ACTIVE has what it needs, and a stream already attached is the
	 * signer we are waiting for (a second one is refused anyway). */
	if (sv->local || sv->state == SV_ACTIVE ||
	    sv->state == SV_SHUTTING_DOWN || sv->stream)
		return;
	sv->signer_arrivals++;
	log_debug(SUBSYS, "connection from %s on the signer port while %s",
		  peer, sv_state_str(sv->state));
	if (sv->cbs.signer_arriving)
		sv->cbs.signer_arriving(sv->cbs.arg, sv);
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

/* A reply to request @r (found in the sent list). */
static void reply(struct supervisor *sv, struct req *r,
		  const struct sv_resp *resp)
{
	switch (r->kind) {
	case REQ_PING:
		sv->stream->ping_id = 0;
		if (resp->kind != SV_RESP_PONG || !resp->pong) {
			complete(r, SV_ERR_BAD_REPLY, NULL);
			stream_drop(sv, SV_CODE_INVALID_ARGUMENT,
				    "incorrect Pong response from remote signer");
			return;
		}
		complete(r, SV_OK, NULL);
		return;
	case REQ_ECDH:
		if (resp->kind == SV_RESP_SHARED_KEY) {
			complete(r, SV_OK, resp->shared_key);
			return;
		}
		break;
	case REQ_SIGN:
		if (resp->kind == SV_RESP_SIGNATURE) {
			if (resp->sig_len == 64 &&
			    sig_ok(sv, resp->sig, r->msg, r->msglen)) {
				complete(r, SV_OK, resp->sig);
			} else {
				log_unusual(SUBSYS, "signer returned a bad "
					    "signature for request %llu",
					    (unsigned long long)r->id);
				complete(r, SV_ERR_BAD_REPLY, NULL);
			}
			return;
		}
		break;
	}
	if (resp->kind == SV_RESP_SIGNER_ERROR) {
		log_info(SUBSYS, "signer error for request %llu: %s",
			 (unsigned long long)r->id, resp->text);
		complete(r, SV_ERR_SIGNER, NULL);
	} else {
		/* lnd: ErrUnexpectedResponse "unexpected response type". */
		log_unusual(SUBSYS, "unexpected response type for request %llu",
			    (unsigned long long)r->id);
		complete(r, SV_ERR_BAD_REPLY, NULL);
	}
}

void sv_stream_recv(struct sv_stream *st, const uint8_t *msg, size_t len)
{
	struct supervisor *sv = st->sv;
	struct sv_resp resp;
	const char *err;
	struct req *r;

	if (!sv_proto_decode(&resp, &err, msg, len)) {
		log_unusual(SUBSYS, "bad message from signer %s: %s",
			    st->peer, err);
		if (st->phase != PHASE_READY)
			cand_drop(st, SV_CODE_INVALID_ARGUMENT, err, true);
		else
			stream_drop(sv, SV_CODE_INVALID_ARGUMENT, err);
		goto out;
	}
	if (st->phase != PHASE_READY) {
		cand_recv(st, &resp);
		goto out;
	}
	assert(sv->stream == st);
	sv->last_answer = cn_now();
	if (resp.kind == SV_RESP_REGISTRATION) {
		/* One registration per stream: a second one is no reply to
		 * anything, and lnd's signer never sends it. */
		log_unusual(SUBSYS, "signer %s registered twice", st->peer);
		stream_drop(sv, SV_CODE_INVALID_ARGUMENT,
			    "remote signer registered twice on one stream");
		goto out;
	}
	r = list_find(&sv->sent, resp.ref_id);
	if (!r) {
		/* lnd: "Responses with unknown ids are dropped". */
		log_debug(SUBSYS, "dropping signer response for unknown "
			  "request %llu", (unsigned long long)resp.ref_id);
		goto out;
	}
	reply(sv, r, &resp);
out:
	/* It may hold an ECDH result (SHARED_KEY). */
	sodium_memzero(&resp, sizeof(resp));
}

void sv_stream_gone(struct sv_stream *st, const char *why)
{
	if (st->phase != PHASE_READY) {
		/* It never proved the key: its connection goes too. */
		if (st->ops->close_connection)
			st->ops->close_connection(st->conn);
		cand_gone(st, why);
		return;
	}
	assert(st->sv->stream == st);
	stream_lost(st->sv, why);
}

/* ---- requests ----------------------------------------------------------- */

/* Send now, queue for a signer, or refuse. */
static uint64_t start(struct supervisor *sv, struct req *r, double wait)
{
	uint64_t id = r->id;

	if (signer_usable(sv)) {
		send_req(sv, r);
	} else if (wait > 0 && sv->state != SV_SHUTTING_DOWN && !sv->local) {
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

void sv_cancel(struct supervisor *sv, uint64_t id)
{
	struct req_list *lists[] = { &sv->queued, &sv->sent, &sv->failing,
				     &sv->done };

	for (size_t i = 0; i < CN_ARRAY_SIZE(lists); i++) {
		struct req *r = list_find(lists[i], id);
		if (r && !is_internal(r) && !r->zombie) {
			if (r->inbound && r->on == &sv->sent) {
				/* The signer has it: the caller is told now,
				 * the budget only once the signer answers. */
				deliver(r, SV_ERR_CANCELLED, NULL);
				r->zombie = true;
				return;
			}
			complete(r, SV_ERR_CANCELLED, NULL);
			return;
		}
	}
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
	/* lnd: the counter starts at 1 (the registration), so the first
	 * real request is 2. */
	sv->last_id = SV_REGISTRATION_ID;
	ev_timer_init(&sv->done_timer, done_cb, 0., 0.);
	sv->done_timer.data = sv;
	ev_timer_init(&sv->ping_timer, ping_cb, 0., 0.);
	sv->ping_timer.data = sv;

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
	if (sv->stream) {
		struct sv_stream *st = sv->stream;
		sv->stream = NULL;
		ev_timer_stop(sv->loop, &st->reg_timer);
		st->ops->finish(st->conn, SV_CODE_UNAVAILABLE,
				"coldnode is shutting down");
		free(st);
	}
	while (sv->cands) {
		struct sv_stream *st = sv->cands;
		sv->cands = st->next_cand;
		ev_timer_stop(sv->loop, &st->reg_timer);
		st->ops->finish(st->conn, SV_CODE_UNAVAILABLE,
				"coldnode is shutting down");
		free(st);
	}
	sv->ncands = 0;
	sv->peers = NULL;
	fail_list(sv, &sv->sent);
	fail_list(sv, &sv->queued);
	while ((r = sv->done.head))
		complete(r, r->result, r->out);
	ev_timer_stop(sv->loop, &sv->done_timer);
	ev_timer_stop(sv->loop, &sv->ping_timer);
	sv_keysource_free_all(sv);
	cn_nodekey_free(sv->local);
	free(sv->pin_db_path);
	free(sv);
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
	apply(sv, SV_EV_SHUTDOWN, why);
	while (sv->cands)
		cand_drop(sv->cands, SV_CODE_UNAVAILABLE,
			  "coldnode is shutting down", false);
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
	out->signer_connected = sv->stream || sv->cands;
	out->signer_ready = sv->stream != NULL;
	if (sv->stream || !sv->cands) {
		out->signer_peer = sv->signer_peer;
		out->signer_info = sv->signer_info;
		out->signer_since_unix = sv->signer_since_unix;
	} else {
		/* No signer yet: the newest candidate. */
		out->signer_peer = sv->cands->peer;
		out->signer_info = sv->cands->info;
		out->signer_since_unix = sv->cands->since_unix;
	}
	for (const struct req *r = sv->sent.head; r; r = r->next)
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
	out->inbound_ecdh = sv->inbound_n;
	out->inbound_ecdh_refused = sv->inbound_refused;
}

void sv_get_req_stats(const struct supervisor *sv,
		      struct sv_req_stats out[SV_NUM_REQ_KINDS])
{
	memcpy(out, sv->req_stats, sizeof(sv->req_stats));
}

int64_t sv_signer_last_seen(const struct supervisor *sv)
{
	if (sv->cfg.local || sv->stream || sv->cands)
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
