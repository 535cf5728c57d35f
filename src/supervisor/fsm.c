/*~ The supervisor's state machine, as one pure function.
 *
 * Every decision about what to do when the signer comes or goes is here,
 * so it can be tested exhaustively without sockets; supervisor.c only
 * applies the actions.  The safety rule it encodes: whenever the signer
 * is gone, everything that was waiting on it fails at once and every
 * `full` peer session (which needs signatures) is closed, while
 * gossip-only sessions are left alone.
 */
#include "supervisor/supervisor.h"

/* What losing the signer always does, whatever the state. */
#define LOSS_ACTIONS \
	(SV_ACT_NEXT_GENERATION | SV_ACT_FAIL_SENT | SV_ACT_DENY_FULL | \
	 SV_ACT_CLOSE_FULL)
/* What a usable key always does. */
#define READY_ACTIONS \
	(SV_ACT_ALLOW_FULL | SV_ACT_USE_EARLY | SV_ACT_SEND_QUEUED | \
	 SV_ACT_IDENTITY_DIALS | SV_ACT_REDIAL)
/* Safe mode: the node key is gone for now. */
#define SAFE_ACTIONS (LOSS_ACTIONS | SV_ACT_SAFE_DIALS)
/* A standby took over: same state, new signer session, the unanswered
 * requests go to it. */
#define FAILOVER_ACTIONS (SV_ACT_NEXT_GENERATION | SV_ACT_RESEND_SENT)
#define SHUTDOWN_ACTIONS \
	(SV_ACT_NEXT_GENERATION | SV_ACT_FAIL_SENT | SV_ACT_FAIL_QUEUED | \
	 SV_ACT_DENY_FULL | SV_ACT_DROP_SIGNER)

static struct sv_step step(enum sv_state next, unsigned actions)
{
	struct sv_step s = { .next = next, .actions = actions, .valid = true };
	return s;
}

static struct sv_step invalid(enum sv_state state)
{
	struct sv_step s = { .next = state, .actions = 0, .valid = false };
	return s;
}

struct sv_step sv_fsm_step(enum sv_state state, enum sv_event ev)
{
	switch (state) {
	case SV_WAITING_FOR_SIGNER:
		switch (ev) {
		case SV_EV_LOCAL_KEY:
		case SV_EV_SIGNER_READY:
			return step(SV_ACTIVE, READY_ACTIONS);
		case SV_EV_SIGNER_LOST:
			/* A signer that never got through registration: no
			 * full session can exist, but close defensively. */
			return step(SV_WAITING_FOR_SIGNER, LOSS_ACTIONS);
		case SV_EV_SHUTDOWN:
			return step(SV_SHUTTING_DOWN, SHUTDOWN_ACTIONS);
		case SV_EV_FAILOVER:
			/* No active signer to fail over from. */
			return invalid(state);
		}
		break;
	case SV_ACTIVE:
		switch (ev) {
		case SV_EV_LOCAL_KEY:
		case SV_EV_SIGNER_READY:
			/* A second signer that passes its key check while
			 * one is active becomes standby: no event. */
			return invalid(state);
		case SV_EV_SIGNER_LOST:
			return step(SV_SAFE_MODE, SAFE_ACTIONS);
		case SV_EV_SHUTDOWN:
			return step(SV_SHUTTING_DOWN, SHUTDOWN_ACTIONS);
		case SV_EV_FAILOVER:
			/* Full sessions stay: the key is still here. */
			return step(SV_ACTIVE, FAILOVER_ACTIONS);
		}
		break;
	case SV_SAFE_MODE:
		switch (ev) {
		case SV_EV_LOCAL_KEY:
			/* Local mode never leaves ACTIVE. */
			return invalid(state);
		case SV_EV_SIGNER_READY:
			return step(SV_ACTIVE, READY_ACTIONS);
		case SV_EV_SIGNER_LOST:
			return step(SV_SAFE_MODE, SAFE_ACTIONS);
		case SV_EV_SHUTDOWN:
			return step(SV_SHUTTING_DOWN, SHUTDOWN_ACTIONS);
		case SV_EV_FAILOVER:
			/* No active signer to fail over from. */
			return invalid(state);
		}
		break;
	case SV_SHUTTING_DOWN:
		switch (ev) {
		case SV_EV_LOCAL_KEY:
		case SV_EV_SIGNER_READY:
			return invalid(state);
		case SV_EV_SIGNER_LOST:
		case SV_EV_SHUTDOWN:
		case SV_EV_FAILOVER:
			/* Streams end while we tear down: nothing more. */
			return step(SV_SHUTTING_DOWN, 0);
		}
		break;
	}
	return invalid(state);
}

const char *sv_state_str(enum sv_state state)
{
	switch (state) {
	case SV_WAITING_FOR_SIGNER:
		return "WAITING_FOR_SIGNER";
	case SV_ACTIVE:
		return "ACTIVE";
	case SV_SAFE_MODE:
		return "SAFE_MODE";
	case SV_SHUTTING_DOWN:
		return "SHUTTING_DOWN";
	}
	return "INVALID";
}

const char *sv_event_str(enum sv_event ev)
{
	switch (ev) {
	case SV_EV_LOCAL_KEY:
		return "LOCAL_KEY";
	case SV_EV_SIGNER_READY:
		return "SIGNER_READY";
	case SV_EV_SIGNER_LOST:
		return "SIGNER_LOST";
	case SV_EV_SHUTDOWN:
		return "SHUTDOWN";
	case SV_EV_FAILOVER:
		return "FAILOVER";
	}
	return "INVALID";
}
