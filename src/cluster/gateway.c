/*~ etcd v3 JSON gateway codec (etcd 3.4's grpc-gateway), pure.
 *
 * Facts this relies on, each checked against etcd 3.4.23 (tests/cluster):
 *   - keys and values are base64 ("bytes" in proto3 JSON);
 *   - int64 fields are JSON strings ("revision":"7");
 *   - fields with default values are left out: a keepalive for a lease
 *     that no longer exists answers {"result":{"header":..,"ID":".."}}
 *     with no TTL, a PUT event has no "type";
 *   - lease/keepalive and watch answers are wrapped in {"result":..};
 *   - errors come as {"error":"..","code":N} (and an HTTP error status).
 * jansson (already the chain module's parser) reads them.
 */
#include "cluster/cluster.h"

#include <jansson.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cl_gw_b64(const char *s, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len,
					       sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(cap);

	if (!out)
		return NULL;
	sodium_bin2base64(out, cap, (const unsigned char *)s, len,
			  sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/* Decode base64 @b into @out (NUL-terminated); false if it does not fit
 * or is not base64. */
static bool unb64(char *out, size_t cap, const char *b)
{
	size_t n;

	if (!b || sodium_base642bin((unsigned char *)out, cap - 1, b,
				    strlen(b), NULL, &n, NULL,
				    sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	out[n] = '\0';
	return true;
}

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static json_t *i64(int64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_string(buf);
}

/* A proto3 int64: a string, or (tolerated) a number; absent is 0. */
static int64_t get_i64(const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

static json_t *b64s(const char *s)
{
	char *b = cl_gw_b64(s, strlen(s));
	json_t *j = b ? json_string(b) : NULL;
	free(b);
	return j;
}

char *cl_gw_grant(double ttl)
{
	int64_t t = (int64_t)(ttl + 0.999);
	return dump(json_pack("{s:o}", "TTL", i64(t)));
}

char *cl_gw_keepalive(int64_t lease)
{
	return dump(json_pack("{s:o}", "ID", i64(lease)));
}

char *cl_gw_revoke(int64_t lease)
{
	return dump(json_pack("{s:o}", "ID", i64(lease)));
}

char *cl_gw_campaign(const char *key, const char *value, int64_t lease)
{
	return dump(json_pack(
		"{s:[{s:o,s:s,s:s}],s:[{s:{s:o,s:o,s:o}}],s:[{s:{s:o}}]}",
		"compare", "key", b64s(key), "target", "CREATE",
		"create_revision", "0",
		"success", "request_put", "key", b64s(key), "value",
		b64s(value), "lease", i64(lease),
		"failure", "request_range", "key", b64s(key)));
}

/* The end of a prefix range: the prefix with its last byte plus one. */
char *cl_gw_range_prefix(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end = strdup(prefix);
	char *s;

	if (!end || !n) {
		free(end);
		return NULL;
	}
	end[n - 1]++;
	s = dump(json_pack("{s:o,s:o,s:s,s:s}", "key", b64s(prefix),
			   "range_end", b64s(end), "sort_order", "ASCEND",
			   "sort_target", "CREATE"));
	free(end);
	return s;
}

char *cl_gw_watch(const char *key, int64_t start_rev)
{
	return dump(json_pack("{s:{s:o,s:o}}", "create_request", "key",
			      b64s(key), "start_revision", i64(start_rev)));
}

char *cl_gw_authenticate(const char *user, const char *pass)
{
	return dump(json_pack("{s:s,s:s}", "name", user, "password", pass));
}

char *cl_gw_value(const char *id, const char *signer)
{
	return dump(json_pack("{s:s,s:s}", "id", id, "signer",
			      signer ? signer : ""));
}

static json_t *load(char *err, size_t errlen, const char *json, size_t len)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, 0, &je);
	const json_t *e;

	if (!json_is_object(root)) {
		snprintf(err, errlen, "etcd answer is not JSON: %.100s",
			 root ? "not an object" : je.text);
		json_decref(root);
		return NULL;
	}
	e = json_object_get(root, "error");
	if (e) {
		snprintf(err, errlen, "%s",
			 json_is_string(e) ? json_string_value(e)
					   : "etcd error");
		json_decref(root);
		return NULL;
	}
	return root;
}

void cl_gw_parse(struct cl_gw_answer *out, const char *json, size_t len,
		 const char *my_key)
{
	json_t *root, *r;

	memset(out, 0, sizeof(*out));
	root = load(out->error, sizeof(out->error), json, len);
	if (!root)
		return;
	/* keepalive wraps its answer in "result". */
	r = json_object_get(root, "result");
	if (!json_is_object(r))
		r = root;
	if (json_object_get(r, "error")) {
		const json_t *e = json_object_get(r, "error");
		snprintf(out->error, sizeof(out->error), "%s",
			 json_is_string(e) ? json_string_value(e)
					   : "etcd error");
		json_decref(root);
		return;
	}
	out->revision = get_i64(json_object_get(r, "header"), "revision");
	out->lease = get_i64(r, "ID");
	out->ttl = get_i64(r, "TTL");
	out->succeeded = json_is_true(json_object_get(r, "succeeded"));
	const json_t *tok = json_object_get(r, "token");
	if (json_is_string(tok))
		snprintf(out->token, sizeof(out->token), "%s",
			 json_string_value(tok));
	if (my_key) {
		if (out->succeeded) {
			/* The put ran at the txn's revision. */
			out->create_rev = out->revision;
		} else {
			/* Read back: responses[0].response_range.kvs[0]. */
			const json_t *rr = json_object_get(
				json_array_get(json_object_get(r, "responses"),
					       0),
				"response_range");
			const json_t *kv = json_array_get(
				json_object_get(rr, "kvs"), 0);
			out->create_rev = get_i64(kv, "create_revision");
		}
	}
	out->ok = true;
	json_decref(root);
}

void cl_gw_parse_range(struct cl_gw_range *out, const char *json,
		       size_t len)
{
	json_t *root;
	const json_t *kvs, *kv;
	size_t i;

	memset(out, 0, sizeof(*out));
	root = load(out->error, sizeof(out->error), json, len);
	if (!root)
		return;
	out->revision = get_i64(json_object_get(root, "header"), "revision");
	kvs = json_object_get(root, "kvs");
	json_array_foreach(kvs, i, kv) {
		struct cl_gw_kv *k;
		char val[512];
		json_t *v;

		if (out->n == CL_GW_MAX_KEYS)
			break;
		k = &out->kv[out->n];
		memset(k, 0, sizeof(*k));
		if (!unb64(k->key, sizeof(k->key),
			   json_string_value(json_object_get(kv, "key"))))
			continue;
		k->create_rev = get_i64(kv, "create_revision");
		if (unb64(val, sizeof(val),
			  json_string_value(json_object_get(kv, "value"))) &&
		    (v = json_loads(val, 0, NULL))) {
			const char *id = json_string_value(
				json_object_get(v, "id"));
			const char *sg = json_string_value(
				json_object_get(v, "signer"));
			snprintf(k->id, sizeof(k->id), "%s", id ? id : "");
			snprintf(k->signer, sizeof(k->signer), "%s",
				 sg ? sg : "");
			json_decref(v);
		}
		out->n++;
	}
	out->ok = true;
	json_decref(root);
}

enum cl_gw_watch_ev cl_gw_parse_watch(const char *line, size_t len)
{
	json_t *root = json_loadb(line, len, 0, NULL);
	const json_t *r, *evs, *ev;
	enum cl_gw_watch_ev res = CL_GW_WATCH_OTHER;
	size_t i;

	if (!json_is_object(root)) {
		json_decref(root);
		return CL_GW_WATCH_ENDED;
	}
	r = json_object_get(root, "result");
	if (json_object_get(root, "error") || !json_is_object(r)) {
		json_decref(root);
		return CL_GW_WATCH_ENDED;
	}
	if (json_is_true(json_object_get(r, "canceled")) ||
	    get_i64(r, "compact_revision") > 0)
		res = CL_GW_WATCH_ENDED;
	else if (json_is_true(json_object_get(r, "created")))
		res = CL_GW_WATCH_CREATED;
	evs = json_object_get(r, "events");
	json_array_foreach(evs, i, ev) {
		const char *t = json_string_value(json_object_get(ev, "type"));
		if (t && !strcmp(t, "DELETE"))
			res = CL_GW_WATCH_DELETED;
	}
	json_decref(root);
	return res;
}
