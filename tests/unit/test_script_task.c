/* SPDX-License-Identifier: Apache-2.0 */
/* protocol/script_task: task properties in both wire forms (kestra-script-tasks.md §W), the
 * command line of §1.5, the environment, and the refusals (types, properties, templates). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/duration.h"
#include "protocol/script_task.h"
#include "protocol/worker_job.h"

#define SHELL "io.kestra.plugin.scripts.shell.Commands"
#define PROCESS "\"taskRunner\":{\"type\":\"io.kestra.plugin.core.runner.Process\"}"

struct decoded {
	struct kwg_job *job;
	struct kwg_script_task task;
	struct kwg_err err;
	int r;
};

/* secret(): "MY_PASS" only. */
static int fake_secret(void *userdata, const char *name, char **ret, struct kwg_err *err)
{
	(void)userdata, (void)err;
	if (strcmp(name, "my_pass") != 0 && strcmp(name, "MY_PASS") != 0)
		return -ENOENT;
	*ret = strdup("s3cr3t");
	return *ret ? 0 : -ENOMEM;
}

/* Decodes a WorkerTask whose task object is `task_members` (without braces) and whose run
 * context has `run_context` members (without braces); key decrypts SECRET inputs (NULL: none). */
static void decode_key(struct decoded *d, const char *task_members, const char *run_context,
                       const char *key)
{
	static const struct kwg_template_hooks hooks = {.secret = fake_secret};
	char json[16384];
	struct kwg_err err = {{0}};
	struct kwg_script_task_opts opts = {.default_runner = KWG_RUNNER_DOCKER,
	                                    .working_dir = "/tmp/wd",
	                                    .hooks = &hooks,
	                                    .encryption_key = key};

	snprintf(
	    json, sizeof(json),
	    "{\"taskRun\":{\"id\":\"r\",\"executionId\":\"e\",\"namespace\":\"n\",\"flowId\":"
	    "\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\"}},\"task\":{\"id\":\"t\","
	    "%s},\"runContext\":{%s}}",
	    task_members, run_context);
	memset(d, 0, sizeof(*d));
	assert_int_equal(kwg_job_decode(json, strlen(json), &d->job, &err), 0);
	d->r = kwg_script_task_decode(d->job, &opts, &d->task, &d->err);
}

static void decode_ctx(struct decoded *d, const char *task_members, const char *run_context)
{
	decode_key(d, task_members, run_context, NULL);
}

static void decode(struct decoded *d, const char *task_members)
{
	decode_ctx(d, task_members, "\"variables\":{}");
}

static void done(struct decoded *d)
{
	kwg_script_task_done(&d->task);
	kwg_job_free(d->job);
}

static void test_script_task_commands_as_1x_string(void **state)
{
	struct decoded d;

	(void)state;
	decode(&d,
	       "\"type\":\"" SHELL "\",\"commands\":\"[\\\"echo hi\\\",\\\"exit 3\\\"]\"," PROCESS);
	assert_int_equal(d.r, 0);
	assert_int_equal(d.task.kind, KWG_TASK_SCRIPT);
	assert_int_equal(d.task.runner, KWG_RUNNER_PROCESS);
	assert_int_equal(d.task.argv.n, 3);
	assert_string_equal(d.task.argv.v[0], "/bin/sh");
	assert_string_equal(d.task.argv.v[1], "-c");
	assert_string_equal(d.task.argv.v[2], "set -e\necho hi\nexit 3");
	assert_true(d.task.warning_on_stderr);
	done(&d);
}

static void test_script_task_commands_as_plain_list(void **state)
{
	struct decoded d;

	(void)state;
	decode(
	    &d,
	    "\"type\":\"" SHELL "\",\"commands\":[\"echo hi\"],\"beforeCommands\":[\"cd /\"],"
	    "\"failFast\":false,\"warningOnStdErr\":false,\"interpreter\":[\"/bin/bash\",\"-c\"]");
	assert_int_equal(d.r, 0);
	assert_int_equal(d.task.runner, KWG_RUNNER_DOCKER); /* no taskRunner: the default */
	assert_string_equal(d.task.argv.v[0], "/bin/bash");
	assert_string_equal(d.task.argv.v[2], "cd /\necho hi");
	assert_false(d.task.warning_on_stderr);
	done(&d);
}

static void test_script_task_booleans_as_strings(void **state)
{
	struct decoded d;

	(void)state;
	decode(&d, "\"type\":\"" SHELL "\",\"commands\":\"[\\\"x\\\"]\",\"failFast\":\"false\","
	           "\"warningOnStdErr\":\"false\"," PROCESS);
	assert_int_equal(d.r, 0);
	assert_string_equal(d.task.argv.v[2], "x");
	assert_false(d.task.warning_on_stderr);
	done(&d);
}

static void test_script_task_windows_target(void **state)
{
	struct decoded d;

	(void)state;
	decode(&d, "\"type\":\"" SHELL "\",\"commands\":[\"a\",\"b\"],\"targetOS\":\"WINDOWS\"");
	assert_int_equal(d.r, 0);
	/* the set -e line becomes an empty line and lines join with CRLF */
	assert_string_equal(d.task.argv.v[2], "\r\na\r\nb");
	done(&d);
}

static void test_script_task_shell_script_inline(void **state)
{
	struct decoded d;

	(void)state;
	decode(&d,
	       "\"type\":\"io.kestra.plugin.scripts.shell.Script\",\"script\":\"echo 1\\necho 2\"");
	assert_int_equal(d.r, 0);
	assert_string_equal(d.task.argv.v[2], "set -e\necho 1\necho 2");
	assert_null(d.task.script_file);
	done(&d);
}

static void test_script_task_python_script_file_and_env(void **state)
{
	struct decoded d;
	char expect[128];

	(void)state;
	decode(&d, "\"type\":\"io.kestra.plugin.scripts.python.Script\",\"script\":\"print(1)\","
	           "\"env\":{\"PYTHONUNBUFFERED\":\"no\",\"A\":\"1\"}");
	assert_int_equal(d.r, 0);
	assert_non_null(d.task.script_file);
	assert_non_null(strstr(d.task.script_file, ".py"));
	assert_string_equal(d.task.script_body, "print(1)");
	snprintf(expect, sizeof(expect), "set -e\npython /tmp/wd/%s", d.task.script_file);
	assert_string_equal(d.task.argv.v[2], expect);
	/* the language extras override the task env */
	assert_string_equal(kwg_strv_getenv(&d.task.env, "PYTHONUNBUFFERED"), "true");
	assert_string_equal(kwg_strv_getenv(&d.task.env, "A"), "1");
	assert_string_equal(kwg_strv_getenv(&d.task.env, "PIP_DISABLE_PIP_VERSION_CHECK"), "1");
	done(&d);
}

static void test_script_task_env_as_string(void **state)
{
	struct decoded d;

	(void)state;
	decode(&d, "\"type\":\"" SHELL
	           "\",\"commands\":[\"x\"],\"env\":\"{\\\"A\\\":\\\"1\\\",\\\"B\\\":2}\"");
	assert_int_equal(d.r, 0);
	assert_string_equal(kwg_strv_getenv(&d.task.env, "A"), "1");
	assert_string_equal(kwg_strv_getenv(&d.task.env, "B"), "2");
	done(&d);
}

static void test_script_task_timeout_and_log_level(void **state)
{
	struct decoded d;

	(void)state;
	decode(&d, "\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"timeout\":\"PT1M30S\","
	           "\"logLevel\":\"WARN\"");
	assert_int_equal(d.r, 0);
	assert_int_equal(d.task.timeout_ms, 90000);
	assert_int_equal(d.task.log_level, KWG_LEVEL_WARN);
	done(&d);
	decode(&d, "\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"timeout\":\"soon\"");
	assert_int_equal(d.r, -EBADMSG);
	assert_string_equal(d.err.msg, "property 'timeout': 'soon' is not a duration");
	done(&d);
}

static void test_script_task_log_task(void **state)
{
	struct decoded d;

	(void)state;
	decode(&d, "\"type\":\"io.kestra.plugin.core.log.Log\",\"message\":[\"a\",\"b\"],"
	           "\"level\":\"WARN\"");
	assert_int_equal(d.r, 0);
	assert_int_equal(d.task.kind, KWG_TASK_LOG);
	assert_int_equal(d.task.messages.n, 2);
	assert_int_equal(d.task.message_level, KWG_LEVEL_WARN);
	done(&d);
}

static void test_script_task_refusals_name_the_input(void **state)
{
	static const struct {
		const char *members;
		int r;
		const char *msg;
	} cases[] = {
	    {"\"type\":\"io.kestra.plugin.scripts.r.Script\"", -EOPNOTSUPP,
	     "task type 'io.kestra.plugin.scripts.r.Script' is not supported by kwg"},
	    {"\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"logToFile\":true", -EOPNOTSUPP,
	     "property 'logToFile' is not supported by kwg yet"},
	    {"\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"dependencies\":[\"a\"]", -EOPNOTSUPP,
	     "property 'dependencies' is not supported by kwg for "
	     "'io.kestra.plugin.scripts.shell.Commands'"},
	    {"\"type\":\"" SHELL "\"", -EBADMSG, "property 'commands' is required"},
	    {"\"type\":\"" SHELL "\",\"commands\":\"not a list\"", -EBADMSG, NULL},
	    {"\"type\":\"" SHELL "\",\"commands\":[{\"a\":1}]", -EBADMSG,
	     "property 'commands'[0]: expected a string"},
	    {"\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"taskRunner\":{\"type\":\"io.x.K8s\"}",
	     -EOPNOTSUPP, "task runner 'io.x.K8s' is not supported by kwg"},
	    {"\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"warningOnStdErr\":\"maybe\"", -EBADMSG,
	     "property 'warningOnStdErr': 'maybe' is not a boolean"},
	    {"\"type\":\"io.kestra.plugin.core.log.Log\",\"message\":\"hi\",\"level\":\"LOUD\"",
	     -EBADMSG, "property 'level': unknown level 'LOUD'"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct decoded d;
		decode(&d, cases[i].members);
		assert_int_equal(d.r, cases[i].r);
		if (cases[i].msg)
			assert_string_equal(d.err.msg, cases[i].msg);
		else
			assert_non_null(strstr(d.err.msg, "commands"));
		done(&d);
	}
}

static void test_script_task_ignores_unset_later_properties(void **state)
{
	struct decoded d;

	(void)state;
	decode(&d, "\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"outputFiles\":\"[]\","
	           "\"inputFiles\":{},\"namespaceFiles\":{\"enabled\":false},\"logToFile\":false");
	assert_int_equal(d.r, 0);
	done(&d);
}

#define DOCKER "\"type\":\"io.kestra.plugin.scripts.runner.docker.Docker\""

static void test_script_task_docker_properties(void **state)
{
	struct decoded d;
	const struct kwg_docker_opts *o = &d.task.docker;

	(void)state;
	/* Kestra 1.x strings and plain values mixed, as the executor may send them. */
	decode(&d, "\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"containerImage\":\"alpine:3\","
	           "\"taskRunner\":{" DOCKER
	           ",\"pullPolicy\":\"NEVER\",\"entryPoint\":\"[\\\"sh\\\"]\","
	           "\"user\":\"1000\",\"cpu\":{\"cpus\":\"1.5\"},\"memory\":{\"memory\":\"512MB\","
	           "\"memorySwap\":\"1gb\",\"oomKillDisable\":\"true\"},\"shmSize\":\"64MB\","
	           "\"fileHandlingStrategy\":\"MOUNT\",\"delete\":\"false\",\"killGracePeriod\":30,"
	           "\"resume\":false,\"extraHosts\":[\"db:10.0.0.2\"],"
	           "\"deviceRequests\":[{\"driver\":\"nvidia\",\"count\":\"-1\","
	           "\"capabilities\":[[\"gpu\"]]}],"
	           "\"credentials\":{\"username\":\"u\",\"password\":\"p\"}}");
	assert_int_equal(d.r, 0);
	assert_int_equal(d.task.runner, KWG_RUNNER_DOCKER);
	assert_string_equal(o->image, "alpine:3");
	assert_int_equal(o->pull_policy, KWG_PULL_NEVER);
	assert_true(o->entrypoint_set);
	assert_string_equal(o->entrypoint.v[0], "sh");
	assert_string_equal(o->user, "1000");
	assert_true(o->nano_cpus == 1500000000);
	assert_true(o->memory == 512ll << 20);
	assert_true(o->memory_swap == 1ll << 30);
	assert_true(o->memory_reservation == KWG_DOCKER_UNSET);
	assert_int_equal(o->oom_kill_disable, 1);
	assert_true(o->shm_size == 64ll << 20);
	assert_true(o->mount_files);
	assert_false(o->delete_container);
	assert_true(o->kill_grace_ms == 30000);
	assert_false(o->resume);
	assert_string_equal(o->extra_hosts.v[0], "db:10.0.0.2");
	assert_string_equal(o->device_requests,
	                    "[{\"Driver\":\"nvidia\",\"Count\":-1,\"Capabilities\":[[\"gpu\"]]}]");
	assert_non_null(
	    strstr(o->registry_auth, "\"serveraddress\":\"https://index.docker.io/v1/\""));
	assert_non_null(strstr(o->registry_auth, "\"username\":\"u\""));
	done(&d);

	/* Defaults: the language's image, IF_NOT_PRESENT, Kestra's [""] entry point, delete. */
	decode(&d, "\"type\":\"io.kestra.plugin.scripts.python.Commands\",\"commands\":[\"x\"]");
	assert_int_equal(d.r, 0);
	assert_string_equal(o->image, "ghcr.io/kestra-io/kestrapy:latest");
	assert_int_equal(o->pull_policy, KWG_PULL_IF_NOT_PRESENT);
	assert_false(o->entrypoint_set);
	assert_true(o->delete_container && o->wait && o->resume && !o->mount_files);
	assert_null(o->registry_auth);
	done(&d);
}

static void test_script_task_docker_refusals(void **state)
{
	static const struct {
		const char *runner;
		const char *msg;
	} cases[] = {
	    {DOCKER ",\"pullPolicy\":\"SOMETIMES\"",
	     "property 'taskRunner.pullPolicy': 'SOMETIMES' is not one of IF_NOT_PRESENT, ALWAYS, "
	     "NEVER"},
	    {DOCKER ",\"memory\":{\"memory\":\"lots\"}",
	     "property 'taskRunner.memory.memory': 'lots' is not a size such as 512MB"},
	    {DOCKER ",\"memory\":{\"kernelMemory\":\"1GB\"}",
	     "property 'taskRunner.memory.kernelMemory' is not supported by kwg (the Engine API "
	     "dropped it)"},
	    {DOCKER ",\"cpu\":{\"cpus\":\"-1\"}",
	     "property 'taskRunner.cpu.cpus': '-1' is not a number of CPUs"},
	    {DOCKER ",\"fileHandlingStrategy\":\"COPY\"",
	     "property 'taskRunner.fileHandlingStrategy': 'COPY' is not VOLUME or MOUNT"},
	    {DOCKER ",\"portBindings\":[\"80:80\"]",
	     "property 'taskRunner.portBindings' is not supported by kwg yet"},
	    {DOCKER ",\"config\":\"{}\",\"gpus\":1", NULL},
	    {DOCKER ",\"gpus\":1", "property 'taskRunner.gpus' is not supported by kwg"},
	    {DOCKER ",\"credentials\":{\"token\":\"x\"}",
	     "property 'taskRunner.credentials.token' is not supported by kwg"},
	    {DOCKER ",\"killGracePeriod\":\"soon\"",
	     "property 'taskRunner.killGracePeriod': 'soon' is not a duration"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct decoded d;
		char members[1024];
		snprintf(members, sizeof(members),
		         "\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"taskRunner\":{%s}",
		         cases[i].runner);
		decode(&d, members);
		assert_true(d.r < 0);
		if (cases[i].msg)
			assert_string_equal(d.err.msg, cases[i].msg);
		done(&d);
	}
}

static void test_durations_as_java_reads_them(void **state)
{
	int64_t ms;
	char buf[32];

	(void)state;
	assert_int_equal(kwg_duration_parse("PT1M", &ms), 0);
	assert_int_equal(ms, 60000);
	assert_int_equal(kwg_duration_parse("PT0.5S", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(kwg_duration_parse("P1DT2H", &ms), 0);
	assert_int_equal(ms, 93600000);
	assert_int_equal(kwg_duration_parse("pt2m3s", &ms), 0);
	assert_int_equal(ms, 123000);
	assert_int_equal(kwg_duration_parse("30", &ms), 0); /* a number of seconds */
	assert_int_equal(ms, 30000);
	assert_int_equal(kwg_duration_parse("PT", &ms), -EINVAL);
	assert_int_equal(kwg_duration_parse("P1H", &ms), -EINVAL);
	assert_int_equal(kwg_duration_parse("1 minute", &ms), -EINVAL);
	kwg_duration_format_hms(3723004, buf);
	assert_string_equal(buf, "1:02:03.004");
	kwg_duration_format_hms(500, buf);
	assert_string_equal(buf, "0:00:00.500");
}

#define VARS                                                                                       \
	"\"variables\":{\"inputs\":{\"name\":\"Ada\",\"token\":\"tok-1\"},\"task\":{\"id\":"       \
	"\"stale\"},\"outputs\":{\"a\":{\"vars\":{\"cmds\":[\"echo 1\",\"echo 2\"]}}}},"           \
	"\"secretInputs\":[\"token\"]"

static void test_script_task_renders_properties(void **state)
{
	struct decoded d;

	(void)state;
	/* A 1.x list string is rendered whole, then parsed; workingDir is there; task and taskrun
	 * are the worker's. */
	decode_ctx(&d,
	           "\"type\":\"" SHELL "\",\"commands\":\"[\\\"echo {{ inputs.name }} "
	           "{{ workingDir }} {{ task.id }} {{ taskrun.id }}\\\"]\"," PROCESS,
	           VARS);
	assert_int_equal(d.r, 0);
	assert_string_equal(d.task.argv.v[2], "set -e\necho Ada /tmp/wd t r");
	assert_int_equal(d.task.masks.n, 1);
	assert_string_equal(d.task.masks.v[0], "tok-1");
	done(&d);
	/* A whole-expression list: the earlier task's output list becomes the commands. */
	decode_ctx(&d, "\"type\":\"" SHELL "\",\"commands\":\"{{ outputs.a.vars.cmds }}\"," PROCESS,
	           VARS);
	assert_int_equal(d.r, 0);
	assert_string_equal(d.task.argv.v[2], "set -e\necho 1\necho 2");
	done(&d);
	/* env: a map string parsed first, each entry rendered; secret() through the hook. */
	decode_ctx(&d,
	           "\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"env\":\"{\\\"{{ inputs.name "
	           "}}\\\":\\\"{{ secret('my_pass') }}\\\"}\"," PROCESS,
	           VARS);
	assert_int_equal(d.r, 0);
	assert_string_equal(kwg_strv_getenv(&d.task.env, "Ada"), "s3cr3t");
	done(&d);
}

static void test_script_task_render_errors_name_the_property(void **state)
{
	static const struct {
		const char *members;
		int r;
		const char *msg; /* a part of the message */
	} cases[] = {
	    /* KESTRA: env is rendered without the runner's variables. */
	    {"\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"env\":{\"A\":\"{{ workingDir }}\"}",
	     -EINVAL, "property 'env': Unable to find `workingDir`"},
	    {"\"type\":\"" SHELL "\",\"commands\":[\"echo {{ nope }}\"]", -EINVAL,
	     "property 'commands': Unable to find `nope`"},
	    {"\"type\":\"" SHELL "\",\"commands\":[\"echo {{ secret('NOPE') }}\"]", -EINVAL,
	     "Cannot find secret for key 'NOPE'."},
	    {"\"type\":\"" SHELL "\",\"commands\":[\"{% include 'x' %}\"]", -EOPNOTSUPP,
	     "property 'commands': "},
	    {"\"type\":\"io.kestra.plugin.core.log.Log\",\"message\":\"{{ inputs.name | nofilter "
	     "}}\"",
	     -EOPNOTSUPP, "nofilter"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct decoded d;
		decode_ctx(&d, cases[i].members, VARS);
		assert_int_equal(d.r, cases[i].r);
		if (!strstr(d.err.msg, cases[i].msg))
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].msg, d.err.msg);
		done(&d);
	}
}

/* KESTRA: a Python/Node Script body is rendered again as an input file (§8.6): what {% raw %}
 * kept comes out evaluated. */
static void test_script_task_script_rendered_twice(void **state)
{
	struct decoded d;

	(void)state;
	decode_ctx(&d,
	           "\"type\":\"io.kestra.plugin.scripts.python.Script\",\"script\":\"print('{% raw "
	           "%}{{ inputs.name }}{% endraw %}')\"," PROCESS,
	           VARS);
	assert_int_equal(d.r, 0);
	assert_string_equal(d.task.script_body, "print('Ada')");
	done(&d);
	decode_ctx(&d,
	           "\"type\":\"io.kestra.plugin.scripts.shell.Script\",\"script\":\"echo '{% raw "
	           "%}{{ x }}{% endraw %}'\"," PROCESS,
	           VARS);
	assert_int_equal(d.r, 0);
	assert_string_equal(d.task.argv.v[2], "set -e\necho '{{ x }}'");
	done(&d);
}

static void test_script_task_files(void **state)
{
	struct decoded d;

	(void)state;
	decode_ctx(
	    &d,
	    "\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"inputFiles\":{\"a/b.txt\":"
	    "\"{{ inputs.name }} in {{ workingDir }}\",\"gone\":null,\"f\":\"kestra:///n/x\"},"
	    "\"outputFiles\":\"[\\\"*.csv\\\",\\\"{{ inputs.name }}.txt\\\"]\","
	    "\"namespaceFiles\":{\"enabled\":\"true\",\"include\":\"[\\\"**.py\\\"]\","
	    "\"exclude\":[\"tmp/**\"]}," PROCESS,
	    VARS);
	assert_int_equal(d.r, 0);
	assert_int_equal(d.task.input_files.n, 4);
	assert_string_equal(d.task.input_files.v[0], "a/b.txt");
	assert_string_equal(d.task.input_files.v[1], "Ada in /tmp/wd");
	assert_string_equal(d.task.input_files.v[2], "f");
	assert_string_equal(d.task.input_files.v[3], "kestra:///n/x");
	assert_int_equal(d.task.output_files.n, 2);
	assert_string_equal(d.task.output_files.v[1], "Ada.txt");
	assert_true(d.task.namespace_files);
	assert_string_equal(d.task.ns_include.v[0], "**.py");
	assert_string_equal(d.task.ns_exclude.v[0], "tmp/**");
	done(&d);
	/* inputFiles as a string holding a JSON object, rendered whole first. */
	decode_ctx(&d,
	           "\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"inputFiles\":\"{\\\"in.txt\\\""
	           ":\\\"{{ inputs.name }}\\\"}\"," PROCESS,
	           VARS);
	assert_int_equal(d.r, 0);
	assert_string_equal(d.task.input_files.v[1], "Ada");
	done(&d);
}

static void test_script_task_file_refusals(void **state)
{
	static const struct {
		const char *members;
		int r;
		const char *msg;
	} cases[] = {
	    {"\"inputFiles\":{\"../x\":\"a\"}", -EBADMSG,
	     "property 'inputFiles': '../x' leads out of the working directory"},
	    {"\"inputFiles\":{\"a/../../x\":\"a\"}", -EBADMSG,
	     "leads out of the working directory"},
	    {"\"inputFiles\":{\"/etc/passwd\":\"a\"}", -EBADMSG,
	     "property 'inputFiles': '/etc/passwd' is not a relative file name"},
	    {"\"inputFiles\":{\"a/..\":\"a\"}", -EBADMSG, "names no file"},
	    {"\"inputFiles\":\"not json\"", -EBADMSG, "property 'inputFiles' is not a JSON object"},
	    {"\"namespaceFiles\":{\"namespaces\":[\"other\"]}", -EOPNOTSUPP,
	     "property 'namespaceFiles.namespaces' is not supported by kwg"},
	    {"\"outputDirectory\":true", -EOPNOTSUPP,
	     "property 'outputDirectory' is not supported by kwg yet"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct decoded d;
		char members[512];
		snprintf(members, sizeof(members), "\"type\":\"" SHELL "\",\"commands\":[\"x\"],%s",
		         cases[i].members);
		decode(&d, members);
		assert_int_equal(d.r, cases[i].r);
		if (!strstr(d.err.msg, cases[i].msg))
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].msg, d.err.msg);
		done(&d);
	}
}

static void test_script_task_return(void **state)
{
	struct decoded d;

	(void)state;
	decode_ctx(&d,
	           "\"type\":\"io.kestra.plugin.core.debug.Return\",\"format\":\"{{ "
	           "inputs.name }}!\"",
	           VARS);
	assert_int_equal(d.r, 0);
	assert_int_equal(d.task.kind, KWG_TASK_RETURN);
	assert_string_equal(d.task.return_outputs, "{\"value\":\"Ada!\"}");
	done(&d);
}

/* SECRET inputs as the executor stores them (EncryptedString), encrypted with Python's
 * cryptography AESGCM: key bytes 0..15, IV bytes 0..11. */
#define KEY16 "AAECAwQFBgcICQoLDA0ODw=="
#define ENC(v) "{\"type\":\"io.kestra.datatype:aes_encrypted\",\"value\":\"" v "\"}"
#define ENC_ABC ENC("AAECAwQFBgcICQoL8g7EeelZu2li95eFq8r4lP9nyQ==")
#define ENC_DB ENC("AAECAwQFBgcICQoL+xnJugNpxXQvsNCPH6PBpfm6j27USLsFTbY=") /* hunter2 db */
#define ENC_TOK ENC("AAECAwQFBgcICQoL5wPM4190qa1RePtgirunRgs8vCVt")        /* tok-9 */
#define ENC_VARS                                                                                   \
	"\"variables\":{\"inputs\":{\"pass\":" ENC_ABC ",\"db\":{\"pw\":" ENC_DB "},\"list\":["    \
	"" ENC_TOK "],\"unused\":" ENC("AAAA") "},\"outputs\":{\"a\":{\"enc\":" ENC_ABC "}}},"     \
	                                       "\"secretInputs\":[\"pass\",\"unused\"]"

static void test_script_task_decrypts_secret_inputs(void **state)
{
	struct decoded d;

	(void)state;
	/* Top level, nested, in a list; the same input twice is masked once; an encrypted input
	 * no template reads is never decrypted (its bad value does no harm). */
	decode_key(&d,
	           "\"type\":\"" SHELL "\",\"commands\":[\"echo {{ inputs.pass }} {{ inputs.db.pw "
	           "}} {{ inputs.list[0] }} {{ inputs.pass }}\"]," PROCESS,
	           ENC_VARS, KEY16);
	assert_int_equal(d.r, 0);
	assert_string_equal(d.task.argv.v[2], "set -e\necho abc hunter2 db tok-9 abc");
	assert_int_equal(d.task.masks.n, 3);
	assert_string_equal(d.task.masks.v[0], "abc");
	assert_string_equal(d.task.masks.v[1], "hunter2 db");
	assert_string_equal(d.task.masks.v[2], "tok-9");
	done(&d);
	/* Only inputs: an encrypted output stays the object. */
	decode_key(
	    &d, "\"type\":\"" SHELL "\",\"commands\":[\"echo {{ outputs.a.enc.type }}\"]," PROCESS,
	    ENC_VARS, KEY16);
	assert_int_equal(d.r, 0);
	assert_string_equal(d.task.argv.v[2], "set -e\necho io.kestra.datatype:aes_encrypted");
	assert_int_equal(d.task.masks.n, 0);
	done(&d);
	/* In env, through the map path. */
	decode_key(&d,
	           "\"type\":\"" SHELL "\",\"commands\":[\"x\"],\"env\":{\"PW\":\"{{ inputs.db.pw "
	           "}}\"}," PROCESS,
	           ENC_VARS, KEY16);
	assert_int_equal(d.r, 0);
	assert_string_equal(kwg_strv_getenv(&d.task.env, "PW"), "hunter2 db");
	done(&d);
}

/* Kestra 2.x: the inputs are in data.variables (kestra-2x-protocol.md §3.3). */
static void test_script_task_decrypts_gen2_inputs(void **state)
{
	static const char json[] =
	    "{\"job\":{\"type\":\"task\",\"taskRun\":{\"tenantId\":\"main\",\"id\":\"r\","
	    "\"executionId\":\"e\",\"namespace\":\"n\",\"flowId\":\"f\",\"taskId\":\"t\","
	    "\"state\":{\"current\":\"SUBMITTED\"}},\"task\":{\"id\":\"t\",\"type\":\"" SHELL "\","
	    "\"commands\":[\"echo {{ inputs.pw }}\"]," PROCESS "},\"data\":{\"variables\":{"
	    "\"inputs\":{\"pw\":" ENC_DB "}},\"secretInputs\":[\"pw\"],\"traceParent\":null}}}";
	struct kwg_script_task_opts opts = {.working_dir = "/tmp/wd", .encryption_key = KEY16};
	struct kwg_err err = {{0}};
	struct kwg_script_task task;
	struct kwg_job *job = NULL;

	(void)state;
	assert_int_equal(kwg_job_decode(json, strlen(json), &job, &err), 0);
	assert_int_equal(kwg_job_generation(job), 2);
	assert_int_equal(kwg_script_task_decode(job, &opts, &task, &err), 0);
	assert_string_equal(task.argv.v[2], "set -e\necho hunter2 db");
	assert_int_equal(task.masks.n, 1);
	assert_string_equal(task.masks.v[0], "hunter2 db");
	kwg_script_task_done(&task);
	/* A key from elsewhere (a 2.x controller pushed it): errors name it as told. */
	opts.encryption_key = "AQECAwQFBgcICQoLDA0ODw==";
	opts.encryption_key_name = "the key the controller pushed";
	assert_int_equal(kwg_script_task_decode(job, &opts, &task, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "input 'pw' cannot be decrypted with the key the "
	                                "controller pushed (Tag mismatch)"));
	kwg_script_task_done(&task);
	kwg_job_free(job);
}

static void test_script_task_secret_input_errors(void **state)
{
	struct decoded d;

	(void)state;
	/* No key: the message names the input and the setting. */
	decode_key(&d, "\"type\":\"" SHELL "\",\"commands\":[\"echo {{ inputs.db.pw }}\"]," PROCESS,
	           ENC_VARS, NULL);
	assert_int_equal(d.r, -EINVAL);
	assert_non_null(strstr(d.err.msg, "property 'commands'"));
	assert_non_null(strstr(d.err.msg, "input 'db.pw' is encrypted"));
	assert_non_null(strstr(d.err.msg, "encryption_secret_key"));
	done(&d);
	/* A wrong key, then a changed value: named, and nothing leaks into the masks. */
	decode_key(&d,
	           "\"type\":\"" SHELL "\",\"commands\":[\"echo {{ inputs.list[0] }}\"]," PROCESS,
	           ENC_VARS, "AQECAwQFBgcICQoLDA0ODw==");
	assert_int_equal(d.r, -EINVAL);
	assert_non_null(strstr(d.err.msg, "input 'list[0]' cannot be decrypted"));
	assert_non_null(strstr(d.err.msg, "with encryption_secret_key (Tag mismatch)"));
	assert_int_equal(d.task.masks.n, 0);
	done(&d);
	decode_key(&d,
	           "\"type\":\"" SHELL "\",\"commands\":[\"echo {{ inputs.unused }}\"]," PROCESS,
	           ENC_VARS, KEY16);
	assert_int_equal(d.r, -EINVAL);
	assert_non_null(strstr(d.err.msg, "input 'unused' cannot be decrypted"));
	done(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_script_task_commands_as_1x_string),
	    cmocka_unit_test(test_script_task_commands_as_plain_list),
	    cmocka_unit_test(test_script_task_booleans_as_strings),
	    cmocka_unit_test(test_script_task_windows_target),
	    cmocka_unit_test(test_script_task_shell_script_inline),
	    cmocka_unit_test(test_script_task_python_script_file_and_env),
	    cmocka_unit_test(test_script_task_env_as_string),
	    cmocka_unit_test(test_script_task_timeout_and_log_level),
	    cmocka_unit_test(test_script_task_log_task),
	    cmocka_unit_test(test_script_task_refusals_name_the_input),
	    cmocka_unit_test(test_script_task_ignores_unset_later_properties),
	    cmocka_unit_test(test_script_task_docker_properties),
	    cmocka_unit_test(test_script_task_docker_refusals),
	    cmocka_unit_test(test_durations_as_java_reads_them),
	    cmocka_unit_test(test_script_task_renders_properties),
	    cmocka_unit_test(test_script_task_render_errors_name_the_property),
	    cmocka_unit_test(test_script_task_script_rendered_twice),
	    cmocka_unit_test(test_script_task_files),
	    cmocka_unit_test(test_script_task_file_refusals),
	    cmocka_unit_test(test_script_task_return),
	    cmocka_unit_test(test_script_task_decrypts_secret_inputs),
	    cmocka_unit_test(test_script_task_decrypts_gen2_inputs),
	    cmocka_unit_test(test_script_task_secret_input_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
