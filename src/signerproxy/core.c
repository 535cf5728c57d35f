/*~ The signer proxy's pure part: which methods are forwarded where, and
 * what status each way a call can end becomes.
 *
 * The one rule every status here keeps: never UNAVAILABLE, never
 * DEADLINE_EXCEEDED.  lnd's rpcwallet.go:
 *
 *	case isStatusErr && statusErr.Code() == codes.DeadlineExceeded:
 *		log.Critical("RPC signing timed out: %v", err)
 *	case isStatusErr && statusErr.Code() == codes.Unavailable:
 *		log.Critical("RPC signing server not available: %v", err)
 *
 * and lnd's ShutdownLogger turns a Critical line into a shutdown.  Any
 * other code fails only the operation that asked (an ECDH fails one peer
 * handshake, a signature one channel update).
 */
#include "signerproxy/signerproxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Paths and permissions: lnd's signer_server.go / walletkit_server.go
 * macPermissions; members: lnd's watchonly.proto. */
static const struct spx_method_info methods[SPX_NUM_METHODS] = {
	[SPX_DERIVE_SHARED_KEY] = { "/signrpc.Signer/DeriveSharedKey",
				    "DeriveSharedKey", 4,
				    { "signer", "generate" } },
	[SPX_SIGN_MESSAGE] = { "/signrpc.Signer/SignMessage", "SignMessage", 5,
			       { "signer", "generate" } },
	[SPX_MUSIG2_CREATE_SESSION] = { "/signrpc.Signer/MuSig2CreateSession",
					"MuSig2CreateSession", 6,
					{ "signer", "generate" } },
	[SPX_MUSIG2_REGISTER_NONCES] = {
		"/signrpc.Signer/MuSig2RegisterNonces", "MuSig2RegisterNonces",
		7, { "signer", "generate" } },
	[SPX_MUSIG2_REGISTER_COMBINED_NONCE] = {
		"/signrpc.Signer/MuSig2RegisterCombinedNonce",
		"MuSig2RegisterCombinedNonce", 8, { "signer", "generate" } },
	[SPX_MUSIG2_GET_COMBINED_NONCE] = {
		"/signrpc.Signer/MuSig2GetCombinedNonce",
		"MuSig2GetCombinedNonce", 9, { "signer", "read" } },
	[SPX_MUSIG2_SIGN] = { "/signrpc.Signer/MuSig2Sign", "MuSig2Sign", 10,
			      { "signer", "generate" } },
	[SPX_MUSIG2_COMBINE_SIG] = { "/signrpc.Signer/MuSig2CombineSig",
				     "MuSig2CombineSig", 11,
				     { "signer", "generate" } },
	[SPX_MUSIG2_CLEANUP] = { "/signrpc.Signer/MuSig2Cleanup",
				 "MuSig2Cleanup", 12,
				 { "signer", "generate" } },
	[SPX_SIGN_PSBT] = { "/walletrpc.WalletKit/SignPsbt", "SignPsbt", 13,
			    { "onchain", "write" } },
};

const struct spx_method_info *spx_method_info(enum spx_method m)
{
	if ((unsigned)m >= SPX_NUM_METHODS)
		abort();
	return &methods[m];
}

bool spx_method_lookup(enum spx_method *out, const char *path)
{
	for (unsigned i = 0; i < SPX_NUM_METHODS; i++) {
		if (strcmp(methods[i].path, path) == 0) {
			*out = (enum spx_method)i;
			return true;
		}
	}
	return false;
}

const char *spx_outcome_str(enum spx_outcome o)
{
	switch (o) {
	case SPX_OUT_OK:
		return "ok";
	case SPX_OUT_SIGNER_ERROR:
		return "signer_error";
	case SPX_OUT_AWAY:
		return "signer_away";
	case SPX_OUT_LOST:
		return "signer_lost";
	case SPX_OUT_SLOW:
		return "signer_slow";
	case SPX_OUT_BAD_REPLY:
		return "bad_reply";
	case SPX_OUT_CANCELLED:
		return "cancelled";
	}
	return "?";
}

static void set(struct spx_verdict *out, enum spx_outcome o,
		enum rpc_status st)
{
	out->outcome = o;
	out->status = st;
	out->msg[0] = '\0';
}

void spx_decide_slow(struct spx_verdict *out, enum spx_method m, bool sent)
{
	const char *name = spx_method_info(m)->name;

	if (sent) {
		/* ABORTED: the signer may still act on it; lnd must not
		 * retry blindly (a MuSig2 nonce is used once). */
		set(out, SPX_OUT_SLOW, RPC_STATUS_ABORTED);
		snprintf(out->msg, sizeof(out->msg),
			 "remote signer did not answer %s before the caller's "
			 "deadline (coldnode signer proxy)", name);
	} else {
		set(out, SPX_OUT_AWAY, RPC_STATUS_FAILED_PRECONDITION);
		snprintf(out->msg, sizeof(out->msg),
			 "remote signer is away: no signer connected to "
			 "coldnode before the caller's deadline (%s not sent)",
			 name);
	}
}

void spx_decide(struct spx_verdict *out, enum spx_method m,
		const struct sv_fwd_answer *a, double hold)
{
	const struct spx_method_info *mi = spx_method_info(m);

	switch (a->result) {
	case SV_OK:
		if (a->field == mi->field) {
			set(out, SPX_OUT_OK, RPC_STATUS_OK);
			return;
		}
		/* lnd's SignCoordinator: ErrUnexpectedResponse. */
		set(out, SPX_OUT_BAD_REPLY, RPC_STATUS_INTERNAL);
		snprintf(out->msg, sizeof(out->msg),
			 "unexpected response type: remote signer answered %s "
			 "with member %u, expected %u", mi->name, a->field,
			 mi->field);
		return;
	case SV_ERR_SIGNER:
		/* What a dialled signer's own gRPC error would be: code
		 * Unknown (a Go error from the handler), its text. */
		set(out, SPX_OUT_SIGNER_ERROR, RPC_STATUS_UNKNOWN);
		snprintf(out->msg, sizeof(out->msg), "%s",
			 a->error ? a->error : "remote signer error");
		return;
	case SV_ERR_UNAVAILABLE:
		if (a->sent) {
			set(out, SPX_OUT_LOST, RPC_STATUS_ABORTED);
			snprintf(out->msg, sizeof(out->msg),
				 "remote signer went away with %s in flight; "
				 "not retried (coldnode signer proxy)",
				 mi->name);
		} else {
			set(out, SPX_OUT_AWAY, RPC_STATUS_FAILED_PRECONDITION);
			snprintf(out->msg, sizeof(out->msg),
				 "remote signer is away: no signer connected "
				 "to coldnode within the %.1fs hold time (%s "
				 "not sent)", hold, mi->name);
		}
		return;
	case SV_ERR_TIMEOUT:
		/* --signer.requesttimeout: the supervisor dropped it. */
		set(out, SPX_OUT_SLOW, RPC_STATUS_ABORTED);
		snprintf(out->msg, sizeof(out->msg),
			 "remote signer did not answer %s in time and was "
			 "disconnected (coldnode signer proxy)", mi->name);
		return;
	case SV_ERR_BAD_REPLY:
		set(out, SPX_OUT_BAD_REPLY, RPC_STATUS_INTERNAL);
		snprintf(out->msg, sizeof(out->msg),
			 "unexpected response type: remote signer answered %s "
			 "with a non-signing message", mi->name);
		return;
	case SV_ERR_CANCELLED:
		set(out, SPX_OUT_CANCELLED, RPC_STATUS_CANCELLED);
		snprintf(out->msg, sizeof(out->msg), "cancelled");
		return;
	case SV_ERR_BUSY:
		/* Only sv_ecdh_inbound gets it, never a forwarded request;
		 * were it to, it was not sent: not a status lnd acts on. */
		set(out, SPX_OUT_AWAY, RPC_STATUS_RESOURCE_EXHAUSTED);
		snprintf(out->msg, sizeof(out->msg),
			 "coldnode is busy: %s not sent", mi->name);
		return;
	}
	abort();
}
