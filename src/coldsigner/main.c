/*~ coldsigner: the reference remote signer's process.
 *
 * Owns the libev loop, the node key and one gRPC stream to coldnode's
 * --signerlisten port.  Each request from the node is answered by the pure
 * core (signer.c).  When the stream ends it redials after a backoff of
 * 1 s growing x1.5 up to 60 s, as lnd's outbound signer does, and starts
 * again from 1 s once a registration succeeds.  A dial that failed before
 * the node said anything (connect, TLS, closed before the stream opened)
 * retries after 0.1 s doubling to 2 s instead: that is a full or flooded
 * port, not a refusal (cs_backoff in coldsigner.h).
 */
#include "coldsigner/coldsigner.h"

#include <errno.h>
#include <ev.h>
#include <systemd/sd-daemon.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/common.h"
#include "rpc/rpc.h"

#define SUBSYS "SIGN"
#define SIGNER_PATH "/watchonlyrpc.WatchOnly/SignCoordinatorStreams"
/* A macaroon is a few hundred bytes; refuse anything silly. */
#define MAX_MACAROON 8192

/* One --rpcserver address: its own stream and redial schedule. */
struct slot {
	struct signer *s;
	struct rpc_client_config rcfg;
	struct rpc_client_stream *stream;
	bool stream_dead; /* closed; free it before redialling */
	bool heard;       /* this stream got a message from the node */
	bool serving;     /* registered, token not stale */
	uint64_t token;   /* the node's fencing token on this stream */
	struct cs_backoff backoff;
	ev_timer redial;
};

struct signer {
	struct ev_loop *loop;
	struct cn_nodekey *key;
	struct slot *slots;
	size_t n_slots;
	/* Highest fencing token seen from any node (docs/cluster.md). */
	uint64_t highest_token;
	ev_signal sigint, sigterm;
	uint64_t served;
	enum cs_policy policy; /* --policy */
	uint64_t policy_refused;
};

static void dial(struct slot *sl);

/* A standby answers at once; ask it again soon (it may lead next). */
#define STANDBY_RETRY 0.5

static void schedule_redial_in(struct slot *sl, const char *why, double d)
{
	/* systemd's status line (no-op outside systemd). */
	sd_notifyf(0, "STATUS=disconnected from %s: %s", sl->rcfg.target, why);
	log_info(SUBSYS, "stream to %s ended (%s): redialling in %.1f s",
		 sl->rcfg.target, why, d);
	sl->stream_dead = true;
	sl->serving = false;
	ev_timer_stop(sl->s->loop, &sl->redial);
	ev_timer_set(&sl->redial, d, 0.);
	ev_timer_start(sl->s->loop, &sl->redial);
}

static void schedule_redial(struct slot *sl, const char *why, bool transport)
{
	schedule_redial_in(sl, why,
			   transport ? cs_backoff_next_transport(&sl->backoff)
				     : cs_backoff_next(&sl->backoff));
}

/* End this slot's stream from our side. */
static void slot_close(struct slot *sl, const char *why, double redial)
{
	if (sl->stream && !sl->stream_dead)
		rpc_client_stream_close_send(sl->stream);
	rpc_client_stream_free(sl->stream);
	sl->stream = NULL;
	schedule_redial_in(sl, why, redial);
}

static void on_open(void *arg, struct rpc_client_stream *stream)
{
	struct slot *sl = arg;
	size_t len;
	uint8_t *reg = cs_registration(&len);

	log_info(SUBSYS, "connected to %s: registering", sl->rcfg.target);
	if (!rpc_client_stream_send(stream, reg, len))
		log_unusual(SUBSYS, "could not send registration");
	free(reg);
}

/* A node we are registered with has token @t: a newer leader closes the
 * streams of older ones ("closes the older stream"). */
static void fence_newer(struct slot *sl, uint64_t t)
{
	struct signer *s = sl->s;

	log_info(SUBSYS, "%s leads with fencing token %llu", sl->rcfg.target,
		 (unsigned long long)t);
	for (size_t i = 0; i < s->n_slots; i++) {
		struct slot *o = &s->slots[i];
		char why[160];
		if (o == sl || !o->stream || o->stream_dead || !o->heard ||
		    o->token >= t)
			continue;
		snprintf(why, sizeof(why), "fencing token %llu is older than "
			 "%llu", (unsigned long long)o->token,
			 (unsigned long long)t);
		log_unusual(SUBSYS, "closing the older stream to %s: %s",
			    o->rcfg.target, why);
		slot_close(o, why, STANDBY_RETRY);
	}
}

/* A standby named the leader's signer address: dial it now if it is one
 * of ours and not connected. */
static void follow_hint(struct slot *from, const char *err)
{
	struct signer *s = from->s;
	char addr[128];

	if (!cs_leader_hint(addr, sizeof(addr), err))
		return;
	for (size_t i = 0; i < s->n_slots; i++) {
		struct slot *o = &s->slots[i];
		if (o == from || strcmp(o->rcfg.target, addr) ||
		    (o->stream && !o->stream_dead))
			continue;
		log_info(SUBSYS, "following %s's answer: dialling %s now",
			 from->rcfg.target, addr);
		ev_timer_stop(s->loop, &o->redial);
		dial(o);
	}
}

static void on_message(void *arg, struct rpc_client_stream *stream,
		       const uint8_t *msg, size_t len)
{
	struct slot *sl = arg;
	struct signer *s = sl->s;
	struct cs_meta meta;
	uint8_t *out;
	size_t outlen;
	char err[256];
	const char *refused;

	if (sl->stream_dead)
		return;
	if (!sl->heard) {
		sl->heard = true;
		cs_backoff_heard(&sl->backoff);
	}
	/* Fencing first: a node with an older token gets nothing signed. */
	if (cs_peek(&meta, msg, len) && (meta.token || s->highest_token)) {
		uint64_t before = s->highest_token;
		switch (cs_fence_check(&s->highest_token, meta.token)) {
		case CS_FENCE_NEWER:
			sl->token = meta.token;
			fence_newer(sl, meta.token);
			break;
		case CS_FENCE_OK:
			sl->token = meta.token;
			break;
		case CS_FENCE_STALE:
			log_unusual(SUBSYS, "refusing %s: fencing token %llu "
				    "is lower than %llu", sl->rcfg.target,
				    (unsigned long long)meta.token,
				    (unsigned long long)before);
			if (!meta.registration) {
				out = cs_fence_refusal(&outlen, meta.request_id,
						       meta.token, before);
				if (out)
					rpc_client_stream_send(stream, out,
							       outlen);
				free(out);
				snprintf(err, sizeof(err), "fencing token %llu "
					 "is lower than %llu",
					 (unsigned long long)meta.token,
					 (unsigned long long)before);
				rpc_client_stream_close_send(stream);
				schedule_redial_in(sl, err, STANDBY_RETRY);
			}
			/* A stale registration: refused at its first
			 * request, which tells the node why. */
			return;
		}
	}
	switch (cs_handle_policy(s->key, s->policy, &refused, &out, &outlen,
				 err, sizeof(err), msg, len)) {
	case CS_REPLY:
		/* The reason only: the message may be anything the node
		 * chose, and it is not ours to copy into a log. */
		if (refused) {
			s->policy_refused++;
			log_unusual(SUBSYS, "refused a request from %s: %s "
				    "(--policy=check)", sl->rcfg.target,
				    refused);
		}
		if (!rpc_client_stream_send(stream, out, outlen))
			log_unusual(SUBSYS, "could not send a reply");
		s->served++;
		/* A SharedKeyResponse carries an ECDH result. */
		sodium_memzero(out, outlen);
		free(out);
		return;
	case CS_REGISTERED:
		log_info(SUBSYS, "registered with %s: serving signing "
			 "requests", sl->rcfg.target);
		sl->serving = true;
		cs_backoff_reset(&sl->backoff);
		sd_notifyf(0, "STATUS=registered with %s", sl->rcfg.target);
		return;
	case CS_REFUSED:
		log_unusual(SUBSYS, "%s: %s", sl->rcfg.target, err);
		if (strstr(err, "is a standby")) {
			/* Not an error of ours: ask again soon, and go where
			 * the standby points. */
			rpc_client_stream_close_send(stream);
			schedule_redial_in(sl, "standby", STANDBY_RETRY);
			follow_hint(sl, err);
			return;
		}
		break;
	case CS_BAD:
		log_unusual(SUBSYS, "bad request from node: %s", err);
		break;
	}
	rpc_client_stream_close_send(stream);
	schedule_redial(sl, err, false);
}

static void on_close(void *arg, struct rpc_client_stream *stream,
		     enum rpc_status st, const char *msg)
{
	struct slot *sl = arg;
	char why[320];

	if (sl->stream_dead)
		return;
	snprintf(why, sizeof(why), "%s: %s", rpc_status_str(st),
		 msg && *msg ? msg : "no message");
	if (st == RPC_STATUS_PERMISSION_DENIED ||
	    st == RPC_STATUS_UNAUTHENTICATED)
		log_unusual(SUBSYS, "coldnode refused us: %s", why);
	/* A leader standing down ends our stream naming the new leader. */
	if (msg && strstr(msg, "is a standby")) {
		schedule_redial_in(sl, why, STANDBY_RETRY);
		follow_hint(sl, msg);
		return;
	}
	/* Nothing from the node and no status of its own: the connection
	 * failed or was closed under us (e.g. evicted from a flooded port). */
	schedule_redial(sl, why, !sl->heard && st == RPC_STATUS_UNAVAILABLE);
}

static const struct rpc_client_stream_cbs stream_cbs = {
	.on_open = on_open,
	.on_message = on_message,
	.on_close = on_close,
};

static void dial(struct slot *sl)
{
	rpc_client_stream_free(sl->stream);
	sl->stream_dead = false;
	sl->heard = false;
	sl->serving = false;
	sl->token = 0;
	sl->stream = rpc_client_stream_open(sl->s->loop, &sl->rcfg,
					    SIGNER_PATH, &stream_cbs, sl);
	if (!sl->stream) {
		log_unusual(SUBSYS, "cannot dial %s", sl->rcfg.target);
		schedule_redial(sl, "bad target", false);
	}
}

static void redial_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	dial(w->data);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info(SUBSYS, "signal %d: stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/* The macaroon file is binary; the header wants hex.  NULL on failure. */
static char *read_macaroon_hex(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t buf[MAX_MACAROON];
	size_t n;
	char *hex;

	if (!f) {
		log_unusual(SUBSYS, "cannot open macaroon %s: %s", path,
			    strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n == 0 || n == sizeof(buf)) {
		log_unusual(SUBSYS, "macaroon %s is empty or too large", path);
		return NULL;
	}
	hex = malloc(2 * n + 1);
	if (hex)
		hex_encode(hex, buf, n);
	sodium_memzero(buf, sizeof(buf));
	return hex;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: coldsigner [options]\n"
		"  --rpcserver=HOST:PORT   coldnode's signer port, or unix:/path "
		"(default localhost:10019); repeatable: every address is "
		"dialled, the cluster leader with the highest fencing token is "
		"served (docs/cluster.md)\n"
		"  --tlscertpath=FILE      coldnode's tls.cert (pinned; required)\n"
		"  --macaroonpath=FILE     macaroon with remotesigner:generate "
		"(required)\n"
		"  --keyfile=FILE          32-byte node key (created 0600 if "
		"missing; must not be group/other accessible; required)\n"
		"  --network=NAME          mainnet|testnet|regtest|signet "
		"(informational; default mainnet)\n"
		"  --policy=check|none     check (default): sign only coldnode's "
		"key check and its own node_announcement, ECDH only with valid "
		"points; none: whatever lnd's signer would (docs/signer.md)\n"
		"  --debuglevel=SPEC       lnd-style log levels (default info)\n"
		"  --help\n");
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "rpcserver", required_argument, NULL, 'r' },
		{ "tlscertpath", required_argument, NULL, 't' },
		{ "macaroonpath", required_argument, NULL, 'm' },
		{ "keyfile", required_argument, NULL, 'k' },
		{ "network", required_argument, NULL, 'n' },
		{ "debuglevel", required_argument, NULL, 'd' },
		{ "policy", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *servers[16], *cert = NULL, *macpath = NULL;
	size_t n_servers = 0;
	const char *keyfile = NULL, *network = "mainnet";
	struct signer s = { 0 };
	char *mac_hex = NULL, pubhex[67];
	char *cert_path = NULL, *mac_path = NULL, *key_path = NULL;
	int status = 1;
	uint8_t pub[33];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (n_servers == CN_ARRAY_SIZE(servers)) {
				fprintf(stderr, "coldsigner: at most %zu "
					"--rpcserver\n", CN_ARRAY_SIZE(servers));
				return 2;
			}
			servers[n_servers++] = optarg;
			break;
		case 't':
			cert = optarg;
			break;
		case 'm':
			macpath = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'n':
			network = optarg;
			break;
		case 'd':
			if (!log_parse_debuglevel(optarg)) {
				fprintf(stderr, "coldsigner: bad --debuglevel "
					"'%s'\n", optarg);
				return 2;
			}
			break;
		case 'p':
			if (!cs_policy_parse(&s.policy, optarg)) {
				fprintf(stderr, "coldsigner: --policy must be "
					"check or none, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !cert || !macpath || !keyfile) {
		fprintf(stderr, "coldsigner: --tlscertpath, --macaroonpath "
			"and --keyfile are required\n");
		usage(stderr);
		return 2;
	}
	if (!n_servers)
		servers[n_servers++] = "localhost:10019";
	signal(SIGPIPE, SIG_IGN);
	cn_crypto_init();
	/* --keyfile=~/x reaches us unexpanded (the shell expands only a
	 * word-initial tilde). */
	cert_path = cn_expand_home(cert);
	mac_path = cn_expand_home(macpath);
	key_path = cn_expand_home(keyfile);
	if (!cert_path || !mac_path || !key_path) {
		log_unusual(SUBSYS, "cannot expand '~' in --tlscertpath, "
			    "--macaroonpath or --keyfile: no such user, or "
			    "HOME is not set and the user has no home "
			    "directory");
		goto out;
	}
	s.key = cn_nodekey_load(SUBSYS, key_path, true);
	if (!s.key)
		goto out;
	mac_hex = read_macaroon_hex(mac_path);
	if (!mac_hex)
		goto out;
	cn_nodekey_pub(s.key, pub);
	log_info(SUBSYS, "node key %s (%s), dialling %s%s, --policy=%s",
		 hex_encode(pubhex, pub, 33), network, servers[0],
		 n_servers > 1 ? " and the other --rpcserver addresses" : "",
		 cs_policy_str(s.policy));

	s.loop = EV_DEFAULT;
	s.slots = calloc(n_servers, sizeof(*s.slots));
	if (!s.slots)
		goto out;
	s.n_slots = n_servers;
	for (size_t i = 0; i < n_servers; i++) {
		struct slot *sl = &s.slots[i];
		sl->s = &s;
		rpc_client_config_default(&sl->rcfg);
		sl->rcfg.target = servers[i];
		sl->rcfg.tls_cert_path = cert_path;
		sl->rcfg.macaroon_hex = mac_hex;
		cs_backoff_reset(&sl->backoff);
		ev_timer_init(&sl->redial, redial_cb, 0., 0.);
		sl->redial.data = sl;
	}
	ev_signal_init(&s.sigint, on_signal, SIGINT);
	ev_signal_start(s.loop, &s.sigint);
	ev_signal_init(&s.sigterm, on_signal, SIGTERM);
	ev_signal_start(s.loop, &s.sigterm);

	/* In order; the first answers (a leader registers, a standby
	 * refuses naming the leader) arrive in a few round trips. */
	for (size_t i = 0; i < s.n_slots; i++)
		dial(&s.slots[i]);
	/* Type=notify: up once the key is loaded and the first dial started;
	 * the node may not be there yet, and the signer redials forever. */
	sd_notifyf(0, "READY=1\nSTATUS=dialling %s", servers[0]);
	ev_run(s.loop, 0);
	sd_notify(0, "STOPPING=1");

	for (size_t i = 0; i < s.n_slots; i++) {
		rpc_client_stream_free(s.slots[i].stream);
		ev_timer_stop(s.loop, &s.slots[i].redial);
	}
	ev_signal_stop(s.loop, &s.sigint);
	ev_signal_stop(s.loop, &s.sigterm);
	log_info(SUBSYS, "stopped after %llu requests (%llu refused by the "
		 "policy)", (unsigned long long)s.served,
		 (unsigned long long)s.policy_refused);
	status = 0;
out:
	if (mac_hex) {
		sodium_memzero(mac_hex, strlen(mac_hex));
		free(mac_hex);
	}
	cn_nodekey_free(s.key);
	free(s.slots);
	free(cert_path);
	free(mac_path);
	free(key_path);
	return status;
}
