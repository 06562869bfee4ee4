/* SPDX-License-Identifier: Apache-2.0 */
/* kwg: the worker and its commands. Parses the command line, builds the configuration, runs the
 * loop. The only place besides tests that calls uv_run or exit. */
#define KWG_LOG_MODULE "main"
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/parse.h"
#include "protocol/task_def.h"
#include "sandbox/cli.h"
#include "sandbox/env.h"
#include "sandbox/hostlimits.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "transport/grpc/tls.h"
#include "transport/pg/ctl.h"
#include "transport/pg/submit.h"
#include "worker/config.h"
#include "worker/worker.h"

extern char **environ;

#define EXIT_USAGE 64

static const char *const submit_keys[] = {
    "database_url", "group", "log_level", "kestra_queue_prefix", "kestra_queue_table", NULL};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "kwg %s, a native worker for Kestra\n\n"
	    "usage:\n"
	    "  kwg worker [options]            claim and run tasks\n"
	    "  kwg submit [options] FILE|-     queue one task as Kestra's executor would, "
	    "follow it to its end\n"
	    "  kwg sandbox [options] -- CMD    run a command in the task sandbox\n"
	    "  kwg migrate                     create or update kwg's own schema\n"
	    "  kwg group list|create|delete|pause|resume|drain [GROUP]\n"
	    "  kwg maintenance enter|exit      stop or resume claiming everywhere\n"
	    "  kwg status                      the workers, their state and heartbeat\n"
	    "  kwg notify install|uninstall    wake workers on WorkerJob inserts (a trigger)\n"
	    "  kwg routing install [--wait]|uninstall [--requeue]|status|release --group G\n"
	    "                                  route workerGroup.key on open-source Kestra "
	    "(a trigger)\n"
	    "  kwg health [--port N]           exit 0 when the local worker's /health says ready\n"
	    "  kwg version\n\n"
	    "worker options (flag, environment variable):\n",
	    KWG_VERSION);
	if (out == stdout)
		kwg_config_usage(NULL);
	fprintf(out, "  -n, --check                    check the configuration and exit\n"
	             "  -v                             debug logging\n\n"
	             "submit options: --database-url, --group, --log-level as above, and\n"
	             "  --json                         print the raw messages\n"
	             "  --timeout DURATION             give up after it (default 300s)\n"
	             "  --plain-properties             write properties as plain JSON (Kestra <= "
	             "0.20) instead of 1.x strings\n");
}

static int run_loop(uv_loop_t *loop)
{
	int r;

	(void)uv_run(loop, UV_RUN_DEFAULT);
	r = uv_loop_close(loop);
	if (r < 0)
		kwg_log_errno(KWG_LOG_WARNING, r, "loop closed with handles still open");
	return r;
}

/* The CPUs this process may run on, 0 when unknown. */
static uint32_t usable_cpus(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) == 0 ? (uint32_t)CPU_COUNT(&set) : 0;
}

/* The task limits the operator left to the host, from what this process may use. */
static void resolve_limits(struct kwg_config *cfg)
{
	struct kwg_host host;
	struct statvfs fs;
	uint64_t free_bytes = 0;

	kwg_host_read("", usable_cpus(), &host);
	if (statvfs(cfg->work_dir, &fs) == 0)
		free_bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
	kwg_config_task_limits(cfg, &host, free_bytes);
}

static int cmd_worker(int argc, char **argv)
{
	struct kwg_config cfg;
	struct kwg_err err = {{0}};
	struct kwg_worker *w = NULL;
	uv_loop_t loop;
	int r, code;

	kwg_log_latency("main", "worker");
	r = kwg_config_load(argc, argv, environ, NULL, &cfg, &err);
	if (r < 0) {
		fprintf(stderr, "kwg worker: %s\n", r == -ENOMEM ? "out of memory" : err.msg);
		kwg_config_done(&cfg);
		return EXIT_USAGE;
	}
	kwg_log_max_level = cfg.log_level;
	resolve_limits(&cfg);
	/* The controller's certificates and key as TLS will load them: a usage error, for `-n` as
	 * for a start. */
	if (cfg.controller_tls) {
		struct kwg_grpc_tls_ctx *tls = NULL;
		r = kwg_grpc_tls_ctx_new(
		    &(struct kwg_grpc_tls_opts){.ca_file = cfg.controller_ca_file,
		                                .cert_file = cfg.controller_cert_file,
		                                .key_file = cfg.controller_key_file},
		    &tls, &err);
		tls = kwg_grpc_tls_ctx_free(tls);
		if (r < 0) {
			fprintf(stderr, "kwg worker: %s\n",
			        r == -ENOMEM ? "out of memory" : err.msg);
			kwg_config_done(&cfg);
			return EXIT_USAGE;
		}
	}
	if (cfg.check_only) {
		for (int i = 0; i < KWG_CONFIG_LIMIT_LINES && cfg.limit_lines[i][0]; i++)
			printf("%s\n", cfg.limit_lines[i]);
		printf("configuration OK\n");
		kwg_config_done(&cfg);
		return 0;
	}
	if (access(cfg.work_dir, W_OK | X_OK) < 0) {
		fprintf(stderr, "kwg worker: work_dir '%s' is not a writable directory: %s\n",
		        cfg.work_dir, strerror(errno));
		kwg_config_done(&cfg);
		return EXIT_USAGE;
	}
	uv_loop_init(&loop);
	/* The one place that names a transport: Kestra 2.x's controller when one is given. */
	r = kwg_worker_new(
	    &loop, &cfg,
	    cfg.controller && *cfg.controller ? &kwg_transport_grpc : &kwg_transport_pg, &w);
	if (r < 0) {
		kwg_log_errno(KWG_LOG_ERROR, r, "cannot start the worker");
		(void)run_loop(&loop); /* lets what was half-built close, then closes the loop */
		kwg_config_done(&cfg);
		return 1;
	}
	kwg_log_latency("setup-done", "worker");
	r = kwg_worker_start(w);
	(void)run_loop(&loop);
	code = kwg_worker_free(w);
	kwg_config_done(&cfg);
	return code;
}

static int read_input(const char *path, struct kwg_buf *out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char chunk[65536];
	size_t n;
	int r = 0;

	if (!f)
		return -errno;
	while (r >= 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		r = kwg_buf_append(out, chunk, n);
	if (r >= 0 && ferror(f))
		r = -EIO;
	if (f != stdin)
		fclose(f);
	return r;
}

static int cmd_submit(int argc, char **argv)
{
	struct kwg_submit_opts opts = {.timeout_ms = 300000};
	struct kwg_task_def_opts def_opts = {.now_us = kwg_clock_now_us()};
	struct kwg_task_def def = {0};
	struct kwg_config cfg;
	struct kwg_err err = {{0}};
	struct kwg_submit *s;
	struct kwg_buf input;
	const char *file = NULL;
	char **rest = calloc((size_t)argc + 1, sizeof(char *));
	int n_rest = 0, r, code = EXIT_USAGE;
	uv_loop_t loop;

	if (!rest)
		return 1;
	kwg_buf_init(&input, KWG_TASK_DEF_MAX_BYTES);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			opts.json = true;
		} else if (strcmp(argv[i], "--plain-properties") == 0) {
			def_opts.plain_properties = true;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			if (kwg_parse_duration_ms(argv[++i], &opts.timeout_ms) < 0) {
				fprintf(stderr, "kwg submit: --timeout: '%s' is not a duration\n",
				        argv[i]);
				goto out;
			}
		} else if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
			if (file) {
				fprintf(stderr, "kwg submit: one task file only\n");
				goto out;
			}
			file = argv[i];
		} else {
			/* A configuration flag: handed to the config loader with its value. */
			rest[n_rest++] = argv[i];
			if (!strchr(argv[i], '=') && strcmp(argv[i], "-v") != 0 && i + 1 < argc)
				rest[n_rest++] = argv[++i];
		}
	}
	if (!file) {
		fprintf(stderr, "kwg submit: name a task file, or - for standard input\n");
		goto out;
	}
	r = kwg_config_load(n_rest, rest, environ, submit_keys, &cfg, &err);
	if (r < 0) {
		fprintf(stderr, "kwg submit: %s\n", r == -ENOMEM ? "out of memory" : err.msg);
		kwg_config_done(&cfg);
		goto out;
	}
	kwg_log_max_level = cfg.log_level;
	r = read_input(file, &input);
	if (r < 0) {
		fprintf(stderr, "kwg submit: cannot read '%s': %s\n", file, strerror(-r));
		kwg_config_done(&cfg);
		goto out;
	}
	r = kwg_task_def_build(input.data ? input.data : "", input.len, &def_opts, &def, &err);
	if (r < 0) {
		fprintf(stderr, "kwg submit: %s: %s\n", file,
		        r == -ENOMEM ? "out of memory" : err.msg);
		kwg_config_done(&cfg);
		code = 1;
		goto out;
	}
	opts.database_url = cfg.database_url;
	opts.group = cfg.group;
	opts.queue_prefix = cfg.kestra_queue_prefix;
	opts.queue_table = cfg.kestra_queue_table;
	opts.worker_task = def.worker_task;
	opts.task_run_id = def.task_run_id;
	uv_loop_init(&loop);
	r = kwg_submit_new(&loop, &opts, &s);
	if (r < 0) {
		kwg_log_errno(KWG_LOG_ERROR, r, "cannot submit");
		code = 1;
	} else {
		(void)run_loop(&loop);
		code = kwg_submit_free(s);
	}
	kwg_task_def_done(&def);
	kwg_config_done(&cfg);
out:
	kwg_buf_done(&input);
	free(rest);
	return code;
}

static size_t keep_body(char *data, size_t size, size_t n, void *userdata)
{
	return kwg_buf_append(userdata, data, size * n) < 0 ? 0 : size * n;
}

/* `kwg health [--port N]`: asks a local worker's GET /health (for a container's HEALTHCHECK or a
 * service launcher). Exits 0 when it answers 200, 1 otherwise, printing what it said. The port
 * defaults to KWG_MANAGEMENT_PORT, else 8081. */
static int cmd_health(int argc, char **argv)
{
	const char *env = getenv("KWG_MANAGEMENT_PORT");
	uint32_t port = 8081;
	struct kwg_buf body;
	char url[64], error[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;
	CURL *curl;

	if (env && *env && kwg_parse_u32(env, 1, 65535, &port) < 0) {
		fprintf(stderr, "kwg health: KWG_MANAGEMENT_PORT '%s' is not a port\n", env);
		return EXIT_USAGE;
	}
	if (argc == 2 && strcmp(argv[0], "--port") == 0) {
		if (kwg_parse_u32(argv[1], 1, 65535, &port) < 0) {
			fprintf(stderr, "kwg health: --port '%s' is not a port\n", argv[1]);
			return EXIT_USAGE;
		}
	} else if (argc != 0) {
		fprintf(stderr, "usage: kwg health [--port N]\n");
		return EXIT_USAGE;
	}
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", port);
	curl = curl_easy_init();
	if (!curl)
		return 1;
	kwg_buf_init(&body, 1u << 20);
	(void)curl_easy_setopt(curl, CURLOPT_URL, url);
	(void)curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
	(void)curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
	(void)curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
	(void)curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		(void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK)
		fprintf(stderr, "kwg health: no worker answers on port %u: %s\n", port,
		        *error ? error : curl_easy_strerror(rc));
	else
		printf("%s%s", kwg_buf_str(&body),
		       body.len && body.data[body.len - 1] == '\n' ? "" : "\n");
	kwg_buf_done(&body);
	return status == 200 ? 0 : 1;
}

static const char *const ctl_keys[] = {"database_url", "log_level", "kestra_queue_prefix",
                                       "kestra_queue_table", NULL};

static int parse_ctl(int argc, char **argv, struct kwg_ctl_opts *o)
{
	static const struct {
		const char *a, *b;
		enum kwg_ctl_command cmd;
		bool needs_key;
	} table[] = {
	    {"migrate", NULL, KWG_CTL_MIGRATE, false},
	    {"status", NULL, KWG_CTL_STATUS, false},
	    {"group", "list", KWG_CTL_GROUP_LIST, false},
	    {"group", "create", KWG_CTL_GROUP_CREATE, true},
	    {"group", "delete", KWG_CTL_GROUP_DELETE, true},
	    {"group", "pause", KWG_CTL_GROUP_PAUSE, true},
	    {"group", "resume", KWG_CTL_GROUP_RESUME, true},
	    {"group", "drain", KWG_CTL_GROUP_DRAIN, true},
	    {"maintenance", "enter", KWG_CTL_MAINTENANCE_ENTER, false},
	    {"maintenance", "exit", KWG_CTL_MAINTENANCE_EXIT, false},
	    {"notify", "install", KWG_CTL_NOTIFY_INSTALL, false},
	    {"notify", "uninstall", KWG_CTL_NOTIFY_UNINSTALL, false},
	    {"routing", "install", KWG_CTL_ROUTING_INSTALL, false},
	    {"routing", "uninstall", KWG_CTL_ROUTING_UNINSTALL, false},
	    {"routing", "status", KWG_CTL_ROUTING_STATUS, false},
	    {"routing", "release", KWG_CTL_ROUTING_RELEASE, false},
	};
	int used = 1;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(argv[0], table[i].a) != 0)
			continue;
		if (table[i].b && (argc < 2 || strcmp(argv[1], table[i].b) != 0))
			continue;
		used = table[i].b ? 2 : 1;
		o->command = table[i].cmd;
		if (table[i].needs_key) {
			if (argc <= used || argv[used][0] == '-') {
				fprintf(stderr,
				        "kwg %s %s: name the group (:default for the default "
				        "group)\n",
				        table[i].a, table[i].b);
				return -EINVAL;
			}
			o->key = strcmp(argv[used], ":default") == 0 ? "" : argv[used];
			if (strspn(o->key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012"
			                   "3456789_-") != strlen(o->key)) {
				fprintf(stderr, "kwg: invalid group key '%s' ([a-zA-Z0-9_-]+)\n",
				        o->key);
				return -EINVAL;
			}
			used++;
		}
		return used;
	}
	fprintf(stderr, "kwg: unknown command '%s%s%s'\n", argv[0], argc > 1 ? " " : "",
	        argc > 1 ? argv[1] : "");
	return -EINVAL;
}

static int cmd_ctl(int argc, char **argv)
{
	struct kwg_ctl_opts o = {.timeout_ms = 30000};
	struct kwg_config cfg;
	struct kwg_err err = {{0}};
	char **rest = calloc((size_t)argc + 1, sizeof(char *));
	int n_rest = 0, used, r, code = EXIT_USAGE;
	bool timeout_given = false;
	struct kwg_ctl *c;
	uv_loop_t loop;

	if (!rest)
		return 1;
	used = parse_ctl(argc, argv, &o);
	if (used < 0)
		goto out;
	for (int i = used; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o.json = true;
		} else if (strcmp(argv[i], "--wait") == 0) {
			o.wait = true;
		} else if (strcmp(argv[i], "--requeue") == 0) {
			o.requeue = true;
		} else if (i + 1 < argc && strcmp(argv[i], "--group") == 0 &&
		           o.command == KWG_CTL_ROUTING_RELEASE) {
			o.key = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--description") == 0) {
			o.description = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--message") == 0) {
			o.message = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--timeout") == 0) {
			timeout_given = true;
			if (kwg_parse_duration_ms(argv[++i], &o.timeout_ms) < 0) {
				fprintf(stderr, "kwg: --timeout: '%s' is not a duration\n",
				        argv[i]);
				goto out;
			}
		} else {
			rest[n_rest++] = argv[i];
			if (argv[i][0] == '-' && !strchr(argv[i], '=') && i + 1 < argc)
				rest[n_rest++] = argv[++i];
		}
	}
	/* Waiting for a drain has no deadline unless one is given. */
	if (o.wait && !timeout_given)
		o.timeout_ms = UINT64_MAX / 4;
	r = kwg_config_load(n_rest, rest, environ, ctl_keys, &cfg, &err);
	if (r < 0) {
		fprintf(stderr, "kwg: %s\n", r == -ENOMEM ? "out of memory" : err.msg);
		kwg_config_done(&cfg);
		goto out;
	}
	if (o.command == KWG_CTL_ROUTING_RELEASE &&
	    (!o.key || !*o.key ||
	     strspn(o.key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
	         strlen(o.key))) {
		fprintf(stderr,
		        "kwg routing release: name the group: --group G ([a-zA-Z0-9_-]+)\n");
		kwg_config_done(&cfg);
		goto out;
	}
	o.queue_prefix = cfg.kestra_queue_prefix;
	o.queue_table = cfg.kestra_queue_table;
	kwg_log_max_level = cfg.log_level;
	/* A CLI reports a database it cannot reach instead of retrying quietly. */
	if (kwg_log_max_level < KWG_LOG_WARNING)
		kwg_log_max_level = KWG_LOG_WARNING;
	o.database_url = cfg.database_url;
	uv_loop_init(&loop);
	r = kwg_ctl_new(&loop, &o, &c);
	if (r < 0) {
		kwg_log_errno(KWG_LOG_ERROR, r, "cannot run the command");
		code = 1;
	} else {
		(void)run_loop(&loop);
		code = kwg_ctl_free(c);
	}
	kwg_config_done(&cfg);
out:
	free(rest);
	return code;
}

int main(int argc, char **argv)
{
	/* Writes to a closed pipe or socket must fail with EPIPE, not kill the worker. */
	struct sigaction sa = {.sa_handler = SIG_IGN};

	(void)sigaction(SIGPIPE, &sa, NULL);
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "worker") == 0)
		return cmd_worker(argc - 2, argv + 2);
	if (strcmp(argv[1], "submit") == 0)
		return cmd_submit(argc - 2, argv + 2);
	if (strcmp(argv[1], "sandbox") == 0)
		return kwg_sandbox_cli(argc - 2, argv + 2);
	if (strcmp(argv[1], "health") == 0)
		return cmd_health(argc - 2, argv + 2);
	if (strcmp(argv[1], "migrate") == 0 || strcmp(argv[1], "group") == 0 ||
	    strcmp(argv[1], "maintenance") == 0 || strcmp(argv[1], "status") == 0 ||
	    strcmp(argv[1], "notify") == 0 || strcmp(argv[1], "routing") == 0)
		return cmd_ctl(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("kwg %s\n", KWG_VERSION);
		return 0;
	}
	fprintf(stderr, "kwg: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
