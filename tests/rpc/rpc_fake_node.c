/* rpc_fake_node: a TEST DOUBLE of the daemon for the rpc tests.  It serves
 * the real rpc_node (TLS, macaroons, wallet) with a stub state provider in
 * place of the supervisor, which the test drives over stdin:
 *   state NAME      supervisor state name ("ACTIVE", "SAFE_MODE", ...)
 *   signer 0|1      signer connected?
 *   quit
 * Prints "PORT <n>" once listening (127.0.0.1, port chosen by the OS).
 * Usage: rpc_fake_node DATADIR [UNIX_SOCKET_PATH] [--bench-static]
 *                      [--max-send-queue=BYTES] [--max-conns=N]
 *                      [--handshake-timeout=SECS] [--idle-timeout=SECS]
 * --bench-static adds /coldrpc.Bench/Static: a fixed response with no
 * macaroon and no protobuf work, the baseline of bench/bench_rpc.
 */
#include "rpc/rpc.h"

#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char state_name[64] = "ACTIVE";
static bool signer_on = true;
static struct rpc_node *node;

static void fake_info(void *arg, struct rpc_node_info *out)
{
	static const char *uris[] = {
		"02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@127.0.0.1:9735"
	};
	static const struct rpc_feature feats[] = {
		{ 0, "data-loss-protect", true, true },
		{ 7, "gossip-queries", false, true },
	};
	out->have_identity = true;
	memset(out->identity_pubkey, 0xaa, 33);
	out->identity_pubkey[0] = 0x02;
	out->alias = "coldnode-test";
	out->color[0] = 0x33;
	out->color[1] = 0x99;
	out->color[2] = 0xff;
	out->num_peers = 3;
	out->have_block = true;
	out->block_height = 800000;
	memset(out->block_hash, 0x11, 32);
	out->synced_to_graph = true;
	out->network = "regtest";
	out->features = feats;
	out->num_features = CN_ARRAY_SIZE(feats);
	out->uris = uris;
	out->num_uris = 1;
}

static void fake_state(void *arg, struct rpc_sv_state *out)
{
	out->state = state_name;
	out->since_unix = 1700000000;
	out->last_cause = "test double";
	out->signer_connected = signer_on;
	out->signer_info = signer_on ? "outboundSigner" : "";
	out->signer_peer = signer_on ? "127.0.0.1:5555" : "";
	out->peers_gossip_only = 2;
	out->peers_full = signer_on ? 1 : 0;
	out->gossip_channels = 10;
	out->gossip_nodes = 5;
	out->gossip_updates = 20;
	out->gossip_channels_unverified = 7;
	out->generation = 3;
	out->to_waiting_for_signer = 1;
	out->to_active = 2;
	out->to_safe_mode = 1;
	out->signer_losses = 1;
	out->requests_unavailable = 4;
}

static void static_msg(void *arg, struct rpc_call *call, const uint8_t *msg,
		       size_t len)
{
	static const uint8_t resp[] = { 0x0a, 0x04, 't', 'e', 's', 't' };
	rpc_call_send(call, resp, sizeof(resp));
	rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

static void stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	char line[256];
	ssize_t n = read(STDIN_FILENO, line, sizeof(line) - 1);
	if (n <= 0) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	line[n] = '\0';
	for (char *l = strtok(line, "\n"); l; l = strtok(NULL, "\n")) {
		if (strncmp(l, "state ", 6) == 0)
			snprintf(state_name, sizeof(state_name), "%s", l + 6);
		else if (strncmp(l, "signer ", 7) == 0)
			signer_on = l[7] == '1';
		else if (strcmp(l, "quit") == 0)
			ev_break(loop, EVBREAK_ALL);
		rpc_node_state_changed(node);
		printf("OK\n");
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	struct ev_loop *loop = EV_DEFAULT;
	const char *listen[] = { "127.0.0.1:0" };
	bool bench_static = false;
	const char *unix_path = NULL;
	size_t max_send_queue = 0, max_conns = 0, max_preauth = 0;
	double hs_timeout = 0, idle_timeout = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DATADIR [UNIXPATH] [--bench-static]\n",
			argv[0]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--bench-static") == 0)
			bench_static = true;
		else if (strncmp(argv[i], "--max-send-queue=", 17) == 0)
			max_send_queue = strtoul(argv[i] + 17, NULL, 10);
		else if (strncmp(argv[i], "--max-conns=", 12) == 0)
			max_conns = strtoul(argv[i] + 12, NULL, 10);
		else if (strncmp(argv[i], "--max-preauth=", 14) == 0)
			max_preauth = strtoul(argv[i] + 14, NULL, 10);
		else if (strncmp(argv[i], "--handshake-timeout=", 20) == 0)
			hs_timeout = strtod(argv[i] + 20, NULL);
		else if (strncmp(argv[i], "--idle-timeout=", 15) == 0)
			idle_timeout = strtod(argv[i] + 15, NULL);
		else
			unix_path = argv[i];
	}
	signal(SIGPIPE, SIG_IGN);
	cn_crypto_init();
	if (!log_parse_debuglevel(getenv("RPC_DEBUGLEVEL")
				  ? getenv("RPC_DEBUGLEVEL") : "info"))
		return 2;
	struct rpc_node_config cfg = {
		.datadir = argv[1], .listen = listen, .num_listen = 1,
		.unix_path = unix_path, .version = "0.1.0-coldnode-test",
		.max_send_queue = max_send_queue, .max_conns = max_conns,
		.handshake_timeout = hs_timeout, .idle_timeout = idle_timeout,
		.max_preauth = max_preauth,
	};
	struct rpc_provider prov = { fake_info, fake_state, NULL };
	node = rpc_node_new(loop, &cfg, &prov);
	if (!node)
		return 1;
	if (bench_static) {
		struct rpc_method m = { .path = "/coldrpc.Bench/Static",
					.kind = RPC_KIND_UNARY,
					.no_macaroon = true,
					.on_message = static_msg };
		rpc_server_add_method(rpc_node_server(node), &m);
	}
	ev_io w;
	ev_io_init(&w, stdin_cb, STDIN_FILENO, EV_READ);
	ev_io_start(loop, &w);
	printf("PORT %u\n", rpc_server_port(rpc_node_server(node), 0));
	fflush(stdout);
	ev_run(loop, 0);
	rpc_node_free(node);
	return 0;
}
