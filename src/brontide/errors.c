/*~ Names and messages for enum brontide_err.  The ACT* names are the ones
 * the BOLT 8 test vectors print as expected_error, so tests compare them
 * directly. */
#include <stdio.h>

#include "brontide/brontide_internal.h"

const char *brontide_errname(enum brontide_err err)
{
	switch (err) {
	case BRONTIDE_OK: return "OK";
	case BRONTIDE_NEED_ECDH: return "NEED_ECDH";
	case BRONTIDE_ERR_ACT1_READ_FAILED: return "ACT1_READ_FAILED";
	case BRONTIDE_ERR_ACT1_BAD_VERSION: return "ACT1_BAD_VERSION";
	case BRONTIDE_ERR_ACT1_BAD_PUBKEY: return "ACT1_BAD_PUBKEY";
	case BRONTIDE_ERR_ACT1_BAD_TAG: return "ACT1_BAD_TAG";
	case BRONTIDE_ERR_ACT2_READ_FAILED: return "ACT2_READ_FAILED";
	case BRONTIDE_ERR_ACT2_BAD_VERSION: return "ACT2_BAD_VERSION";
	case BRONTIDE_ERR_ACT2_BAD_PUBKEY: return "ACT2_BAD_PUBKEY";
	case BRONTIDE_ERR_ACT2_BAD_TAG: return "ACT2_BAD_TAG";
	case BRONTIDE_ERR_ACT3_READ_FAILED: return "ACT3_READ_FAILED";
	case BRONTIDE_ERR_ACT3_BAD_VERSION: return "ACT3_BAD_VERSION";
	case BRONTIDE_ERR_ACT3_BAD_CIPHERTEXT: return "ACT3_BAD_CIPHERTEXT";
	case BRONTIDE_ERR_ACT3_BAD_PUBKEY: return "ACT3_BAD_PUBKEY";
	case BRONTIDE_ERR_ACT3_BAD_TAG: return "ACT3_BAD_TAG";
	case BRONTIDE_ERR_ECDH_FAILED: return "ECDH_FAILED";
	case BRONTIDE_ERR_HANDSHAKE_TIMEOUT: return "HANDSHAKE_TIMEOUT";
	case BRONTIDE_ERR_BAD_LENGTH_TAG: return "BAD_LENGTH_TAG";
	case BRONTIDE_ERR_BAD_BODY_TAG: return "BAD_BODY_TAG";
	case BRONTIDE_ERR_MSG_TOO_LONG: return "MSG_TOO_LONG";
	case BRONTIDE_ERR_IO: return "IO";
	case BRONTIDE_ERR_EOF: return "EOF";
	case BRONTIDE_ERR_BUFFER_FULL: return "BUFFER_FULL";
	case BRONTIDE_ERR_NOMEM: return "NOMEM";
	}
	return "UNKNOWN";
}

const char *brontide_strerror(enum brontide_err err)
{
	switch (err) {
	case BRONTIDE_OK: return "OK: success";
	case BRONTIDE_NEED_ECDH: return "NEED_ECDH: waiting for the node key ECDH";
	case BRONTIDE_ERR_ACT1_READ_FAILED: return "ACT1_READ_FAILED: act one short or unreadable";
	case BRONTIDE_ERR_ACT1_BAD_VERSION: return "ACT1_BAD_VERSION: act one has an unknown version";
	case BRONTIDE_ERR_ACT1_BAD_PUBKEY: return "ACT1_BAD_PUBKEY: act one ephemeral key is not a valid point";
	case BRONTIDE_ERR_ACT1_BAD_TAG: return "ACT1_BAD_TAG: act one MAC check failed";
	case BRONTIDE_ERR_ACT2_READ_FAILED: return "ACT2_READ_FAILED: act two short or unreadable";
	case BRONTIDE_ERR_ACT2_BAD_VERSION: return "ACT2_BAD_VERSION: act two has an unknown version";
	case BRONTIDE_ERR_ACT2_BAD_PUBKEY: return "ACT2_BAD_PUBKEY: act two ephemeral key is not a valid point";
	case BRONTIDE_ERR_ACT2_BAD_TAG: return "ACT2_BAD_TAG: act two MAC check failed";
	case BRONTIDE_ERR_ACT3_READ_FAILED: return "ACT3_READ_FAILED: act three short or unreadable";
	case BRONTIDE_ERR_ACT3_BAD_VERSION: return "ACT3_BAD_VERSION: act three has an unknown version";
	case BRONTIDE_ERR_ACT3_BAD_CIPHERTEXT: return "ACT3_BAD_CIPHERTEXT: act three static key MAC check failed";
	case BRONTIDE_ERR_ACT3_BAD_PUBKEY: return "ACT3_BAD_PUBKEY: act three static key is not a valid point";
	case BRONTIDE_ERR_ACT3_BAD_TAG: return "ACT3_BAD_TAG: act three MAC check failed";
	case BRONTIDE_ERR_ECDH_FAILED: return "ECDH_FAILED: the node key ECDH was refused";
	case BRONTIDE_ERR_HANDSHAKE_TIMEOUT: return "HANDSHAKE_TIMEOUT: handshake took too long";
	case BRONTIDE_ERR_BAD_LENGTH_TAG: return "BAD_LENGTH_TAG: message length MAC check failed";
	case BRONTIDE_ERR_BAD_BODY_TAG: return "BAD_BODY_TAG: message body MAC check failed";
	case BRONTIDE_ERR_MSG_TOO_LONG: return "MSG_TOO_LONG: message over 65535 bytes";
	case BRONTIDE_ERR_IO: return "IO: socket error";
	case BRONTIDE_ERR_EOF: return "EOF: peer closed the connection";
	case BRONTIDE_ERR_BUFFER_FULL: return "BUFFER_FULL: send queue is full";
	case BRONTIDE_ERR_NOMEM: return "NOMEM: out of memory";
	}
	return "UNKNOWN: unknown brontide error";
}

void brontide_abort(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: brontide API misuse: %s\n", file, line, what);
	abort();
}
