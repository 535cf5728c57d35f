/*~ coldctl: coldnode's command-line client, shaped like lncli: the same
 * global options (--rpcserver, --tlscertpath, --macaroonpath, --datadir,
 * --network) and JSON output with lncli's field names (proto names,
 * 64-bit integers as strings, as protojson prints them).
 *
 *   coldctl getinfo | walletbalance | state
 *   coldctl bakemacaroon [--save_to F] [--timeout S] [--ip_address IP] ENTITY:ACTION...
 *   coldctl wallet import [--append] FILE      (bitcoin-cli listunspent JSON)
 *   coldctl wallet importaccounts [--birthday H] FILE (lncli wallet accounts
 *                                                list JSON)
 */
#include "rpc/rpc.h"
#include "wallet/wallet.h"

#include "coldrpc.pb-c.h"
#include "lightning.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct opts {
	const char *rpcserver;
	char *tlscertpath, *macaroonpath, *datadir;
	const char *network;
	double timeout;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: coldctl [global options] COMMAND [args]\n"
		"commands:\n"
		"  getinfo                     node identity, peers, chain\n"
		"  walletbalance [--account A] [--min_confs N]\n"
		"  state                       supervisor state\n"
		"  bakemacaroon [--save_to FILE] [--timeout SECONDS]\n"
		"               [--ip_address IP] ENTITY:ACTION...\n"
		"                              mint a macaroon with the node's root key\n"
		"                              (reads <datadir>/macaroons.key)\n"
		"  wallet import [--append] FILE\n"
		"                              load `bitcoin-cli listunspent` JSON\n"
		"  wallet importaccounts [--birthday HEIGHT] FILE\n"
		"                              load the signer's accounts\n"
		"                              (lncli wallet accounts list JSON)\n"
		"global options:\n"
		"  --rpcserver=HOST:PORT|unix:PATH   default localhost:10009\n"
		"  --tlscertpath=FILE          default <datadir>/tls.cert\n"
		"  --macaroonpath=FILE         default <datadir>/admin.macaroon\n"
		"  --datadir=DIR               default ~/.coldnode\n"
		"  --network=NET               mainnet|testnet|signet|regtest\n"
		"  --timeout=SECONDS           default 30\n");
}

/* Reads a whole file of at most @max bytes (NUL-terminated).  What it reads
 * can be secret (a macaroon; an accounts file that holds an xprv by
 * mistake): read(2) rather than stdio, whose buffer would keep a copy, and
 * every buffer given back to malloc is wiped first.  errno is set on
 * failure. */
static char *read_file(const char *path, size_t *len, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int saved;

	if (fd < 0)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			size_t ncap = (n + 4096 + 1) * 2;
			char *nb = malloc(ncap);
			if (!nb)
				goto fail;
			if (buf) {
				memcpy(nb, buf, n);
				explicit_bzero(buf, cap);
				free(buf);
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, 4096);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	saved = errno;
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	close(fd);
	errno = saved;
	return NULL;
}

/* ---- JSON output ---------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at @s (RFC 3629: no overlong
 * forms, no surrogates, at most U+10FFFF), 0 if it is not one.  protobuf-c
 * does not check strings, and a server's text cut at a byte limit may end
 * inside a character: JSON must be UTF-8 (RFC 8259 section 8.1). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* A JSON string: quotes, backslashes and control characters escaped; a
 * byte that does not start well-formed UTF-8 becomes U+FFFD. */
static void json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	while (*p) {
		size_t n = utf8_len(p);
		if (n == 0) {
			fputs("\\ufffd", stdout);
			p++;
		} else if (n > 1) {
			fwrite(p, 1, n, stdout);
			p += n;
		} else if (*p == '"' || *p == '\\') {
			printf("\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			printf("\\u%04x", *p++);
		} else {
			putchar(*p++);
		}
	}
	putchar('"');
}

static void kv_str(int ind, const char *k, const char *v, bool comma)
{
	printf("%*s\"%s\": ", ind, "", k);
	json_str(v ? v : "");
	printf("%s\n", comma ? "," : "");
}

static void kv_u(int ind, const char *k, uint64_t v, bool comma)
{
	printf("%*s\"%s\": %" PRIu64 "%s\n", ind, "", k, v, comma ? "," : "");
}

/* protojson prints 64-bit integers as strings. */
static void kv_i64(int ind, const char *k, int64_t v, bool comma)
{
	printf("%*s\"%s\": \"%" PRId64 "\"%s\n", ind, "", k, v,
	       comma ? "," : "");
}

static void kv_u64(int ind, const char *k, uint64_t v, bool comma)
{
	printf("%*s\"%s\": \"%" PRIu64 "\"%s\n", ind, "", k, v,
	       comma ? "," : "");
}

static void kv_bool(int ind, const char *k, bool v, bool comma)
{
	printf("%*s\"%s\": %s%s\n", ind, "", k, v ? "true" : "false",
	       comma ? "," : "");
}

/* ---- RPC ------------------------------------------------------------------ */

static char *macaroon_hex(const char *path)
{
	size_t len;
	char *bin = read_file(path, &len, 65536);
	char *hex;
	if (!bin) {
		fprintf(stderr, "coldctl: cannot read macaroon %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	hex = malloc(2 * len + 1);
	if (hex)
		hex_encode(hex, (const uint8_t *)bin, len);
	/* A macaroon is a bearer credential. */
	explicit_bzero(bin, len);
	free(bin);
	return hex;
}

/* One unary call; prints the error and returns NULL on failure. */
static uint8_t *call(const struct opts *o, size_t *resplen, const char *path,
		     const ProtobufCMessage *req)
{
	struct rpc_client_config cc;
	char err[512];
	uint8_t *resp = NULL, *reqbuf;
	size_t reqlen = protobuf_c_message_get_packed_size(req);
	char *mac = macaroon_hex(o->macaroonpath);
	if (!mac)
		return NULL;
	reqbuf = malloc(reqlen + 1);
	if (!reqbuf) {
		free(mac);
		return NULL;
	}
	protobuf_c_message_pack(req, reqbuf);
	rpc_client_config_default(&cc);
	cc.target = o->rpcserver;
	cc.tls_cert_path = o->tlscertpath;
	cc.macaroon_hex = mac;
	cc.timeout = o->timeout;
	struct rpc_client *c = rpc_client_new(err, sizeof(err), &cc);
	if (!c) {
		fprintf(stderr, "[coldctl] %s\n", err);
	} else {
		enum rpc_status st = rpc_client_unary(c, &resp, resplen, err,
						      sizeof(err), path,
						      reqbuf, reqlen);
		if (st != RPC_STATUS_OK) {
			/* lncli: "[lncli] rpc error: code = X desc = Y" */
			fprintf(stderr, "[coldctl] rpc error: code = %s desc = %s\n",
				rpc_status_str(st), err);
			resp = NULL;
		}
	}
	rpc_client_free(c);
	/* The request may carry an accounts file with a private key in it. */
	explicit_bzero(reqbuf, reqlen);
	free(reqbuf);
	explicit_bzero(mac, strlen(mac));
	free(mac);
	return resp;
}

static int cmd_getinfo(const struct opts *o, int argc, char **argv)
{
	Lnrpc__GetInfoRequest req = LNRPC__GET_INFO_REQUEST__INIT;
	size_t len;
	uint8_t *resp = call(o, &len, "/lnrpc.Lightning/GetInfo", &req.base);
	if (!resp)
		return 1;
	Lnrpc__GetInfoResponse *r = lnrpc__get_info_response__unpack(NULL, len,
								     resp);
	free(resp);
	if (!r) {
		fprintf(stderr, "[coldctl] cannot parse GetInfo response\n");
		return 1;
	}
	printf("{\n");
	kv_str(4, "version", r->version, true);
	kv_str(4, "commit_hash", r->commit_hash, true);
	kv_str(4, "identity_pubkey", r->identity_pubkey, true);
	kv_str(4, "alias", r->alias, true);
	kv_str(4, "color", r->color, true);
	kv_u(4, "num_pending_channels", r->num_pending_channels, true);
	kv_u(4, "num_active_channels", r->num_active_channels, true);
	kv_u(4, "num_inactive_channels", r->num_inactive_channels, true);
	kv_u(4, "num_peers", r->num_peers, true);
	kv_u(4, "block_height", r->block_height, true);
	kv_str(4, "block_hash", r->block_hash, true);
	kv_i64(4, "best_header_timestamp", r->best_header_timestamp, true);
	kv_bool(4, "synced_to_chain", r->synced_to_chain, true);
	kv_bool(4, "synced_to_graph", r->synced_to_graph, true);
	kv_bool(4, "testnet", r->testnet, true);
	printf("    \"chains\": [");
	for (size_t i = 0; i < r->n_chains; i++) {
		printf("%s\n        {\n", i ? "," : "");
		kv_str(12, "chain", r->chains[i]->chain, true);
		kv_str(12, "network", r->chains[i]->network, false);
		printf("        }");
	}
	printf("%s],\n", r->n_chains ? "\n    " : "");
	printf("    \"uris\": [");
	for (size_t i = 0; i < r->n_uris; i++) {
		printf("%s\n        ", i ? "," : "");
		json_str(r->uris[i]);
	}
	printf("%s],\n", r->n_uris ? "\n    " : "");
	printf("    \"features\": {");
	for (size_t i = 0; i < r->n_features; i++) {
		const Lnrpc__Feature *f = r->features[i]->value;
		printf("%s\n        \"%u\": {\n", i ? "," : "",
		       r->features[i]->key);
		kv_str(12, "name", f ? f->name : "", true);
		kv_bool(12, "is_required", f && f->is_required, true);
		kv_bool(12, "is_known", f && f->is_known, false);
		printf("        }");
	}
	printf("%s},\n", r->n_features ? "\n    " : "");
	kv_bool(4, "require_htlc_interceptor", r->require_htlc_interceptor,
		true);
	kv_bool(4, "store_final_htlc_resolutions",
		r->store_final_htlc_resolutions, true);
	kv_bool(4, "wallet_synced", r->wallet_synced, false);
	printf("}\n");
	lnrpc__get_info_response__free_unpacked(r, NULL);
	return 0;
}

static int cmd_walletbalance(const struct opts *o, int argc, char **argv)
{
	Lnrpc__WalletBalanceRequest req = LNRPC__WALLET_BALANCE_REQUEST__INIT;
	static const struct option lo[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "min_confs", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 0; /* glibc: 0 re-initialises (permuting again) */
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'a')
			req.account = optarg;
		else if (c == 'm')
			req.min_confs = atoi(optarg);
		else
			return 2;
	}
	size_t len;
	uint8_t *resp = call(o, &len, "/lnrpc.Lightning/WalletBalance",
			     &req.base);
	if (!resp)
		return 1;
	Lnrpc__WalletBalanceResponse *r =
		lnrpc__wallet_balance_response__unpack(NULL, len, resp);
	free(resp);
	if (!r) {
		fprintf(stderr, "[coldctl] cannot parse response\n");
		return 1;
	}
	printf("{\n");
	kv_i64(4, "total_balance", r->total_balance, true);
	kv_i64(4, "confirmed_balance", r->confirmed_balance, true);
	kv_i64(4, "unconfirmed_balance", r->unconfirmed_balance, true);
	kv_i64(4, "locked_balance", r->locked_balance, true);
	kv_i64(4, "reserved_balance_anchor_chan",
	       r->reserved_balance_anchor_chan, true);
	printf("    \"account_balance\": {");
	for (size_t i = 0; i < r->n_account_balance; i++) {
		const Lnrpc__WalletAccountBalance *v =
			r->account_balance[i]->value;
		printf("%s\n        ", i ? "," : "");
		json_str(r->account_balance[i]->key);
		printf(": {\n");
		kv_i64(12, "confirmed_balance", v ? v->confirmed_balance : 0,
		       true);
		kv_i64(12, "unconfirmed_balance",
		       v ? v->unconfirmed_balance : 0, false);
		printf("        }");
	}
	printf("%s}\n}\n", r->n_account_balance ? "\n    " : "");
	lnrpc__wallet_balance_response__free_unpacked(r, NULL);
	return 0;
}

/* SupervisorState.counters (absent: all zero, as protojson would say). */
static void print_counters(const Coldrpc__SupervisorCounters *c)
{
	static const Coldrpc__SupervisorCounters zero =
		COLDRPC__SUPERVISOR_COUNTERS__INIT;
	static const Coldrpc__StateTransitions tzero =
		COLDRPC__STATE_TRANSITIONS__INIT;
	const Coldrpc__StateTransitions *t;

	if (!c)
		c = &zero;
	t = c->transitions ? c->transitions : &tzero;
	printf("    \"counters\": {\n");
	kv_u64(8, "generation", c->generation, true);
	printf("        \"transitions\": {\n");
	kv_u64(12, "waiting_for_signer", t->waiting_for_signer, true);
	kv_u64(12, "active", t->active, true);
	kv_u64(12, "safe_mode", t->safe_mode, true);
	kv_u64(12, "shutting_down", t->shutting_down, false);
	printf("        },\n");
	kv_u64(8, "signer_sessions", c->signer_sessions, true);
	kv_u64(8, "signer_registrations", c->signer_registrations, true);
	kv_u64(8, "signer_losses", c->signer_losses, true);
	kv_u64(8, "signer_refused", c->signer_refused, true);
	kv_u64(8, "key_mismatches", c->key_mismatches, true);
	kv_u64(8, "requests_ok", c->requests_ok, true);
	kv_u64(8, "requests_failed", c->requests_failed, true);
	kv_u64(8, "requests_unavailable", c->requests_unavailable, true);
	kv_u64(8, "requests_timed_out", c->requests_timed_out, true);
	kv_u64(8, "full_sessions_closed", c->full_sessions_closed, true);
	kv_u64(8, "requests_in_flight", c->requests_in_flight, true);
	kv_u64(8, "requests_queued", c->requests_queued, true);
	kv_u64(8, "failovers", c->failovers, true);
	kv_u64(8, "requests_resent", c->requests_resent, true);
	kv_u64(8, "standby_registrations", c->standby_registrations, true);
	kv_u64(8, "requests_early", c->requests_early, true);
	kv_u64(8, "requests_early_dropped", c->requests_early_dropped, true);
	kv_u64(8, "inbound_ecdh", c->inbound_ecdh, true);
	kv_u64(8, "inbound_ecdh_refused", c->inbound_ecdh_refused, false);
	printf("    },\n");
}

/* SupervisorState.signers: every attached signer stream (issue #19). */
static void print_signers(const Coldrpc__SupervisorState *r)
{
	printf("    \"signers\": [");
	for (size_t i = 0; i < r->n_signers; i++) {
		const Coldrpc__SignerEntry *e = r->signers[i];
		printf("%s\n        {\n", i ? "," : "");
		kv_str(12, "role", e->role, true);
		kv_str(12, "peer", e->peer, true);
		kv_str(12, "registration_info", e->registration_info, true);
		kv_i64(12, "since_unix", e->since_unix, true);
		kv_i64(12, "role_since_unix", e->role_since_unix, true);
		kv_u64(12, "requests_answered", e->requests_answered, true);
		kv_u64(12, "requests_in_flight", e->requests_in_flight, false);
		printf("        }");
	}
	printf("%s],\n", r->n_signers ? "\n    " : "");
}

/* SupervisorState.dials: early persistent-peer dials. */
static void print_dials(const Coldrpc__PeerDialCounters *d)
{
	static const Coldrpc__PeerDialCounters zero =
		COLDRPC__PEER_DIAL_COUNTERS__INIT;

	if (!d)
		d = &zero;
	printf("    \"dials\": {\n");
	kv_u64(8, "signer_arrivals", d->signer_arrivals, true);
	kv_u64(8, "early_dials", d->early_dials, true);
	kv_u64(8, "early_ready", d->early_ready, true);
	kv_u64(8, "early_refused", d->early_refused, true);
	kv_u64(8, "park_timeouts", d->park_timeouts, true);
	kv_u64(8, "pending_now", d->pending_now, false);
	printf("    },\n");
}

/* SupervisorState.cluster (docs/cluster.md); absent outside a cluster. */
static void print_cluster(const Coldrpc__ClusterState *c)
{
	if (!c)
		return;
	printf("    \"cluster\": {\n");
	kv_str(8, "role", c->role, true);
	kv_str(8, "id", c->id, true);
	kv_str(8, "leader_id", c->leader_id, true);
	kv_str(8, "leader_signer", c->leader_signer, true);
	kv_u64(8, "token", c->token, true);
	kv_u64(8, "leader_token", c->leader_token, true);
	printf("        \"lease_left_seconds\": %.3f,\n",
	       c->lease_left_seconds);
	printf("        \"ttl_seconds\": %.1f,\n", c->ttl_seconds);
	kv_u64(8, "renewals", c->renewals, true);
	kv_u64(8, "renewals_failed", c->renewals_failed, true);
	printf("        \"renewal_latency_avg_seconds\": %.6f,\n",
	       c->renewal_latency_avg_seconds);
	kv_u64(8, "leadership_changes", c->leadership_changes, true);
	kv_u64(8, "elected", c->elected, true);
	kv_u64(8, "stood_down", c->stood_down, true);
	kv_u64(8, "fencing_refusals", c->fencing_refusals, true);
	kv_i64(8, "role_since_unix", c->role_since_unix, true);
	kv_str(8, "etcd_endpoint", c->etcd_endpoint, true);
	kv_str(8, "last_error", c->last_error, false);
	printf("    },\n");
}

/* SupervisorState.signer_proxy (docs/signerproxy.md); absent: off. */
static void print_signer_proxy(const Coldrpc__SignerProxyState *p)
{
	if (!p)
		return;
	printf("    \"signer_proxy\": {\n");
	printf("        \"listen\": ");
	json_str(p->listen);
	printf(",\n        \"hold_time\": %.3f,\n", p->hold_time);
	kv_u64(8, "held_now", p->held_now, true);
	kv_u64(8, "in_flight_now", p->in_flight_now, true);
	printf("        \"connections\": %u,\n", p->connections);
	printf("        \"methods\": [");
	for (size_t i = 0; i < p->n_methods; i++) {
		const Coldrpc__SignerProxyMethod *m = p->methods[i];
		printf("%s\n            {\"method\": ", i ? "," : "");
		json_str(m->method);
		printf(", \"calls\": \"%llu\", \"forwarded\": \"%llu\", "
		       "\"held\": \"%llu\", \"ok\": \"%llu\", "
		       "\"signer_error\": \"%llu\", \"signer_away\": "
		       "\"%llu\", \"signer_lost\": \"%llu\", "
		       "\"signer_slow\": \"%llu\", \"bad_reply\": \"%llu\", "
		       "\"cancelled\": \"%llu\", \"wait_seconds_sum\": %.6f, "
		       "\"wait_count\": \"%llu\", \"signer_seconds_sum\": "
		       "%.6f, \"signer_count\": \"%llu\"}",
		       (unsigned long long)m->calls,
		       (unsigned long long)m->forwarded,
		       (unsigned long long)m->held,
		       (unsigned long long)m->ok,
		       (unsigned long long)m->signer_error,
		       (unsigned long long)m->signer_away,
		       (unsigned long long)m->signer_lost,
		       (unsigned long long)m->signer_slow,
		       (unsigned long long)m->bad_reply,
		       (unsigned long long)m->cancelled, m->wait_seconds_sum,
		       (unsigned long long)m->wait_count,
		       m->signer_seconds_sum,
		       (unsigned long long)m->signer_count);
	}
	printf("%s]\n    },\n", p->n_methods ? "\n        " : "");
}

/* A ChainChecks message (funding checks or re-checks by result). */
static void print_chain_checks(const char *name,
			       const Coldrpc__ChainChecks *k, bool comma)
{
	printf("        \"%s\": {\n", name);
	kv_u64(12, "ok", k ? k->ok : 0, true);
	kv_u64(12, "no_block", k ? k->no_block : 0, true);
	kv_u64(12, "no_tx", k ? k->no_tx : 0, true);
	kv_u64(12, "no_output", k ? k->no_output : 0, true);
	kv_u64(12, "not_p2wsh", k ? k->not_p2wsh : 0, true);
	kv_u64(12, "wrong_keys", k ? k->wrong_keys : 0, true);
	kv_u64(12, "spent", k ? k->spent : 0, true);
	kv_u64(12, "unconfirmed", k ? k->unconfirmed : 0, true);
	kv_u64(12, "unavailable", k ? k->unavailable : 0, false);
	printf("        }%s\n", comma ? "," : "");
}
static int cmd_state(const struct opts *o, int argc, char **argv)
{
	Coldrpc__GetStateRequest req = COLDRPC__GET_STATE_REQUEST__INIT;
	size_t len;
	uint8_t *resp = call(o, &len, "/coldrpc.Supervisor/GetState",
			     &req.base);
	if (!resp)
		return 1;
	Coldrpc__SupervisorState *r =
		coldrpc__supervisor_state__unpack(NULL, len, resp);
	free(resp);
	if (!r) {
		fprintf(stderr, "[coldctl] cannot parse response\n");
		return 1;
	}
	printf("{\n");
	kv_str(4, "state", r->state, true);
	kv_i64(4, "since_unix", r->since_unix, true);
	kv_str(4, "last_cause", r->last_cause, true);
	printf("    \"signer\": {\n");
	kv_bool(8, "connected", r->signer && r->signer->connected, true);
	kv_str(8, "registration_info",
	       r->signer ? r->signer->registration_info : "", true);
	kv_str(8, "peer", r->signer ? r->signer->peer : "", true);
	kv_i64(8, "since_unix", r->signer ? r->signer->since_unix : 0, false);
	printf("    },\n    \"peers\": {\n");
	kv_u(8, "gossip_only", r->peers ? r->peers->gossip_only : 0, true);
	kv_u(8, "full", r->peers ? r->peers->full : 0, false);
	printf("    },\n    \"gossip\": {\n");
	kv_i64(8, "channels", r->gossip ? (int64_t)r->gossip->channels : 0,
	       true);
	kv_i64(8, "nodes", r->gossip ? (int64_t)r->gossip->nodes : 0, true);
	kv_i64(8, "channel_updates",
	       r->gossip ? (int64_t)r->gossip->channel_updates : 0, true);
	kv_u64(8, "channels_unverified",
	       r->gossip ? r->gossip->channels_unverified : 0, true);
	{
		const Coldrpc__GossipCounts *g = r->gossip;
		kv_str(8, "sync_phase", g ? g->sync_phase : "", true);
		kv_u64(8, "syncs_started", g ? g->syncs_started : 0, true);
		kv_u64(8, "syncs_completed", g ? g->syncs_completed : 0, true);
		kv_u64(8, "syncs_failed", g ? g->syncs_failed : 0, true);
		kv_i64(8, "last_sync_unix", g ? g->last_sync_unix : 0, true);
		kv_u64(8, "next_sync_in_seconds",
		       g ? g->next_sync_in_seconds : 0, true);
		kv_u64(8, "scid_queries_sent", g ? g->scid_queries_sent : 0,
		       true);
		kv_u64(8, "scids_asked", g ? g->scids_asked : 0, true);
		kv_u64(8, "sync_waits_for_checks",
		       g ? g->sync_waits_for_checks : 0, true);
		kv_u64(8, "refused_for_capacity",
		       g ? g->refused_for_capacity : 0, false);
	}
	printf("    },\n");
	if (r->wallet) {
		const Coldrpc__WalletInfo *w = r->wallet;
		printf("    \"wallet\": {\n");
		kv_str(8, "source", w->source, true);
		kv_u(8, "accounts", w->accounts, true);
		kv_u64(8, "watched_scripts", w->watched_scripts, true);
		kv_i64(8, "tip_height", w->tip_height, true);
		kv_str(8, "tip_hash", w->tip_hash, true);
		kv_i64(8, "birthday", w->birthday, true);
		kv_i64(8, "rescan_height", w->rescan_height, true);
		kv_i64(8, "updated_unix", w->updated_unix, true);
		kv_bool(8, "stale", w->stale, true);
		kv_i64(8, "age_seconds", w->age_seconds, false);
		printf("    },\n");
	}
	if (r->chain) {
		const Coldrpc__ChainState *ch = r->chain;
		printf("    \"chain\": {\n");
		kv_str(8, "backend", ch->backend, true);
		kv_str(8, "status", ch->status, true);
		kv_bool(8, "connected", ch->connected, true);
		kv_u(8, "height", ch->height, true);
		kv_str(8, "hash", ch->hash, true);
		kv_i64(8, "tip_time", ch->tip_time, true);
		kv_u(8, "node_height", ch->node_height, true);
		kv_u(8, "blocks_behind", ch->blocks_behind, true);
		kv_bool(8, "synced_to_chain", ch->synced_to_chain, true);
		kv_str(8, "node_chain", ch->node_chain, true);
		kv_str(8, "last_error", ch->last_error, true);
		kv_u64(8, "blocks_connected", ch->blocks_connected, true);
		kv_u64(8, "blocks_disconnected", ch->blocks_disconnected, true);
		kv_u64(8, "requests", ch->requests, true);
		kv_u64(8, "errors", ch->errors, true);
		kv_u64(8, "lost_count", ch->lost_count, true);
		kv_u64(8, "checks_queued", ch->checks_queued, true);
		kv_u64(8, "watched", ch->watched, true);
		kv_u64(8, "spent", ch->spent, true);
		kv_u64(8, "forgotten", ch->forgotten, true);
		kv_u64(8, "reorgs", ch->reorgs, true);
		kv_u64(8, "rechecks_pending", ch->rechecks_pending, true);
		kv_u64(8, "zmq_rawtx", ch->zmq_rawtx, true);
		kv_u64(8, "zmq_rawblock", ch->zmq_rawblock, true);
		kv_u64(8, "zmq_gaps", ch->zmq_gaps, true);
		kv_u64(8, "zmq_restarts", ch->zmq_restarts, true);
		kv_u64(8, "zmq_malformed", ch->zmq_malformed, true);
		kv_bool(8, "zmq_rawtx_silent", ch->zmq_rawtx_silent, true);
		kv_u64(8, "mempool_full_polls", ch->mempool_full_polls, true);
		print_chain_checks("checks", ch->checks, true);
		print_chain_checks("rechecks", ch->rechecks, false);
		printf("    },\n");
	}
	print_signers(r);
	print_counters(r->counters);
	print_dials(r->dials);
	print_cluster(r->cluster);
	print_signer_proxy(r->signer_proxy);
	/* Connection budget per listener (docs/hardening.md); 64-bit
	 * counters as strings, like the others (proto3 JSON). */
	printf("    \"listeners\": [");
	for (size_t i = 0; i < r->n_listeners; i++) {
		const Coldrpc__ListenerCounters *l = r->listeners[i];
		printf("%s\n        {\"name\": ", i ? "," : "");
		json_str(l->name);
		printf(", \"unauthenticated\": %u, "
		       "\"authenticated\": %u, \"accepted\": \"%llu\", "
		       "\"refused_source\": \"%llu\", \"evicted\": "
		       "\"%llu\", \"timed_out\": \"%llu\", "
		       "\"auth_full\": \"%llu\", \"headers_refused\": "
		       "\"%llu\", \"unauth_calls_refused\": \"%llu\"}",
		       l->unauthenticated, l->authenticated,
		       (unsigned long long)l->accepted,
		       (unsigned long long)l->refused_source,
		       (unsigned long long)l->evicted,
		       (unsigned long long)l->timed_out,
		       (unsigned long long)l->auth_full,
		       (unsigned long long)l->headers_refused,
		       (unsigned long long)l->unauth_calls_refused);
	}
	printf("%s]\n", r->n_listeners ? "\n    " : "");
	printf("}\n");
	coldrpc__supervisor_state__free_unpacked(r, NULL);
	return 0;
}

/* RFC 3339 UTC time @secs from now, for a time-before caveat. */
static void time_caveat(char *out, size_t outlen, long secs)
{
	time_t t = time(NULL) + secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, outlen, "time-before %Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmd_bakemacaroon(const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "save_to", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ip_address", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	const char *save_to = NULL;
	char tcav[64], icav[80];
	/* One slot per caveat kind: each option may be given once. */
	const char *cavs[2];
	size_t ncav = 0;
	bool have_t = false, have_i = false;
	int c, ret = 1;
	uint8_t ipbuf[16];
	char *end;
	long secs;

	optind = 0; /* glibc: 0 re-initialises (permuting again) */
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			save_to = optarg;
			break;
		case 't':
			if (have_t) {
				fprintf(stderr, "[coldctl] --timeout given "
					"more than once\n");
				return 2;
			}
			errno = 0;
			secs = strtol(optarg, &end, 10);
			/* At most 100 years: time_caveat's year stays four
			 * digits. */
			if (errno || *end || end == optarg || secs <= 0 ||
			    secs > 100L * 366 * 24 * 3600) {
				fprintf(stderr, "[coldctl] --timeout must be "
					"seconds, 1..3162240000\n");
				return 2;
			}
			have_t = true;
			time_caveat(tcav, sizeof(tcav), secs);
			cavs[ncav++] = tcav;
			break;
		case 'i':
			if (have_i) {
				fprintf(stderr, "[coldctl] --ip_address given "
					"more than once\n");
				return 2;
			}
			if (inet_pton(AF_INET, optarg, ipbuf) != 1 &&
			    inet_pton(AF_INET6, optarg, ipbuf) != 1) {
				fprintf(stderr, "[coldctl] --ip_address: '%s' "
					"is not an IPv4 or IPv6 address\n",
					optarg);
				return 2;
			}
			have_i = true;
			snprintf(icav, sizeof(icav), "ipaddr %s", optarg);
			cavs[ncav++] = icav;
			break;
		default:
			return 2;
		}
	}
	size_t np = (size_t)(argc - optind);
	if (np == 0) {
		fprintf(stderr, "[coldctl] bakemacaroon: give at least one "
			"ENTITY:ACTION permission\n");
		return 2;
	}
	struct rpc_perm *perms = calloc(np, sizeof(*perms));
	char **copies = calloc(np, sizeof(*copies));
	if (!perms || !copies)
		goto out;
	for (size_t i = 0; i < np; i++) {
		copies[i] = strdup(argv[optind + (int)i]);
		char *colon = copies[i] ? strchr(copies[i], ':') : NULL;
		if (!colon || colon == copies[i] || !colon[1]) {
			fprintf(stderr, "[coldctl] bad permission \"%s\" (want "
				"ENTITY:ACTION, e.g. info:read)\n",
				argv[optind + (int)i]);
			ret = 2;
			goto out;
		}
		*colon = '\0';
		perms[i].entity = copies[i];
		perms[i].action = colon + 1;
	}
	char rk[4096];
	snprintf(rk, sizeof(rk), "%s/macaroons.key", o->datadir);
	struct rpc_macaroon_svc *svc = rpc_macaroon_svc_new(rk, false);
	if (!svc) {
		fprintf(stderr, "[coldctl] cannot read the root key %s\n", rk);
		goto out;
	}
	uint8_t *mac;
	size_t len;
	if (!rpc_macaroon_bake(svc, &mac, &len, perms, np, cavs, ncav)) {
		fprintf(stderr, "[coldctl] cannot bake macaroon\n");
		rpc_macaroon_svc_free(svc);
		goto out;
	}
	rpc_macaroon_svc_free(svc);
	if (save_to) {
		if (!rpc_macaroon_write_file(save_to, mac, len)) {
			free(mac);
			goto out;
		}
		printf("Macaroon saved to %s\n", save_to);
	} else {
		char *hex = malloc(2 * len + 1);
		if (hex)
			printf("%s\n", hex_encode(hex, mac, len));
		free(hex);
	}
	free(mac);
	ret = 0;
out:
	for (size_t i = 0; copies && i < np; i++)
		free(copies[i]);
	free(copies);
	free(perms);
	return ret;
}

/* wallet importaccounts: the file is sent as it is; coldnode checks it
 * against its network (the client does not know it). */
static int cmd_importaccounts(const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "birthday", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *usage = "[coldctl] usage: wallet importaccounts "
			    "[--birthday HEIGHT] FILE\n";
	unsigned long birthday = 0;
	int c, ret = 1;
	char *end;
	size_t len;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'b')
			return 2;
		errno = 0;
		birthday = strtoul(optarg, &end, 10);
		if (errno || !*optarg || *end || birthday == 0 ||
		    birthday > 0xffffffffUL) {
			fprintf(stderr, "[coldctl] --birthday: a block height "
				"above 0\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	char *json = read_file(argv[optind], &len, 4 * 1024 * 1024);
	if (!json) {
		fprintf(stderr, "[coldctl] cannot read %s: %s\n", argv[optind],
			strerror(errno));
		return 1;
	}
	Coldrpc__ImportAccountsRequest req =
		COLDRPC__IMPORT_ACCOUNTS_REQUEST__INIT;
	req.accounts_json = json;
	req.birthday_height = (uint32_t)birthday;
	uint8_t *resp = call(o, &len, "/coldrpc.Wallet/ImportAccounts",
			     &req.base);
	/* The file could hold a private key (refused by coldnode). */
	explicit_bzero(json, strlen(json));
	free(json);
	if (!resp)
		return 1;
	Coldrpc__ImportAccountsResponse *r =
		coldrpc__import_accounts_response__unpack(NULL, len, resp);
	free(resp);
	if (!r) {
		fprintf(stderr, "[coldctl] cannot parse response\n");
		return 1;
	}
	printf("{\n");
	kv_u(4, "added", r->added, true);
	kv_u(4, "already_present", r->already_present, true);
	kv_u64(4, "watched_scripts", r->watched_scripts, true);
	kv_i64(4, "birthday", r->birthday, true);
	kv_bool(4, "rescan", r->rescan, false);
	printf("}\n");
	if (r->added == 0 && r->already_present)
		fprintf(stderr, "[coldctl] every account was already "
			"imported: nothing changed\n");
	coldrpc__import_accounts_response__free_unpacked(r, NULL);
	ret = 0;
	return ret;
}

static int cmd_wallet(const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "append", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	bool append = false;
	int c;

	if (argc >= 2 && strcmp(argv[1], "importaccounts") == 0)
		return cmd_importaccounts(o, argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "import") != 0) {
		fprintf(stderr, "[coldctl] usage: wallet import [--append] FILE"
			" | wallet importaccounts [--birthday HEIGHT] FILE\n");
		return 2;
	}
	argc--;
	argv++;
	optind = 0; /* glibc: 0 re-initialises (permuting again) */
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'a')
			append = true;
		else
			return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "[coldctl] usage: wallet import [--append] FILE\n");
		return 2;
	}
	size_t len, n;
	char err[200];
	struct wallet_utxo *u;
	char *json = read_file(argv[optind], &len, 256 * 1024 * 1024);
	if (!json) {
		fprintf(stderr, "[coldctl] cannot read %s: %s\n", argv[optind],
			strerror(errno));
		return 1;
	}
	bool ok = wallet_parse_listunspent(&u, &n, err, sizeof(err), json,
					   len);
	free(json);
	if (!ok) {
		fprintf(stderr, "[coldctl] %s: %s\n", argv[optind], err);
		return 1;
	}
	Coldrpc__ImportUnspentRequest req = COLDRPC__IMPORT_UNSPENT_REQUEST__INIT;
	Coldrpc__Utxo *msgs = calloc(n + 1, sizeof(*msgs));
	Coldrpc__Utxo **ptrs = calloc(n + 1, sizeof(*ptrs));
	int ret = 1;
	if (!msgs || !ptrs)
		goto out;
	for (size_t i = 0; i < n; i++) {
		coldrpc__utxo__init(&msgs[i]);
		msgs[i].txid = u[i].txid;
		msgs[i].vout = u[i].vout;
		msgs[i].amount_sat = u[i].amount_sat;
		msgs[i].confirmations = u[i].confirmations;
		msgs[i].address = u[i].address;
		msgs[i].account = u[i].account;
		msgs[i].locked = u[i].locked;
		ptrs[i] = &msgs[i];
	}
	req.n_utxos = n;
	req.utxos = ptrs;
	req.append = append;
	uint8_t *resp = call(o, &len, "/coldrpc.Wallet/ImportUnspent",
			     &req.base);
	if (!resp)
		goto out;
	Coldrpc__ImportUnspentResponse *r =
		coldrpc__import_unspent_response__unpack(NULL, len, resp);
	free(resp);
	if (!r) {
		fprintf(stderr, "[coldctl] cannot parse response\n");
		goto out;
	}
	printf("{\n");
	kv_u(4, "imported", r->imported, true);
	kv_i64(4, "total_sat", r->total_sat, false);
	printf("}\n");
	coldrpc__import_unspent_response__free_unpacked(r, NULL);
	ret = 0;
out:
	free(msgs);
	free(ptrs);
	free(u);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "rpcserver", required_argument, NULL, 'r' },
		{ "tlscertpath", required_argument, NULL, 'c' },
		{ "macaroonpath", required_argument, NULL, 'm' },
		{ "datadir", required_argument, NULL, 'd' },
		{ "network", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .rpcserver = "localhost:10009", .network = "mainnet",
			  .timeout = 30 };
	const char *datadir = "~/.coldnode", *cert = NULL, *mac = NULL;
	int c, ret;

	/* Global options stop at the command name. */
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o.rpcserver = optarg; break;
		case 'c': cert = optarg; break;
		case 'm': mac = optarg; break;
		case 'd': datadir = optarg; break;
		case 'n': o.network = optarg; break;
		case 't': o.timeout = atof(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cn_crypto_init();
	/* Library logs (unusual and worse) still reach stderr. */
	if (!log_parse_debuglevel("unusual"))
		return 2;
	o.datadir = cn_expand_home(datadir);
	o.tlscertpath = cert ? cn_expand_home(cert) : NULL;
	o.macaroonpath = mac ? cn_expand_home(mac) : NULL;
	if (!o.datadir || (cert && !o.tlscertpath) ||
	    (mac && !o.macaroonpath)) {
		fprintf(stderr, "[coldctl] cannot expand '~' in a path: no "
			"such user, or HOME is not set and the user has no "
			"home directory\n");
		return 2;
	}
	if ((!cert && asprintf(&o.tlscertpath, "%s/tls.cert",
					     o.datadir) < 0) ||
	    (!mac && asprintf(&o.macaroonpath, "%s/admin.macaroon",
			      o.datadir) < 0))
		return 1;

	const char *cmd = argv[optind];
	int cargc = argc - optind;
	char **cargv = argv + optind;
	if (strcmp(cmd, "getinfo") == 0)
		ret = cmd_getinfo(&o, cargc, cargv);
	else if (strcmp(cmd, "walletbalance") == 0)
		ret = cmd_walletbalance(&o, cargc, cargv);
	else if (strcmp(cmd, "state") == 0)
		ret = cmd_state(&o, cargc, cargv);
	else if (strcmp(cmd, "bakemacaroon") == 0)
		ret = cmd_bakemacaroon(&o, cargc, cargv);
	else if (strcmp(cmd, "wallet") == 0)
		ret = cmd_wallet(&o, cargc, cargv);
	else {
		fprintf(stderr, "[coldctl] unknown command \"%s\"\n", cmd);
		usage(stderr);
		ret = 2;
	}
	free(o.datadir);
	free(o.tlscertpath);
	free(o.macaroonpath);
	return ret;
}
