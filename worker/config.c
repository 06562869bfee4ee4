/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "config"
#include "worker/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/compat.h"
#include "common/parse.h"
#include "protocol/sql_table.h"
#include "sandbox/hostlimits.h"
#include "template/template.h"

enum cfg_type {
	CFG_STRING,
	CFG_U32,
	CFG_LOG_LEVEL,
	CFG_RUNNER,
	CFG_GROUP,
	CFG_LIST,
	CFG_DURATION,
	CFG_SIZE,
	CFG_U64,
	CFG_CHOICE, /* a string, one of `choices` */
	CFG_ACCESS, /* storage or controller: enum kwg_worker_access */
	CFG_BOOL,
	CFG_NAME,       /* [A-Za-z0-9_.-]{0,200}; "" = unset */
	CFG_TABLE,      /* an SQL table name, TABLE or SCHEMA.TABLE (protocol/sql_table.h) */
	CFG_HOST_PORT,  /* HOST:PORT or [IPV6]:PORT (common/parse.h); "" = unset */
	CFG_BASIC_AUTH, /* USER:PASSWORD, one line, the user not empty; "" = unset */
};

struct cfg_key {
	const char *key; /* file key; KWG_<KEY> and --<key-with-dashes> derive from it */
	enum cfg_type type;
	size_t offset;
	const char *def; /* NULL: unset */
	uint32_t min, max;
	bool secret; /* also KWG_<KEY>_FILE; never logged */
	const char *help;
	const char *const *choices; /* CFG_CHOICE: the accepted values, NULL-terminated */
};

static const char *const strategies[] = {"NEVER", "IMMEDIATELY", "AFTER_TERMINATION_GRACE_PERIOD",
                                         NULL};
static const char *const profiles[] = {"default", "strict", "container", "none", NULL};
static const char *const storages[] = {"none", "local", "s3", "minio", NULL};

#define OFF(f) offsetof(struct kwg_config, f)
static const struct cfg_key keys_table[] = {
    {"database_url", CFG_STRING, OFF(database_url), NULL, 0, 0, true,
     "libpq URL or conninfo of Kestra's PostgreSQL database (required)", NULL},
    {"controller", CFG_HOST_PORT, OFF(controller), NULL, 0, 0, false,
     "Kestra 2.x: the worker controller's HOST:PORT (gRPC, port 50051 by default); the worker "
     "then needs no database_url",
     NULL},
    {"controller_basic_auth", CFG_BASIC_AUTH, OFF(controller_basic_auth), NULL, 0, 0, true,
     "Kestra 2.x: USERNAME:PASSWORD of the controller's kestra.grpc.basicAuth (sent as HTTP "
     "Basic on every call); from a file: --controller-basic-auth-file",
     NULL},
    {"controller_tls", CFG_BOOL, OFF(controller_tls), "false", 0, 0, false,
     "Kestra 2.x: reach the controller over TLS (ALPN h2; its certificate verified); false: "
     "plaintext HTTP/2 as an open-source controller serves it",
     NULL},
    {"controller_ca_file", CFG_STRING, OFF(controller_ca_file), NULL, 0, 0, false,
     "controller TLS: PEM file of the CAs that may sign the controller's certificate (default: "
     "the system's store)",
     NULL},
    {"controller_cert_file", CFG_STRING, OFF(controller_cert_file), NULL, 0, 0, false,
     "controller TLS: PEM client certificate (chain) for a controller asking for one; with "
     "controller_key_file",
     NULL},
    {"controller_key_file", CFG_STRING, OFF(controller_key_file), NULL, 0, 0, false,
     "controller TLS: PEM private key of controller_cert_file", NULL},
    {"controller_authority", CFG_STRING, OFF(controller_authority), NULL, 0, 0, false,
     "Kestra 2.x: the name sent as :authority (and, with TLS, as SNI and verified in the "
     "certificate) instead of the controller's HOST:PORT",
     NULL},
    {"kv_worker_access", CFG_ACCESS, OFF(kv_worker_access), "storage", 0, 0, false,
     "Kestra 2.x: where kv() reads KV values, as Kestra's kestra.kv.workerAccess: storage (the "
     "internal storage) or controller (KVStoreService through the controller; needs "
     "--controller)",
     NULL},
    {"namespace_files_worker_access", CFG_ACCESS, OFF(namespace_files_worker_access), "storage", 0,
     0, false,
     "Kestra 2.x: where namespace-file contents are read, as Kestra's "
     "kestra.namespace-files.worker-access: storage or controller (NamespaceFileContentService "
     "through the controller; needs --controller)",
     NULL},
    {"group", CFG_GROUP, OFF(group), NULL, 0, 0, false,
     "worker group key [a-zA-Z0-9_-]+; none = the default group", NULL},
    {"kestra_queue_prefix", CFG_NAME, OFF(kestra_queue_prefix), NULL, 0, 0, false,
     "Kestra 2.x: kestra.queue.prefix as Kestra is configured (queue names become "
     "<prefix>__worker_job_event …); default none",
     NULL},
    {"kestra_queue_table", CFG_TABLE, OFF(kestra_queue_table), KWG_SQL_TABLE_DEFAULT, 0, 0, false,
     "Kestra's queue table as Kestra is configured (1.x kestra.jdbc.tables.queues.table, 2.x "
     "kestra.queue.jdbc.table): TABLE or SCHEMA.TABLE",
     NULL},
    {"concurrency", CFG_U32, OFF(concurrency), "8", 1, 1024, false, "tasks run at once (1-1024)",
     NULL},
    {"log_level", CFG_LOG_LEVEL, OFF(log_level), "info", 0, 0, false,
     "error, warning, notice, info or debug", NULL},
    {"default_runner", CFG_RUNNER, OFF(default_runner), "docker", 0, 0, false,
     "runner of script tasks without taskRunner: process or docker", NULL},
    {"work_dir", CFG_STRING, OFF(work_dir), NULL, 0, 0, false,
     "where task working directories are made (default $TMPDIR or /tmp)", NULL},
    {"task_env_passthrough", CFG_LIST, OFF(task_env_passthrough), NULL, 0, 0, false,
     "comma-separated variable names copied into Process tasks", NULL},
    {"heartbeat_interval", CFG_DURATION, OFF(heartbeat_interval_ms), "3s", 100, 0, false,
     "how often the worker writes its service_instance heartbeat", NULL},
    {"liveness_timeout", CFG_DURATION, OFF(liveness_timeout_ms), "60s", 1000, 0, false,
     "no heartbeat for this long: Kestra declares the worker gone (it stops itself too)", NULL},
    {"liveness_interval", CFG_DURATION, OFF(liveness_interval_ms), "10s", 100, 0, false,
     "the executor's liveness check period, published in the worker's record", NULL},
    {"liveness_initial_delay", CFG_DURATION, OFF(liveness_initial_delay_ms), "60s", 0, 0, false,
     "grace before the executor judges a new worker, published in its record", NULL},
    {"termination_grace_period", CFG_DURATION, OFF(termination_grace_period_ms), "5m", 0, 0, false,
     "on SIGTERM, how long running tasks may finish before they are stopped", NULL},
    {"restart_strategy", CFG_CHOICE, OFF(restart_strategy), "AFTER_TERMINATION_GRACE_PERIOD", 0, 0,
     false, "NEVER, IMMEDIATELY or AFTER_TERMINATION_GRACE_PERIOD (workerTaskRestartStrategy)",
     strategies},
    {"management_port", CFG_U32, OFF(management_port), "8081", 0, 65535, false,
     "HTTP port of /health and /metrics; 0 turns it off", NULL},
    {"sandbox", CFG_CHOICE, OFF(sandbox), "default", 0, 0, false,
     "Process task sandbox: default, strict, container (no namespaces) or none (no isolation)",
     profiles},
    {"sandbox_user", CFG_STRING, OFF(sandbox_user), "", 0, 0, false,
     "user of sandboxed tasks, UID[:GID] or a name (default nobody when root)", NULL},
    {"task_cpu_seconds", CFG_U64, OFF(task_cpu_seconds), "0", 0, 0, false,
     "CPU seconds a task process may use; 0: unlimited", NULL},
    {"task_memory", CFG_SIZE, OFF(task_memory), NULL, 0, 0, false,
     "memory of a task (its cgroup, else its processes' address space); 0: unlimited; "
     "default from the host",
     NULL},
    {"task_open_files", CFG_U64, OFF(task_open_files), "4096", 0, 0, false,
     "open files of a task process; 0: unlimited", NULL},
    {"task_processes", CFG_U64, OFF(task_processes), NULL, 0, 0, false,
     "processes of a task (its cgroup, else the task user's, shared); 0: unlimited; default "
     "from the host",
     NULL},
    {"task_file_size", CFG_SIZE, OFF(task_file_size), NULL, 0, 0, false,
     "largest file a task may write; 0: unlimited; default from work_dir's free space", NULL},
    {"sandbox_policy", CFG_STRING, OFF(sandbox_policy), "", 0, 0, false,
     "file of 'deny NAME' / 'allow NAME' lines changing the profile's seccomp policy", NULL},
    {"exec_helper", CFG_STRING, OFF(exec_helper), "", 0, 0, false,
     "path of kwg-exec (default: next to kwg)", NULL},
    {"docker_host", CFG_STRING, OFF(docker_host), "unix:///var/run/docker.sock", 0, 0, false,
     "the Docker Engine of the Docker task runner (a unix:// socket)", NULL},
    {"docker_volumes", CFG_BOOL, OFF(docker_volumes), "false", 0, 0, false,
     "let Docker tasks bind host paths (taskRunner.volumes)", NULL},
    {"docker_privileged", CFG_BOOL, OFF(docker_privileged), "false", 0, 0, false,
     "let Docker tasks run privileged containers (taskRunner.privileged)", NULL},
    {"docker_pool_size", CFG_U32, OFF(docker_pool_size), "0", 0, 64, false,
     "Docker containers started ahead per image and option set (warm pool); 0: none", NULL},
    {"docker_pool_idle", CFG_DURATION, OFF(docker_pool_idle_ms), "5m", 1000, 0, false,
     "the warm pool's containers of an option set no task used this long are removed", NULL},
    {"storage_type", CFG_CHOICE, OFF(storage_type), "none", 0, 0, false,
     "Kestra's internal storage, as Kestra is configured: none, local, s3 or minio", storages},
    {"storage_base_path", CFG_STRING, OFF(storage_base_path), "", 0, 0, false,
     "local storage: Kestra's kestra.storage.local.base-path", NULL},
    {"storage_endpoint", CFG_STRING, OFF(storage_endpoint), "", 0, 0, false,
     "s3/minio: endpoint URL, e.g. http://minio:9000 (s3 default: AWS)", NULL},
    {"storage_region", CFG_STRING, OFF(storage_region), "us-east-1", 0, 0, false,
     "s3/minio: the bucket's region", NULL},
    {"storage_bucket", CFG_STRING, OFF(storage_bucket), "", 0, 0, false, "s3/minio: bucket", NULL},
    {"storage_access_key", CFG_STRING, OFF(storage_access_key), "", 0, 0, true,
     "s3/minio: access key id", NULL},
    {"storage_secret_key", CFG_STRING, OFF(storage_secret_key), "", 0, 0, true,
     "s3/minio: secret access key", NULL},
    {"encryption_secret_key", CFG_STRING, OFF(encryption_secret_key), "", 0, 0, true,
     "Kestra's kestra.encryption.secret-key (base64 AES key): decrypts SECRET inputs (2.x: "
     "wins over the key the controller pushes)",
     NULL},
};

static bool key_allowed(const char *const *allowed, const char *key)
{
	if (!allowed)
		return true;
	for (; *allowed; allowed++)
		if (strcmp(*allowed, key) == 0)
			return true;
	return false;
}

static void key_to_env(const char *key, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "KWG_");

	for (; *key && n + 1 < size; key++)
		out[n++] = (char)toupper((unsigned char)*key);
	out[n] = '\0';
}

static void key_to_flag(const char *key, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "--");

	for (; *key && n + 1 < size; key++)
		out[n++] = *key == '_' ? '-' : *key;
	out[n] = '\0';
}

static int set_value(struct kwg_config *cfg, const struct cfg_key *k, const char *value,
                     const char *source, struct kwg_err *err)
{
	void *field = (char *)cfg + k->offset;
	char *from = k->offset == OFF(task_memory)      ? cfg->task_memory_from
	             : k->offset == OFF(task_processes) ? cfg->task_processes_from
	             : k->offset == OFF(task_file_size) ? cfg->task_file_size_from
	                                                : NULL;
	int r;

	if (from)
		(void)snprintf(from, sizeof(cfg->task_memory_from), "%s", source);

	switch (k->type) {
	case CFG_HOST_PORT: {
		const char *why;
		r = *value ? kwg_parse_host_port(value, NULL, NULL, &why) : 0;
		if (r == -EINVAL)
			return kwg_err_set(err, -EINVAL,
			                   "%s: '%.200s' is not HOST:PORT or [IPV6]:PORT: %s",
			                   source, value, why);
		if (r < 0)
			return r;
		return set_value(cfg, &(struct cfg_key){.type = CFG_STRING, .offset = k->offset},
		                 value, source, err);
	}
	case CFG_BASIC_AUTH: {
		/* SECRET: the value is never quoted. */
		const char *colon = strchr(value, ':');
		bool control = false;
		for (const char *c = value; *c; c++)
			control |= (unsigned char)*c < 0x20 || *c == 0x7f;
		if (*value && (!colon || colon == value || control))
			return kwg_err_set(
			    err, -EINVAL,
			    "%s: not USER:PASSWORD on one line (a user, a colon, the "
			    "password; the value is not shown)",
			    source);
		return set_value(cfg, &(struct cfg_key){.type = CFG_STRING, .offset = k->offset},
		                 value, source, err);
	}
	case CFG_TABLE: {
		struct kwg_err why = {{0}};
		if (kwg_sql_table_check(value, &why) < 0)
			return kwg_err_set(err, -EINVAL, "%s: %s", source, why.msg);
		return set_value(cfg, &(struct cfg_key){.type = CFG_STRING, .offset = k->offset},
		                 value, source, err);
	}
	case CFG_NAME:
		if (strspn(value,
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
		        strlen(value) ||
		    strlen(value) > 200)
			return kwg_err_set(
			    err, -EINVAL,
			    "%s: invalid name '%.64s' (expected [a-zA-Z0-9_.-], at most "
			    "200 characters)",
			    source, value);
		if (!*value) {
			free(*(char **)field);
			*(char **)field = NULL;
			return 0;
		}
		__attribute__((fallthrough));
	case CFG_GROUP:
		if (!*value) {
			free(*(char **)field);
			*(char **)field = NULL;
			return 0;
		}
		if (strspn(value,
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
		        strlen(value) ||
		    strlen(value) > 250)
			return kwg_err_set(
			    err, -EINVAL,
			    "%s: invalid worker group '%.64s' (expected [a-zA-Z0-9_-]+, "
			    "at most 250 characters)",
			    source, value);
		__attribute__((fallthrough));
	case CFG_STRING: {
		char *copy = strdup(value);
		if (!copy)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case CFG_U32:
		r = kwg_parse_u32(value, k->min, k->max, field);
		if (r < 0)
			return kwg_err_set(err, -EINVAL,
			                   "%s: '%.64s' is not a number from %u to %u", source,
			                   value, k->min, k->max);
		return 0;
	case CFG_LOG_LEVEL:
		if (kwg_log_level_parse(value, field) < 0)
			return kwg_err_set(err, -EINVAL,
			                   "%s: unknown log level '%.64s' (error, warning, notice, "
			                   "info, debug)",
			                   source, value);
		return 0;
	case CFG_RUNNER:
		if (strcmp(value, "process") == 0)
			*(enum kwg_runner_kind *)field = KWG_RUNNER_PROCESS;
		else if (strcmp(value, "docker") == 0)
			*(enum kwg_runner_kind *)field = KWG_RUNNER_DOCKER;
		else
			return kwg_err_set(err, -EINVAL,
			                   "%s: unknown runner '%.64s' (process or docker)", source,
			                   value);
		return 0;
	case CFG_ACCESS:
		if (strcmp(value, "storage") == 0)
			*(enum kwg_worker_access *)field = KWG_WORKER_ACCESS_STORAGE;
		else if (strcmp(value, "controller") == 0)
			*(enum kwg_worker_access *)field = KWG_WORKER_ACCESS_CONTROLLER;
		else
			return kwg_err_set(err, -EINVAL,
			                   "%s: unknown value '%.64s' (storage, controller)",
			                   source, value);
		return 0;
	case CFG_DURATION: {
		uint64_t ms;
		if (kwg_parse_duration_ms(value, &ms) < 0 || ms < k->min)
			return kwg_err_set(
			    err, -EINVAL,
			    "%s: '%.64s' is not a duration of at least %u ms (e.g. 500ms, "
			    "30s, 5m)",
			    source, value, k->min);
		*(uint64_t *)field = ms;
		return 0;
	}
	case CFG_SIZE:
		if (kwg_parse_size_bytes(value, field) < 0)
			return kwg_err_set(err, -EINVAL,
			                   "%s: '%.64s' is not a size (e.g. 512MiB, 8GiB, 0)",
			                   source, value);
		return 0;
	case CFG_U64: {
		int64_t v;
		if (kwg_parse_i64(value, &v) < 0 || v < 0)
			return kwg_err_set(err, -EINVAL, "%s: '%.64s' is not a whole number",
			                   source, value);
		*(uint64_t *)field = (uint64_t)v;
		return 0;
	}
	case CFG_CHOICE: {
		char list[256] = "";
		for (const char *const *c = k->choices; *c; c++) {
			if (strcmp(value, *c) == 0)
				return set_value(
				    cfg, &(struct cfg_key){.type = CFG_STRING, .offset = k->offset},
				    value, source, err);
			(void)snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			               c == k->choices ? "" : ", ", *c);
		}
		return kwg_err_set(err, -EINVAL, "%s: unknown value '%.64s' (%s)", source, value,
		                   list);
	}
	case CFG_BOOL:
		if (kwg_parse_bool(value, field) < 0)
			return kwg_err_set(err, -EINVAL, "%s: '%.64s' is not true or false", source,
			                   value);
		return 0;
	case CFG_LIST: {
		struct kwg_strv *sv = field;
		cleanup_free char *copy = strdup(value);
		char *save = NULL;
		if (!copy)
			return -ENOMEM;
		kwg_strv_done(sv);
		for (char *tok = strtok_r(copy, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			r = kwg_strv_push(sv, tok);
			if (r < 0)
				return r;
		}
		return 0;
	}
	}
	return -EINVAL;
}

static int read_secret_file(const char *path, char **ret, const char *source, struct kwg_err *err)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	char buf[4096];
	size_t n, line;

	if (!f)
		return kwg_err_set(err, -EINVAL, "%s: cannot open '%s': %s", source, path,
		                   strerror(errno));
	/* A directory opens, and only its read fails (EISDIR): that is an error too, never an
	 * empty secret. The content is never quoted. */
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f))
		return kwg_err_set(err, -EINVAL, "%s: cannot read '%s': %s", source, path,
		                   strerror(errno));
	if (n == sizeof(buf) - 1 && fgetc(f) != EOF)
		return kwg_err_set(err, -EINVAL, "%s: '%s' is larger than %zu bytes", source, path,
		                   sizeof(buf) - 1);
	buf[n] = '\0';
	if (memchr(buf, '\0', n))
		return kwg_err_set(err, -EINVAL, "%s: '%s' holds a NUL byte", source, path);
	line = strcspn(buf, "\r\n");
	if (strspn(buf + line, "\r\n \t") != n - line)
		return kwg_err_set(err, -EINVAL, "%s: '%s' has more than one line", source, path);
	if (line == 0)
		return kwg_err_set(err, -EINVAL, "%s: '%s' is empty", source, path);
	buf[line] = '\0';
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

static int load_env(struct kwg_config *cfg, char *const *envp, const char *const *allowed,
                    struct kwg_err *err)
{
	for (char *const *e = envp; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		bool known = false;
		if (strncmp(*e, "KWG_", 4) != 0 || !eq)
			continue;
		/* Not a setting: read by the log module (common/log.h). */
		if (strncmp(*e, "KWG_TRACE_LATENCY=", 18) == 0)
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(keys_table); i++) {
			const struct cfg_key *k = &keys_table[i];
			char name[64], file_name[80];
			size_t len = (size_t)(eq - *e);
			key_to_env(k->key, name, sizeof(name));
			(void)snprintf(file_name, sizeof(file_name), "%s_FILE", name);
			if (strlen(name) == len && strncmp(*e, name, len) == 0) {
				known = true;
				if (key_allowed(allowed, k->key)) {
					int r = set_value(cfg, k, eq + 1, name, err);
					if (r < 0)
						return r;
				}
			} else if (k->secret && strlen(file_name) == len &&
			           strncmp(*e, file_name, len) == 0) {
				cleanup_free char *value = NULL;
				int r;
				known = true;
				if (!key_allowed(allowed, k->key))
					continue;
				r = read_secret_file(eq + 1, &value, file_name, err);
				if (r >= 0)
					r = set_value(cfg, k, value, file_name, err);
				if (r < 0)
					return r;
			}
		}
		/* A misspelt KWG_ variable would otherwise be silently ignored. */
		if (!known)
			return kwg_err_set(err, -EINVAL, "unknown environment variable %.*s",
			                   (int)(eq - *e), *e);
	}
	return 0;
}

static int load_flags(struct kwg_config *cfg, int argc, char **argv, const char *const *allowed,
                      struct kwg_err *err)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		const struct cfg_key *k = NULL;
		char flag[64];
		size_t len;
		int r;

		if (strcmp(arg, "-n") == 0 || strcmp(arg, "--check") == 0) {
			cfg->check_only = true;
			continue;
		}
		if (strcmp(arg, "-v") == 0) {
			cfg->log_level = KWG_LOG_DEBUG;
			continue;
		}
		len = strcspn(arg, "=");
		for (size_t j = 0; j < ARRAY_SIZE(keys_table); j++) {
			key_to_flag(keys_table[j].key, flag, sizeof(flag));
			if (strlen(flag) == len && strncmp(arg, flag, len) == 0 &&
			    key_allowed(allowed, keys_table[j].key))
				k = &keys_table[j];
			/* --<key>-file FILE: a secret read from a file, never in ps. */
			if (keys_table[j].secret && strlen(flag) + 5 == len &&
			    strncmp(arg, flag, strlen(flag)) == 0 &&
			    strncmp(arg + strlen(flag), "-file", 5) == 0 &&
			    key_allowed(allowed, keys_table[j].key)) {
				cleanup_free char *secret = NULL;
				const char *path = arg[len] == '=' ? arg + len + 1
				                   : i + 1 < argc  ? argv[++i]
				                                   : NULL;
				char source[80];
				(void)snprintf(source, sizeof(source), "%s-file", flag);
				if (!path)
					return kwg_err_set(err, -EINVAL, "%s needs a file", source);
				r = read_secret_file(path, &secret, source, err);
				if (r >= 0)
					r = set_value(cfg, &keys_table[j], secret, source, err);
				if (r < 0)
					return r;
				k = NULL;
				len = 0;
				break;
			}
		}
		if (len == 0)
			continue;
		if (!k)
			return kwg_err_set(err, -EINVAL, "unknown option '%.64s'", arg);
		/* SECURITY: credentials on the command line show in ps. */
		if (strcmp(k->key, "controller_basic_auth") == 0)
			return kwg_err_set(
			    err, -EINVAL,
			    "--controller-basic-auth would show the credentials in ps: use "
			    "--controller-basic-auth-file FILE or "
			    "KWG_CONTROLLER_BASIC_AUTH(_FILE)");
		key_to_flag(k->key, flag, sizeof(flag));
		if (arg[len] == '=')
			value = arg + len + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else
			return kwg_err_set(err, -EINVAL, "%s needs a value", flag);
		r = set_value(cfg, k, value, flag, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The controller's TLS settings: only with a controller, files only with controller_tls; each
 * error names the setting. The files themselves (readable, a certificate with its key) are
 * checked where TLS loads them, transport/grpc/tls.c, which `-n` calls too. */
static int check_controller_tls(struct kwg_config *cfg, struct kwg_err *err)
{
	const struct {
		const char *key;
		char **value;
	} files[] = {
	    {"controller_ca_file", &cfg->controller_ca_file},
	    {"controller_cert_file", &cfg->controller_cert_file},
	    {"controller_key_file", &cfg->controller_key_file},
	};
	bool controller = cfg->controller && *cfg->controller;

	/* "" is unset, as for every other string. */
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (*files[i].value && !**files[i].value) {
			free(*files[i].value);
			*files[i].value = NULL;
		}
	if (cfg->controller_authority && !*cfg->controller_authority) {
		free(cfg->controller_authority);
		cfg->controller_authority = NULL;
	}
	if (!controller) {
		const char *access =
		    cfg->kv_worker_access == KWG_WORKER_ACCESS_CONTROLLER ? "kv_worker_access"
		    : cfg->namespace_files_worker_access == KWG_WORKER_ACCESS_CONTROLLER
		        ? "namespace_files_worker_access"
		        : NULL;
		if (access)
			return kwg_err_set(err, -EINVAL,
			                   "%s: controller is only valid with a controller "
			                   "(--controller HOST:PORT or KWG_CONTROLLER); the 1.x "
			                   "database worker reads the internal storage",
			                   access);
		const char *set = cfg->controller_tls         ? "controller_tls"
		                  : cfg->controller_ca_file   ? "controller_ca_file"
		                  : cfg->controller_cert_file ? "controller_cert_file"
		                  : cfg->controller_key_file  ? "controller_key_file"
		                  : cfg->controller_authority ? "controller_authority"
		                                              : NULL;
		if (set)
			return kwg_err_set(
			    err, -EINVAL,
			    "%s: set without a controller (--controller HOST:PORT or "
			    "KWG_CONTROLLER)",
			    set);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (*files[i].value && !cfg->controller_tls)
			return kwg_err_set(
			    err, -EINVAL,
			    "%s: set while controller_tls is false (--controller-tls "
			    "true or KWG_CONTROLLER_TLS=true)",
			    files[i].key);
	if (cfg->controller_authority &&
	    strcspn(cfg->controller_authority, " \t\r\n/@?#") != strlen(cfg->controller_authority))
		return kwg_err_set(err, -EINVAL,
		                   "controller_authority: '%.200s' is not HOST or HOST:PORT",
		                   cfg->controller_authority);
	return 0;
}

int kwg_config_load(int argc, char **argv, char *const *envp, const char *const *keys,
                    struct kwg_config *ret, struct kwg_err *err)
{
	int r = 0;

	*ret = (struct kwg_config){0};
	ret->task_memory = ret->task_processes = ret->task_file_size = KWG_CONFIG_FROM_HOST;
	(void)snprintf(ret->task_memory_from, sizeof(ret->task_memory_from), "default");
	(void)snprintf(ret->task_processes_from, sizeof(ret->task_processes_from), "default");
	(void)snprintf(ret->task_file_size_from, sizeof(ret->task_file_size_from), "default");
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(keys_table); i++)
		if (keys_table[i].def)
			r = set_value(ret, &keys_table[i], keys_table[i].def, "default", err);
	if (r >= 0)
		r = load_env(ret, envp, keys, err);
	if (r >= 0)
		r = load_flags(ret, argc, argv, keys, err);
	if (r >= 0 && key_allowed(keys, "database_url") &&
	    (!ret->database_url || !*ret->database_url) &&
	    (!key_allowed(keys, "controller") || !ret->controller || !*ret->controller))
		r = kwg_err_set(
		    err, -EINVAL,
		    "no database: set --database-url or KWG_DATABASE_URL (or, for Kestra "
		    "2.x, --controller or KWG_CONTROLLER)");
	if (r >= 0)
		r = check_controller_tls(ret, err);
	if (r >= 0 && ret->encryption_secret_key && *ret->encryption_secret_key) {
		struct kwg_err kerr = {{0}};
		/* The key itself is never quoted: it is a secret. */
		if (kwg_template_check_key(ret->encryption_secret_key, &kerr) < 0)
			r = kwg_err_set(err, -EINVAL, "encryption_secret_key: %s", kerr.msg);
	}
	if (r >= 0 && !ret->work_dir) {
		const char *tmp = getenv("TMPDIR");
		ret->work_dir = strdup(tmp && *tmp ? tmp : "/tmp");
		r = ret->work_dir ? 0 : -ENOMEM;
	}
	return r;
}

void kwg_config_done(struct kwg_config *cfg)
{
	free(cfg->database_url);
	free(cfg->controller);
	free(cfg->controller_basic_auth);
	free(cfg->controller_ca_file);
	free(cfg->controller_cert_file);
	free(cfg->controller_key_file);
	free(cfg->controller_authority);
	free(cfg->group);
	free(cfg->kestra_queue_prefix);
	free(cfg->kestra_queue_table);
	free(cfg->work_dir);
	free(cfg->restart_strategy);
	free(cfg->sandbox);
	free(cfg->sandbox_user);
	free(cfg->exec_helper);
	free(cfg->sandbox_policy);
	free(cfg->docker_host);
	free(cfg->storage_type);
	free(cfg->storage_base_path);
	free(cfg->storage_endpoint);
	free(cfg->storage_region);
	free(cfg->storage_bucket);
	free(cfg->storage_access_key);
	free(cfg->storage_secret_key);
	free(cfg->encryption_secret_key);
	kwg_strv_done(&cfg->task_env_passthrough);
	*cfg = (struct kwg_config){0};
}

void kwg_config_usage(const char *const *keys)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys_table); i++) {
		char flag[64], env[64];
		if (!key_allowed(keys, keys_table[i].key))
			continue;
		key_to_flag(keys_table[i].key, flag, sizeof(flag));
		key_to_env(keys_table[i].key, env, sizeof(env));
		printf("  %-26s %-30s %s%s%s\n", flag, env, keys_table[i].help,
		       keys_table[i].def ? "; default " : "",
		       keys_table[i].def ? keys_table[i].def : "");
	}
}

#define MIB (1ull << 20)

static void size_text(uint64_t v, char *buf, size_t size)
{
	if (v == 0)
		(void)snprintf(buf, size, "unlimited");
	else if (v % (1ull << 30) == 0)
		(void)snprintf(buf, size, "%llu GiB", (unsigned long long)(v >> 30));
	else
		(void)snprintf(buf, size, "%llu MiB", (unsigned long long)(v / MIB));
}

void kwg_config_task_limits(struct kwg_config *cfg, const struct kwg_host *host,
                            uint64_t work_dir_free)
{
	struct kwg_task_defaults defaults, *d = &defaults;
	char(*lines)[320] = cfg->limit_lines;
	char a[32], b[32], c[32];
	int n = 0;

	kwg_host_task_defaults(host, cfg->concurrency, d);
	cfg->all_tasks_memory = d->all_memory;
	cfg->all_tasks_pids = d->all_pids;
	for (int i = 0; i < KWG_CONFIG_LIMIT_LINES; i++)
		lines[i][0] = '\0';
	size_text(host->memory == KWG_HOST_UNLIMITED ? 0 : host->memory, a, sizeof(a));
	(void)snprintf(lines[n++], 320, "host: memory %s from %s", a, host->memory_from);
	(void)snprintf(lines[n++], 320, "host: CPUs %u.%02u from %s", host->cpus_milli / 1000,
	               host->cpus_milli % 1000 / 10, host->cpus_from);
	(void)snprintf(lines[n++], 320, "host: processes %llu from %s",
	               (unsigned long long)host->pids, host->pids_from);
	if (cfg->task_memory == KWG_CONFIG_FROM_HOST) {
		cfg->task_memory = d->memory;
		size_text(host->memory == KWG_HOST_UNLIMITED ? 0 : host->memory, a, sizeof(a));
		size_text(d->reserve, b, sizeof(b));
		size_text(d->memory, c, sizeof(c));
		(void)snprintf(
		    lines[n++], 320,
		    "task_memory %s a task, from the host: (%s - %s kept for the worker) / "
		    "concurrency %u%s",
		    c, a, b, cfg->concurrency,
		    d->memory && d->memory < 64 * MIB
		        ? "; too little for most tasks: lower the concurrency or set task_memory"
		        : "");
	} else {
		size_text(cfg->task_memory, a, sizeof(a));
		(void)snprintf(lines[n++], 320, "task_memory %s a task, set by %s", a,
		               cfg->task_memory_from);
	}
	if (cfg->task_processes == KWG_CONFIG_FROM_HOST) {
		cfg->task_processes = d->processes;
		(void)snprintf(lines[n++], 320,
		               "task_processes %llu a task, from the host: a quarter of %llu "
		               "processes / concurrency %u, within 64..1024",
		               (unsigned long long)d->processes, (unsigned long long)host->pids,
		               cfg->concurrency);
	} else {
		(void)snprintf(lines[n++], 320, "task_processes %llu a task, set by %s",
		               (unsigned long long)cfg->task_processes, cfg->task_processes_from);
	}
	if (cfg->task_file_size == KWG_CONFIG_FROM_HOST) {
		cfg->task_file_size =
		    work_dir_free / 2 / (cfg->concurrency ? cfg->concurrency : 1) / MIB * MIB;
		if (work_dir_free && !cfg->task_file_size)
			cfg->task_file_size = MIB;
		size_text(cfg->task_file_size, a, sizeof(a));
		size_text(work_dir_free, b, sizeof(b));
		(void)snprintf(lines[n++], 320,
		               "task_file_size %s a file, from the host: half of %s free in %s / "
		               "concurrency %u",
		               a, work_dir_free ? b : "(unknown)", cfg->work_dir, cfg->concurrency);
	} else {
		size_text(cfg->task_file_size, a, sizeof(a));
		(void)snprintf(lines[n++], 320, "task_file_size %s a file, set by %s", a,
		               cfg->task_file_size_from);
	}
	size_text(d->all_memory, a, sizeof(a));
	(void)snprintf(lines[n++], 320,
	               "all tasks together: memory %s, processes %llu (a worker-wide cgroup where "
	               "cgroups are usable)",
	               a, (unsigned long long)d->all_pids);
}
