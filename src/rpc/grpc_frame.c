/*~ grpc_frame: the pure part of gRPC-over-HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md):
 * reassembling length-prefixed messages out of DATA chunks of any size,
 * queueing them prefixed for sending, parsing grpc-timeout and
 * percent-encoding grpc-message.  No sockets, no
 * nghttp2: the fuzzer drives this file directly.
 *
 * Wiping, all of it (messages on the signer port carry ECDH results):
 * the buffers here (a message being reassembled, a delivered message,
 * the send queue) are wiped before free; the adapters wipe their read
 * buffers after each read (server.c, client.c); OpenSSL wipes the
 * plaintext in its record buffer (SSL_OP_CLEANSE_PLAINTEXT, tls.c).  Not
 * wiped: nghttp2's own output buffer (our frames pass through it until
 * written) and its HPACK tables (header values such as the macaroon),
 * both freed by nghttp2, and what an owner copied out of a message.
 */
#include "common/common.h"
#include "rpc/rpc_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

const char *rpc_status_str(enum rpc_status st)
{
	switch (st) {
	case RPC_STATUS_OK: return "OK";
	case RPC_STATUS_CANCELLED: return "CANCELLED";
	case RPC_STATUS_UNKNOWN: return "UNKNOWN";
	case RPC_STATUS_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
	case RPC_STATUS_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
	case RPC_STATUS_NOT_FOUND: return "NOT_FOUND";
	case RPC_STATUS_ALREADY_EXISTS: return "ALREADY_EXISTS";
	case RPC_STATUS_PERMISSION_DENIED: return "PERMISSION_DENIED";
	case RPC_STATUS_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
	case RPC_STATUS_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
	case RPC_STATUS_ABORTED: return "ABORTED";
	case RPC_STATUS_OUT_OF_RANGE: return "OUT_OF_RANGE";
	case RPC_STATUS_UNIMPLEMENTED: return "UNIMPLEMENTED";
	case RPC_STATUS_INTERNAL: return "INTERNAL";
	case RPC_STATUS_UNAVAILABLE: return "UNAVAILABLE";
	case RPC_STATUS_DATA_LOSS: return "DATA_LOSS";
	case RPC_STATUS_UNAUTHENTICATED: return "UNAUTHENTICATED";
	}
	return "UNKNOWN";
}

void rpc_framer_init(struct rpc_framer *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
}

void rpc_framer_clear(struct rpc_framer *f)
{
	/* A partly received message may carry secrets (the signer's ECDH
	 * result): wiped before the memory goes back to malloc. */
	if (f->buf)
		sodium_memzero(f->buf, f->have);
	free(f->buf);
	f->buf = NULL;
	f->hdr_have = 0;
	f->have = 0;
	f->msg_len = 0;
}

bool rpc_framer_at_boundary(const struct rpc_framer *f)
{
	return f->hdr_have == 0;
}

void rpc_frame_prefix(uint8_t out[RPC_FRAME_HDR], uint32_t len)
{
	out[0] = 0;
	be32_put(out + 1, len);
}

struct rpc_sendq_buf {
	struct rpc_sendq_buf *next;
	size_t len, off;
	uint8_t data[];
};

/* Queued messages may carry secrets (the signer's ECDH result): wipe the
 * used bytes before the memory goes back to malloc. */
static void sendq_buf_free(struct rpc_sendq_buf *b)
{
	sodium_memzero(b->data, b->len);
	free(b);
}

bool rpc_sendq_push(struct rpc_sendq *q, const uint8_t *msg, size_t len)
{
	struct rpc_sendq_buf *b;

	if (len > UINT32_MAX)
		return false;
	b = malloc(sizeof(*b) + RPC_FRAME_HDR + len);
	if (!b)
		return false;
	b->next = NULL;
	b->off = 0;
	b->len = RPC_FRAME_HDR + len;
	rpc_frame_prefix(b->data, (uint32_t)len);
	if (len)
		memcpy(b->data + RPC_FRAME_HDR, msg, len);
	if (q->tail)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
	q->bytes += b->len;
	return true;
}

size_t rpc_sendq_pull(struct rpc_sendq *q, uint8_t *buf, size_t max)
{
	size_t n = 0;

	while (q->head && n < max) {
		struct rpc_sendq_buf *b = q->head;
		size_t k = b->len - b->off;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, b->data + b->off, k);
		b->off += k;
		n += k;
		if (b->off == b->len) {
			q->head = b->next;
			if (!q->head)
				q->tail = NULL;
			sendq_buf_free(b);
		}
	}
	q->bytes -= n;
	return n;
}

void rpc_sendq_clear(struct rpc_sendq *q)
{
	while (q->head) {
		struct rpc_sendq_buf *b = q->head;
		q->head = b->next;
		sendq_buf_free(b);
	}
	q->tail = NULL;
	q->bytes = 0;
}

enum rpc_frame_res rpc_framer_feed(struct rpc_framer *f, const uint8_t *data,
				   size_t len, rpc_frame_cb cb, void *arg)
{
	while (len > 0) {
		if (f->hdr_have < RPC_FRAME_HDR) {
			size_t n = RPC_FRAME_HDR - f->hdr_have;
			if (n > len)
				n = len;
			memcpy(f->hdr + f->hdr_have, data, n);
			f->hdr_have += n;
			data += n;
			len -= n;
			if (f->hdr_have < RPC_FRAME_HDR)
				break;
			/* "Compressed-Flag → 0 / 1": 1 needs a grpc-encoding
			 * we never accept, anything else is invalid. */
			if (f->hdr[0] == 1)
				return RPC_FRAME_COMPRESSED;
			if (f->hdr[0] != 0)
				return RPC_FRAME_BAD_FLAG;
			/* Checked before allocating: a prefix claiming 4 GiB
			 * costs us nothing. */
			f->msg_len = be32_get(f->hdr + 1);
			if (f->msg_len > f->max)
				return RPC_FRAME_TOO_BIG;
			f->have = 0;
			if (f->msg_len > 0) {
				f->buf = malloc(f->msg_len);
				if (!f->buf)
					return RPC_FRAME_TOO_BIG;
			}
		}
		size_t n = f->msg_len - f->have;
		if (n > len)
			n = len;
		if (n) {
			memcpy(f->buf + f->have, data, n);
			f->have += n;
			data += n;
			len -= n;
		}
		if (f->have < f->msg_len)
			break;
		/* Complete: reset before the callback, which may clear us. */
		uint8_t *msg = f->buf;
		size_t mlen = f->msg_len;
		f->buf = NULL;
		f->hdr_have = 0;
		f->have = 0;
		f->msg_len = 0;
		bool go_on = cb(arg, msg ? msg : (const uint8_t *)"", mlen);
		/* The callback copied what it keeps; wipe before free (secrets
		 * such as the signer's ECDH result pass through here). */
		if (msg)
			sodium_memzero(msg, mlen);
		free(msg);
		if (!go_on)
			return RPC_FRAME_STOPPED;
	}
	return RPC_FRAME_OK;
}

bool rpc_parse_grpc_timeout(double *secs, const char *v, size_t len)
{
	/* "TimeoutValue → {positive integer as ASCII string of at most eight
	 * digits}" */
	if (len < 2 || len > 9)
		return false;
	uint64_t n = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	double unit;
	switch (v[len - 1]) {
	case 'H': unit = 3600; break;
	case 'M': unit = 60; break;
	case 'S': unit = 1; break;
	case 'm': unit = 1e-3; break;
	case 'u': unit = 1e-6; break;
	case 'n': unit = 1e-9; break;
	default: return false;
	}
	*secs = (double)n * unit;
	return true;
}

char *rpc_percent_encode(const char *msg)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t len = strlen(msg);
	char *out = malloc(len * 3 + 1), *p = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)msg[i];
		if (c >= 0x20 && c <= 0x7e && c != '%') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hexd[c >> 4];
			*p++ = hexd[c & 15];
		}
	}
	*p = '\0';
	return out;
}

void rpc_percent_decode(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		int hi, lo;
		if (r[0] == '%' && (hi = hex_digit(r[1])) >= 0 &&
		    (lo = hex_digit(r[2])) >= 0) {
			*w++ = (char)(hi * 16 + lo);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

char *rpc_log_escape(const char *s, size_t max)
{
	static const char hexd[] = "0123456789abcdef";
	if (!s)
		s = "(null)";
	size_t len = strnlen(s, max + 1);
	bool cut = len > max;
	if (cut)
		len = max;
	char *out = malloc(len * 4 + 4), *p = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c <= 0x7e && c != '\\') {
			*p++ = (char)c;
		} else {
			*p++ = '\\';
			*p++ = 'x';
			*p++ = hexd[c >> 4];
			*p++ = hexd[c & 15];
		}
	}
	if (cut) {
		memcpy(p, "...", 3);
		p += 3;
	}
	*p = '\0';
	return out;
}
