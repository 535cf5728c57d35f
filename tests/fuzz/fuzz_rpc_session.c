/* Fuzz the whole request path of one server connection, without sockets:
 * HTTP/2 (nghttp2) -> gRPC headers, macaroon check, framing -> method
 * callbacks -> responses pulled back out.  The input follows a valid
 * client preface; the methods answer like the real ones (unary, server
 * stream, bidi echo) and one of them needs a macaroon. */
#include "rpc/rpc_internal.h"

#include <stdlib.h>
#include <string.h>

static struct ev_loop *loop;
static struct rpc_server *srv;
static struct rpc_macaroon_svc *svc;

static const struct rpc_perm perm_info[] = { { "info", "read" } };

static void answer(void *arg, struct rpc_call *call, const uint8_t *msg,
		   size_t len)
{
	rpc_call_send(call, msg, len);
	if (arg)
		rpc_call_finish(call, RPC_STATUS_OK, "done");
}

static void half(void *arg, struct rpc_call *call)
{
	rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

static void closed(void *arg, struct rpc_call *call, enum rpc_status st)
{
	(void)rpc_call_data(call);
	(void)rpc_call_peer(call);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rpc_server_config cfg;
	uint8_t key[32];

	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	memset(key, 0x42, sizeof(key));
	svc = rpc_macaroon_svc_from_key(key);
	loop = ev_loop_new(EVFLAG_AUTO);
	rpc_server_config_default(&cfg);
	cfg.macaroons = svc;
	cfg.max_recv_msg = 65536;
	srv = rpc_server_new(loop, &cfg);
	const struct rpc_method ms[] = {
		{ .path = "/a.B/Unary", .kind = RPC_KIND_UNARY,
		  .no_macaroon = true, .on_message = answer, .arg = (void *)1,
		  .on_closed = closed },
		{ .path = "/a.B/Auth", .kind = RPC_KIND_UNARY,
		  .perms = perm_info, .num_perms = 1, .on_message = answer,
		  .arg = (void *)1 },
		{ .path = "/a.B/Stream", .kind = RPC_KIND_SERVER_STREAM,
		  .no_macaroon = true, .on_message = answer,
		  .on_closed = closed },
		{ .path = "/a.B/Bidi", .kind = RPC_KIND_BIDI_STREAM,
		  .no_macaroon = true, .max_calls = 2, .on_message = answer,
		  .on_half_close = half, .on_closed = closed },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(ms); i++)
		rpc_server_add_method(srv, &ms[i]);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t preface[] =
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
		"\x00\x00\x00\x04\x00\x00\x00\x00\x00"; /* empty SETTINGS */
	const uint8_t *out;

	if (!srv)
		LLVMFuzzerInitialize(NULL, NULL);
	struct rpc_session *s = rpc_session_new(srv, NULL, "fuzz",
						"127.0.0.1");
	if (!s)
		return 0;
	bool ok = rpc_session_recv(s, preface, sizeof(preface) - 1);
	/* feed in two halves, pulling output in between */
	size_t half_len = size / 2;
	for (int part = 0; ok && part < 2; part++) {
		const uint8_t *p = part ? data + half_len : data;
		size_t n = part ? size - half_len : half_len;
		ok = rpc_session_recv(s, p, n);
		for (int i = 0; i < 1000 && rpc_session_pull(s, &out) > 0; i++)
			;
	}
	rpc_session_free(s, RPC_STATUS_UNAVAILABLE);
	return 0;
}
