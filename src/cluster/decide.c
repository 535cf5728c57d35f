/*~ The leadership decision: pure, tested by table (tests/cluster).
 *
 * Lead only while both hold:
 *   - our key is the lowest create revision under the prefix (etcd's
 *     election recipe: "the key with the smallest creation revision is
 *     the leader"); a lower key cannot appear later (revisions only grow),
 *     so a view in which ours is lowest stays true while our key lives;
 *   - now < confirmed_sent + ttl - margin.  etcd's lessor sets the expiry
 *     to (its time of handling the renewal) + TTL, and it handles the
 *     renewal after we sent it, so our deadline falls before etcd can
 *     delete our key and wake a standby.  The margin covers the two
 *     clocks' rates and the time we take to close what a leader holds.
 */
#include "cluster/cluster.h"

#include <stdlib.h>

const char *cl_role_str(enum cl_role r)
{
	switch (r) {
	case CL_STANDBY:
		return "standby";
	case CL_LEADER:
		return "leader";
	}
	abort();
}

double cl_margin(double ttl)
{
	double m = ttl / 5;
	return m < 0.5 ? 0.5 : m;
}

struct cl_decision cl_decide(const struct cl_input *in)
{
	struct cl_decision d = { .role = CL_STANDBY, .until = 0 };
	double until;

	if (!in->have_lease) {
		d.why = "no etcd lease";
		return d;
	}
	until = in->confirmed_sent + in->ttl - in->margin;
	if (in->ttl <= 0 || !(in->now < until)) {
		d.why = "lease renewal not confirmed within TTL minus margin";
		return d;
	}
	if (in->my_rev <= 0) {
		d.why = "no election key yet";
		return d;
	}
	if (in->lowest_rev <= 0) {
		d.why = "no view of the election prefix yet";
		return d;
	}
	if (in->lowest_rev < in->my_rev) {
		d.why = "another instance's key is older";
		return d;
	}
	if (in->lowest_rev > in->my_rev) {
		/* Our key is not in the view: deleted (lease gone) or the view
		 * predates it.  Either way, not proof we lead. */
		d.why = "our election key is missing from the view";
		return d;
	}
	d.role = CL_LEADER;
	d.until = until;
	d.why = "our key has the lowest create revision";
	return d;
}
