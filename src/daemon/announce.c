/*~ announce: makes our node_announcement whenever the supervisor enters
 * ACTIVE.  The message is prepared here, signed by the supervisor (remote
 * signer or local key: SHA256d of the signed part, node key {6,0}) and
 * handed to gossip, which checks it like anyone's, stores it and relays
 * it.  Outside ACTIVE nothing is attempted; a signature lost with the
 * signer is logged and nothing is stored.
 */
#include "daemon/announce.h"

#include "common/common.h"
#include "gossip/gossip.h"
#include "supervisor/supervisor.h"

#include <assert.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#define SUBSYS "MAIN"

struct daemon_announce {
	struct ev_loop *loop;
	struct gossip *g;      /* borrowed */
	struct supervisor *sv; /* borrowed */
	/* The template: node id, alias, color, addresses (into addr). */
	struct gossip_node_ann na;
	uint8_t addr[DAEMON_ANNOUNCE_MAX_ADDR];
	/* transitions[SV_ACTIVE] already answered with an announcement. */
	uint64_t seen_active;
	/* Zero-delay: never sign from inside the supervisor's callback. */
	ev_timer kick;
	/* The message waiting for its signature; req 0: none. */
	uint64_t req;
	uint8_t msg[1024];
	size_t len;
};

static void signed_cb(void *arg, enum sv_result r, const uint8_t *sig)
{
	struct daemon_announce *a = arg;
	struct gossip_node_ann na;
	enum gossip_reason why;

	a->req = 0;
	switch (r) {
	case SV_OK:
		break;
	case SV_ERR_CANCELLED:
		log_debug(SUBSYS, "node_announcement: signature cancelled");
		return;
	case SV_ERR_SIGNER:
	case SV_ERR_UNAVAILABLE:
	case SV_ERR_TIMEOUT:
	case SV_ERR_BAD_REPLY:
	case SV_ERR_BUSY: /* inbound ECDH only; never a signature */
		log_unusual(SUBSYS, "node_announcement not made: %s",
			    sv_result_str(r));
		return;
	}
	why = gossip_own_finish(a->g, a->msg, a->len, sig);
	if (why != GOSSIP_OK) {
		log_unusual(SUBSYS, "node_announcement not stored: %s",
			    gossip_reason_str(why));
		return;
	}
	if (gossip_node_ann_parse(&na, a->msg, a->len) == GOSSIP_OK)
		log_info(SUBSYS, "made our node_announcement: timestamp %u, "
			 "%u address bytes", na.timestamp,
			 (unsigned)na.addresses_len);
}

static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon_announce *a = w->data;
	size_t off;

	/* Lost again before this iteration: no signature outside ACTIVE. */
	if (sv_get_state(a->sv) != SV_ACTIVE) {
		log_debug(SUBSYS, "node_announcement: no longer ACTIVE");
		return;
	}
	/* One at a time; the one in flight is as new as this would be. */
	if (a->req)
		return;
	a->na.timestamp = gossip_own_node_ann_timestamp(a->g);
	a->len = gossip_node_ann_prepare(a->msg, sizeof(a->msg), &off,
					 &a->na);
	assert(a->len > off); /* the template always fits */
	a->req = sv_sign_message(a->sv, a->msg + off, a->len - off,
				 signed_cb, a);
}

struct daemon_announce *daemon_announce_new(
	struct ev_loop *loop, struct gossip *g, struct supervisor *sv,
	const uint8_t node_id[33], const struct daemon_announce_config *cfg)
{
	struct daemon_announce *a = calloc(1, sizeof(*a));
	size_t alias_len = strlen(cfg->alias);

	if (!a)
		return NULL;
	assert(alias_len <= sizeof(a->na.alias) &&
	       cfg->addresses_len <= sizeof(a->addr));
	a->loop = loop;
	a->g = g;
	a->sv = sv;
	memcpy(a->na.node_id, node_id, 33);
	/* BOLT 7: alias "MUST set ... to a 32-byte UTF-8 string, padded
	 * with zeros if shorter". */
	memcpy(a->na.alias, cfg->alias, alias_len);
	memcpy(a->na.rgb, cfg->rgb, 3);
	if (cfg->addresses_len)
		memcpy(a->addr, cfg->addresses, cfg->addresses_len);
	a->na.addresses = a->addr;
	a->na.addresses_len = (uint16_t)cfg->addresses_len;
	ev_timer_init(&a->kick, kick_cb, 0., 0.);
	a->kick.data = a;
	return a;
}

void daemon_announce_free(struct daemon_announce *a)
{
	if (!a)
		return;
	ev_timer_stop(a->loop, &a->kick);
	/* Its callback fires (CANCELLED) before sv_cancel returns. */
	if (a->req)
		sv_cancel(a->sv, a->req);
	free(a);
}

void daemon_announce_sv_changed(struct daemon_announce *a)
{
	struct sv_info si;

	sv_get_info(a->sv, &si);
	if (si.state != SV_ACTIVE ||
	    si.transitions[SV_ACTIVE] == a->seen_active)
		return;
	a->seen_active = si.transitions[SV_ACTIVE];
	if (!ev_is_active(&a->kick))
		ev_timer_start(a->loop, &a->kick);
}
