/* Fuzz the request-header path of one server connection (issue 22):
 * src/rpc/call.c's on_header (header list size, pre-auth header budget,
 * macaroon and :path copies) behind nghttp2's HPACK decoder, with every
 * header count and size.  The input is a program, not raw bytes, so that
 * short inputs reach long header lists: each op appends to a HEADERS or
 * CONTINUATION frame one HPACK representation (RFC 7541 §6) with a name
 * from a list the server cares about and a value of any length up to
 * 8 KiB (a repeated byte), an indexed reference (1 byte standing for up
 * to 4 KiB), a dynamic table size update, or closes the frame (with or
 * without END_HEADERS / END_STREAM, on the same or another stream).  The
 * first byte chooses whether the connection first authenticates with a
 * valid macaroon (the stream-reset path) or not (the connection-close
 * path), and whether the request also sends a DATA frame. */
#include "rpc/rpc_internal.h"

#include <stdlib.h>
#include <string.h>

static struct ev_loop *loop;
static struct rpc_server *srv;
static struct rpc_macaroon_svc *svc;
static char mac_hex[1024];

static const struct rpc_perm perm_info[] = { { "info", "read" } };

static void answer(void *arg, struct rpc_call *call, const uint8_t *msg,
		   size_t len)
{
	rpc_call_send(call, msg, len);
	if (arg)
		rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rpc_server_config cfg;
	uint8_t key[32], *mac;
	size_t maclen;

	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	memset(key, 0x42, sizeof(key));
	svc = rpc_macaroon_svc_from_key(key);
	if (!rpc_macaroon_bake(svc, &mac, &maclen, perm_info, 1, NULL, 0) ||
	    maclen * 2 >= sizeof(mac_hex))
		abort();
	hex_encode(mac_hex, mac, maclen);
	free(mac);
	loop = ev_loop_new(EVFLAG_AUTO);
	rpc_server_config_default(&cfg);
	cfg.macaroons = svc;
	/* Smaller than the defaults, so that inputs cross them often. */
	cfg.max_header_list = 8192;
	cfg.max_preauth_header_bytes = 24576;
	cfg.max_unauth_calls = 2;
	srv = rpc_server_new(loop, &cfg);
	const struct rpc_method ms[] = {
		{ .path = "/a.B/Public", .kind = RPC_KIND_SERVER_STREAM,
		  .no_macaroon = true, .on_message = answer },
		{ .path = "/a.B/Auth", .kind = RPC_KIND_UNARY,
		  .perms = perm_info, .num_perms = 1, .on_message = answer,
		  .arg = (void *)1 },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(ms); i++)
		rpc_server_add_method(srv, &ms[i]);
	return 0;
}

/* ---- building frames ---------------------------------------------------- */

struct out {
	uint8_t *buf;
	size_t len, cap;
	size_t frame_start; /* offset of the open frame's 9-byte header */
	bool open;
	int32_t sid;
	bool continuation; /* the next frame of this block is CONTINUATION */
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2;
		uint8_t *nb = realloc(o->buf, cap);
		if (!nb)
			abort();
		o->buf = nb;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void put_byte_n(struct out *o, uint8_t b, size_t n)
{
	while (n--)
		put(o, &b, 1);
}

static void frame_hdr(uint8_t *p, size_t len, uint8_t type, uint8_t flags,
		      int32_t sid)
{
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	p[3] = type;
	p[4] = flags;
	p[5] = (uint8_t)((uint32_t)sid >> 24) & 0x7f;
	p[6] = (uint8_t)(sid >> 16);
	p[7] = (uint8_t)(sid >> 8);
	p[8] = (uint8_t)sid;
}

static void frame_open(struct out *o)
{
	uint8_t h[9] = { 0 };
	if (o->open)
		return;
	o->frame_start = o->len;
	put(o, h, 9);
	o->open = true;
}

/* Closes the open frame; a header block's frames are capped at 16 KiB
 * (SETTINGS_MAX_FRAME_SIZE's default): longer ones are split here. */
static void frame_close(struct out *o, bool end_headers, bool end_stream)
{
	if (!o->open)
		return;
	size_t len = o->len - o->frame_start - 9;
	uint8_t type = o->continuation ? 0x9 : 0x1;
	uint8_t flags = (end_headers ? 0x4 : 0) |
			(!o->continuation && end_stream ? 0x1 : 0);
	frame_hdr(o->buf + o->frame_start, len, type, flags, o->sid);
	o->open = false;
	o->continuation = !end_headers;
}

static void maybe_split(struct out *o)
{
	if (o->open && o->len - o->frame_start - 9 >= 16000) {
		frame_close(o, false, false);
		frame_open(o);
	}
}

/* RFC 7541 §5.1 integer with an N-bit prefix. */
static void hpack_int(struct out *o, uint8_t first, int nbits, size_t v)
{
	size_t max = ((size_t)1 << nbits) - 1;
	uint8_t b;
	if (v < max) {
		b = first | (uint8_t)v;
		put(o, &b, 1);
		return;
	}
	b = first | (uint8_t)max;
	put(o, &b, 1);
	v -= max;
	while (v >= 128) {
		b = (uint8_t)(v % 128 + 128);
		put(o, &b, 1);
		v /= 128;
	}
	b = (uint8_t)v;
	put(o, &b, 1);
}

static const char *const names[] = {
	":path", ":method", ":scheme", ":authority", "content-type",
	"macaroon", "grpc-timeout", "te", "x-pad", "user-agent",
};

static const char *const values[] = {
	"/a.B/Public", "/a.B/Auth", "POST", "http", "application/grpc",
	"trailers", "10S", "localhost",
};

struct prog {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct prog *pg)
{
	if (!pg->n)
		return 0;
	pg->n--;
	return *pg->p++;
}

static void request_start(struct out *o, int32_t sid)
{
	o->sid = sid;
	o->continuation = false;
	frame_open(o);
}

/* A valid request on @sid: the pseudo headers and content-type, then
 * (if @mac) the macaroon; left open for the fuzzed headers. */
static void request_prefix(struct out *o, int32_t sid, const char *path,
			   bool mac)
{
	request_start(o, sid);
	put_byte_n(o, 0x83, 1); /* :method POST */
	put_byte_n(o, 0x86, 1); /* :scheme http */
	hpack_int(o, 0x00, 4, 4); /* :path, literal without indexing */
	hpack_int(o, 0x00, 7, strlen(path));
	put(o, path, strlen(path));
	hpack_int(o, 0x00, 4, 31); /* content-type */
	hpack_int(o, 0x00, 7, 16);
	put(o, "application/grpc", 16);
	if (mac) {
		hpack_int(o, 0x00, 4, 0); /* new name, without indexing */
		hpack_int(o, 0x00, 7, 8);
		put(o, "macaroon", 8);
		hpack_int(o, 0x00, 7, strlen(mac_hex));
		put(o, mac_hex, strlen(mac_hex));
	}
}

static void data_frame(struct out *o, int32_t sid, const uint8_t *msg,
		       size_t len, bool end)
{
	uint8_t h[9], pre[RPC_FRAME_HDR];
	frame_hdr(h, RPC_FRAME_HDR + len, 0x0, end ? 0x1 : 0, sid);
	put(o, h, 9);
	rpc_frame_prefix(pre, (uint32_t)len);
	put(o, pre, sizeof(pre));
	put(o, msg, len);
}

static void run_program(struct out *o, struct prog *pg, bool authed,
			bool with_data)
{
	int32_t sid = 1;
	if (authed) {
		/* A call whose macaroon passes: the connection is
		 * authenticated from here on. */
		request_prefix(o, sid, "/a.B/Auth", true);
		frame_close(o, true, false);
		data_frame(o, sid, (const uint8_t *)"x", 1, true);
		sid += 2;
	}
	request_prefix(o, sid, take(pg) & 1 ? "/a.B/Auth" : "/a.B/Public",
		       false);
	for (int ops = 0; pg->n && ops < 4096; ops++) {
		uint8_t op = take(pg);
		uint8_t a = take(pg), b = take(pg);
		size_t vlen = ((size_t)a << 8 | b) & 0x1fff; /* 0..8191 */
		const char *name = names[op % CN_ARRAY_SIZE(names)];
		switch (op >> 4) {
		case 0: case 1: case 2: /* literal, incremental indexing */
			frame_open(o);
			hpack_int(o, 0x40, 6, 0);
			hpack_int(o, 0x00, 7, strlen(name));
			put(o, name, strlen(name));
			hpack_int(o, 0x00, 7, vlen);
			put_byte_n(o, (uint8_t)('a' + (a & 15)), vlen);
			break;
		case 3: case 4: { /* literal without indexing, known value */
			const char *v = values[a % CN_ARRAY_SIZE(values)];
			frame_open(o);
			hpack_int(o, 0x00, 4, 0);
			hpack_int(o, 0x00, 7, strlen(name));
			put(o, name, strlen(name));
			hpack_int(o, 0x00, 7, strlen(v));
			put(o, v, strlen(v));
			break;
		}
		case 5: case 6: case 7: case 8: /* runs of indexed refs */
			frame_open(o);
			/* dynamic entries start at 62; static 1..61 */
			put_byte_n(o, (uint8_t)(0x80 | (b & 0x7f)),
				   1 + (size_t)a * 8);
			break;
		case 9: /* dynamic table size update */
			frame_open(o);
			hpack_int(o, 0x20, 5, vlen & 0xfff);
			break;
		case 10: /* end of the header block */
			frame_close(o, true, a & 1);
			if (with_data && (b & 1))
				data_frame(o, o->sid,
					   (const uint8_t *)"\x0a\x00", 2,
					   true);
			break;
		case 11: /* a CONTINUATION boundary */
			frame_close(o, false, false);
			break;
		case 12: /* next stream */
			if (o->open)
				frame_close(o, true, true);
			sid += 2;
			request_prefix(o, sid, a & 1 ? "/a.B/Auth"
						     : "/a.B/Public",
				       b & 1);
			break;
		case 13: /* trailers on the current stream */
			if (o->open)
				frame_close(o, true, false);
			request_start(o, o->sid);
			break;
		default: /* raw byte into the block (malformed HPACK) */
			frame_open(o);
			put_byte_n(o, a, 1);
			break;
		}
		maybe_split(o);
	}
	frame_close(o, true, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t preface[] =
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
		"\x00\x00\x00\x04\x00\x00\x00\x00\x00"; /* empty SETTINGS */
	const uint8_t *out;
	struct prog pg = { data, size };
	struct out o = { 0 };

	if (!srv)
		LLVMFuzzerInitialize(NULL, NULL);
	uint8_t mode = take(&pg);
	run_program(&o, &pg, mode & 1, mode & 2);
	struct rpc_session *s = rpc_session_new(srv, NULL, "fuzz",
						"127.0.0.1");
	if (!s) {
		free(o.buf);
		return 0;
	}
	bool ok = rpc_session_recv(s, preface, sizeof(preface) - 1);
	/* Fed in chunks of a size the mode chooses, output pulled between,
	 * as the adapter does. */
	size_t chunk = (mode >> 2) ? (size_t)(mode >> 2) * 512 : 16384;
	for (size_t off = 0; ok && off < o.len; off += chunk) {
		size_t n = o.len - off < chunk ? o.len - off : chunk;
		ok = rpc_session_recv(s, o.buf + off, n);
		for (int i = 0; i < 1000 && rpc_session_pull(s, &out) > 0; i++)
			;
	}
	rpc_session_free(s, RPC_STATUS_UNAVAILABLE);
	free(o.buf);
	return 0;
}
