/*~ datadir: what the RPC needs on disk, made on first start like lnd does:
 * tls.cert/tls.key (self-signed P-256), macaroons.key (32-byte root key,
 * 0600) and admin/readonly/monitor.macaroon (0600).  Existing files are
 * never overwritten: delete them to regenerate.
 */
#include "rpc/rpc_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SUBSYS "RPC"

/* lnd's entities; admin gets read+write on each, readonly just read. */
static const char *const entities[] = {
	"address", "info", "invoices", "macaroon", "message", "offchain",
	"onchain", "peers", "signer",
};

static const struct rpc_perm monitor_perms[] = {
	{ "info", "read" },
	{ "onchain", "read" },
};

char *rpc_path_join(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, file);
	return p;
}

static bool bake_to(const struct rpc_macaroon_svc *svc, const char *datadir,
		    const char *file, const struct rpc_perm *perms, size_t n)
{
	char *path = rpc_path_join(datadir, file);
	bool ok, wrote;

	if (!path)
		return false;
	ok = rpc_macaroon_bake_file(svc, path, perms, n, &wrote);
	if (wrote)
		log_info(SUBSYS, "wrote %s", path);
	free(path);
	return ok;
}

bool rpc_datadir_macaroons(const struct rpc_macaroon_svc *svc,
			   const char *datadir)
{
	struct rpc_perm admin[2 * CN_ARRAY_SIZE(entities) + 1];
	struct rpc_perm ro[CN_ARRAY_SIZE(entities)];
	size_t na = 0;

	for (size_t i = 0; i < CN_ARRAY_SIZE(entities); i++) {
		admin[na++] = (struct rpc_perm){ entities[i], "read" };
		admin[na++] = (struct rpc_perm){ entities[i], "write" };
		ro[i] = (struct rpc_perm){ entities[i], "read" };
	}
	/* lnd's admin macaroon may also bake new macaroons. */
	admin[na++] = (struct rpc_perm){ "macaroon", "generate" };
	return bake_to(svc, datadir, "admin.macaroon", admin, na) &&
	       bake_to(svc, datadir, "readonly.macaroon", ro,
		       CN_ARRAY_SIZE(ro)) &&
	       bake_to(svc, datadir, "monitor.macaroon", monitor_perms,
		       CN_ARRAY_SIZE(monitor_perms));
}

bool rpc_datadir_ensure(const char *datadir)
{
	struct stat st;
	if (stat(datadir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			log_unusual(SUBSYS, "%s is not a directory", datadir);
			return false;
		}
		return true;
	}
	if (mkdir(datadir, 0700) != 0 && errno != EEXIST) {
		log_unusual(SUBSYS, "cannot create %s: %s", datadir,
			    strerror(errno));
		return false;
	}
	return true;
}
