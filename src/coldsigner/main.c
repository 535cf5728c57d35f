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

struct signer {
	struct ev_loop *loop;
	struct cn_nodekey *key;
	struct rpc_client_config rcfg;
	struct rpc_client_stream *stream;
	bool stream_dead; /* closed; free it before redialling */
	bool heard;       /* this stream got a message from the node */
	struct cs_backoff backoff;
	enum cs_policy policy; /* --policy */
	uint64_t policy_refused;
	ev_timer redial;
	ev_signal sigint, sigterm;
	uint64_t served;
};

static void schedule_redial(struct signer *s, const char *why,
			    bool transport)
{
	double d = transport ? cs_backoff_next_transport(&s->backoff)
			     : cs_backoff_next(&s->backoff);

	/* systemd's status line (no-op outside systemd). */
	sd_notifyf(0, "STATUS=disconnected from %s: %s", s->rcfg.target, why);
	log_info(SUBSYS, "stream to %s ended (%s): redialling in %.1f s",
		 s->rcfg.target, why, d);
	s->stream_dead = true;
	ev_timer_stop(s->loop, &s->redial);
	ev_timer_set(&s->redial, d, 0.);
	ev_timer_start(s->loop, &s->redial);
}

static void on_open(void *arg, struct rpc_client_stream *stream)
{
	struct signer *s = arg;
	size_t len;
	uint8_t *reg = cs_registration(&len);

	log_info(SUBSYS, "connected to %s: registering", s->rcfg.target);
	if (!rpc_client_stream_send(stream, reg, len))
		log_unusual(SUBSYS, "could not send registration");
	free(reg);
}

static void on_message(void *arg, struct rpc_client_stream *stream,
		       const uint8_t *msg, size_t len)
{
	struct signer *s = arg;
	uint8_t *out;
	size_t outlen;
	char err[256];
	const char *refused;

	if (s->stream_dead)
		return;
	if (!s->heard) {
		s->heard = true;
		cs_backoff_heard(&s->backoff);
	}
	switch (cs_handle_policy(s->key, s->policy, &refused, &out, &outlen,
				 err, sizeof(err), msg, len)) {
	case CS_REPLY:
		/* The reason only: the message may be anything the node
		 * chose, and it is not ours to copy into a log. */
		if (refused) {
			s->policy_refused++;
			log_unusual(SUBSYS, "refused a request from %s: %s "
				    "(--policy=check)", s->rcfg.target,
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
			 "requests", s->rcfg.target);
		cs_backoff_reset(&s->backoff);
		sd_notifyf(0, "STATUS=registered with %s", s->rcfg.target);
		return;
	case CS_REFUSED:
		log_unusual(SUBSYS, "%s", err);
		break;
	case CS_BAD:
		log_unusual(SUBSYS, "bad request from node: %s", err);
		break;
	}
	rpc_client_stream_close_send(stream);
	schedule_redial(s, err, false);
}

static void on_close(void *arg, struct rpc_client_stream *stream,
		     enum rpc_status st, const char *msg)
{
	struct signer *s = arg;
	char why[320];

	if (s->stream_dead)
		return;
	snprintf(why, sizeof(why), "%s: %s", rpc_status_str(st),
		 msg && *msg ? msg : "no message");
	if (st == RPC_STATUS_PERMISSION_DENIED ||
	    st == RPC_STATUS_UNAUTHENTICATED)
		log_unusual(SUBSYS, "coldnode refused us: %s", why);
	/* Nothing from the node and no status of its own: the connection
	 * failed or was closed under us (e.g. evicted from a flooded port). */
	schedule_redial(s, why, !s->heard && st == RPC_STATUS_UNAVAILABLE);
}

static const struct rpc_client_stream_cbs stream_cbs = {
	.on_open = on_open,
	.on_message = on_message,
	.on_close = on_close,
};

static void dial(struct signer *s)
{
	rpc_client_stream_free(s->stream);
	s->stream_dead = false;
	s->heard = false;
	s->stream = rpc_client_stream_open(s->loop, &s->rcfg, SIGNER_PATH,
					   &stream_cbs, s);
	if (!s->stream) {
		log_unusual(SUBSYS, "cannot dial %s", s->rcfg.target);
		schedule_redial(s, "bad target", false);
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
		"(default localhost:10019)\n"
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
	const char *server = "localhost:10019", *cert = NULL, *macpath = NULL;
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
			server = optarg;
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
	signal(SIGPIPE, SIG_IGN);
	cn_crypto_init();
	/* --keyfile=~/x reaches us unexpanded (the shell expands only a
	 * word-initial tilde). */
	cert_path = cn_expand_home(cert);
	mac_path = cn_expand_home(macpath);
	key_path = cn_expand_home(keyfile);
	if (!cert_path || !mac_path || !key_path)
		goto out;
	s.key = cn_nodekey_load(SUBSYS, key_path, true);
	if (!s.key)
		goto out;
	mac_hex = read_macaroon_hex(mac_path);
	if (!mac_hex)
		goto out;
	cn_nodekey_pub(s.key, pub);
	log_info(SUBSYS, "node key %s (%s), dialling %s, --policy=%s",
		 hex_encode(pubhex, pub, 33), network, server,
		 cs_policy_str(s.policy));

	rpc_client_config_default(&s.rcfg);
	s.rcfg.target = server;
	s.rcfg.tls_cert_path = cert_path;
	s.rcfg.macaroon_hex = mac_hex;
	s.loop = EV_DEFAULT;
	cs_backoff_reset(&s.backoff);
	ev_timer_init(&s.redial, redial_cb, 0., 0.);
	s.redial.data = &s;
	ev_signal_init(&s.sigint, on_signal, SIGINT);
	ev_signal_start(s.loop, &s.sigint);
	ev_signal_init(&s.sigterm, on_signal, SIGTERM);
	ev_signal_start(s.loop, &s.sigterm);

	dial(&s);
	/* Type=notify: up once the key is loaded and the first dial started;
	 * the node may not be there yet, and the signer redials forever. */
	sd_notifyf(0, "READY=1\nSTATUS=dialling %s", server);
	ev_run(s.loop, 0);
	sd_notify(0, "STOPPING=1");

	rpc_client_stream_free(s.stream);
	ev_timer_stop(s.loop, &s.redial);
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
	free(cert_path);
	free(mac_path);
	free(key_path);
	return status;
}
