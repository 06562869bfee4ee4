/* SPDX-License-Identifier: Apache-2.0 */
/* common/: buffers, parsers, instants, ids, string vectors; and protocol durations are in
 * test_script_task. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/id.h"
#include "common/parse.h"
#include "common/strv.h"

/* A whole fd to its end, and the maximum kept. */
static void test_buf_read_fd(void **state)
{
	struct kwg_buf b;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "hello, fd", 9), 9);
	close(fds[1]);
	kwg_buf_init(&b, 5);
	assert_int_equal(kwg_buf_read_fd(&b, fds[0]), -EMSGSIZE);
	assert_int_equal(b.len, 0);
	close(fds[0]);
	kwg_buf_done(&b);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "hello, fd", 9), 9);
	close(fds[1]);
	kwg_buf_init(&b, 64);
	assert_int_equal(kwg_buf_read_fd(&b, fds[0]), 0);
	assert_string_equal(b.data, "hello, fd");
	close(fds[0]);
	assert_int_equal(kwg_buf_read_fd(&b, fds[0]), -EBADF);
	kwg_buf_done(&b);
}

static void test_buf_refuses_past_max(void **state)
{
	struct kwg_buf b;

	(void)state;
	kwg_buf_init(&b, 8);
	assert_int_equal(kwg_buf_puts(&b, "12345678"), 0);
	assert_int_equal(kwg_buf_putc(&b, '9'), -EMSGSIZE);
	assert_string_equal(kwg_buf_str(&b), "12345678");
	kwg_buf_consume(&b, 3);
	assert_string_equal(kwg_buf_str(&b), "45678");
	assert_int_equal(kwg_buf_printf(&b, "%d", 12), 0);
	assert_string_equal(kwg_buf_str(&b), "4567812");
	kwg_buf_done(&b);
}

static void test_parse_strict(void **state)
{
	uint32_t u;
	uint64_t ms;
	bool yes;

	(void)state;
	assert_int_equal(kwg_parse_u32("8", 1, 1024, &u), 0);
	assert_int_equal(u, 8);
	assert_int_equal(kwg_parse_u32("0", 1, 1024, &u), -ERANGE);
	assert_int_equal(kwg_parse_u32("-1", 1, 1024, &u), -ERANGE);
	assert_int_equal(kwg_parse_u32("8x", 1, 1024, &u), -EINVAL);
	assert_int_equal(kwg_parse_u32(" 8", 1, 1024, &u), -EINVAL);
	assert_int_equal(kwg_parse_duration_ms("30s", &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(kwg_parse_duration_ms("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(kwg_parse_duration_ms("2m", &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(kwg_parse_duration_ms("2 m", &ms), -EINVAL);
	assert_int_equal(kwg_parse_bool("Yes", &yes), 0);
	assert_true(yes);
	assert_int_equal(kwg_parse_bool("nope", &yes), -EINVAL);
}

static void test_parse_host_port(void **state)
{
	static const char *const bad[] = {"::1:443", ":443",  "[]:443",  "[::1]443", "[::1:443",
	                                  "h",       "h:0",   "h:65536", "h:",       "h:+1",
	                                  "h:1x",    "a b:1", "[zz]:1",  "",         "h:-1"};
	char *host, *port;
	const char *why;

	(void)state;
	assert_int_equal(kwg_parse_host_port("kestra:50051", &host, &port, &why), 0);
	assert_string_equal(host, "kestra");
	assert_string_equal(port, "50051");
	free(host);
	free(port);
	assert_int_equal(kwg_parse_host_port("[::1]:65535", &host, &port, &why), 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "65535");
	free(host);
	free(port);
	assert_int_equal(kwg_parse_host_port("[::1]:65535", NULL, NULL, &why), 0);
	assert_null(why);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kwg_parse_host_port(bad[i], &host, &port, &why), -EINVAL);
		assert_non_null(why);
		assert_null(host);
		assert_int_equal(kwg_parse_host_port(bad[i], NULL, NULL, &why), -EINVAL);
		assert_non_null(why);
	}
}

static void test_clock_instants_round_trip(void **state)
{
	char buf[KWG_INSTANT_LEN];
	int64_t us;

	(void)state;
	assert_int_equal(kwg_clock_parse_instant("2025-09-02T10:15:30.101234Z", &us), 0);
	kwg_clock_format_instant(us, buf);
	assert_string_equal(buf, "2025-09-02T10:15:30.101234Z");
	/* any fraction length on read */
	assert_int_equal(kwg_clock_parse_instant("2025-09-02T10:15:30.1Z", &us), 0);
	kwg_clock_format_instant(us, buf);
	assert_string_equal(buf, "2025-09-02T10:15:30.100000Z");
	assert_int_equal(kwg_clock_parse_instant("2025-09-02T10:15:30.123456789Z", &us), 0);
	kwg_clock_format_instant(us, buf);
	assert_string_equal(buf, "2025-09-02T10:15:30.123456Z");
	assert_int_equal(kwg_clock_parse_instant("2025-09-02T10:15:30Z", &us), 0);
	assert_int_equal(kwg_clock_parse_instant("2025-09-02 10:15:30Z", &us), -EINVAL);
	assert_int_equal(kwg_clock_parse_instant("2025-09-02T10:15:30", &us), -EINVAL);
}

static void test_ids_have_their_shape(void **state)
{
	char id[KWG_ID_LEN], other[KWG_ID_LEN], uuid[KWG_UUID_LEN];

	(void)state;
	kwg_id_friendly(id);
	kwg_id_friendly(other);
	assert_true(strlen(id) >= 16 && strlen(id) <= 22);
	assert_int_equal(
	    strspn(id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
	    strlen(id));
	assert_string_not_equal(id, other);
	kwg_id_uuid4(uuid);
	assert_int_equal(strlen(uuid), 36);
	assert_int_equal(uuid[14], '4');
	assert_int_equal(uuid[8], '-');
}

static void test_strv_setenv_replaces(void **state)
{
	struct kwg_strv sv = {0};

	(void)state;
	assert_int_equal(kwg_strv_setenv(&sv, "A", "1"), 0);
	assert_int_equal(kwg_strv_setenv(&sv, "AB", "2"), 0);
	assert_int_equal(kwg_strv_setenv(&sv, "A", "3"), 0);
	assert_int_equal(sv.n, 2);
	assert_string_equal(kwg_strv_getenv(&sv, "A"), "3");
	assert_string_equal(kwg_strv_getenv(&sv, "AB"), "2");
	assert_null(kwg_strv_getenv(&sv, "B"));
	assert_null(sv.v[sv.n]);
	kwg_strv_done(&sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_refuses_past_max),
	    cmocka_unit_test(test_buf_read_fd),
	    cmocka_unit_test(test_parse_strict),
	    cmocka_unit_test(test_parse_host_port),
	    cmocka_unit_test(test_clock_instants_round_trip),
	    cmocka_unit_test(test_ids_have_their_shape),
	    cmocka_unit_test(test_strv_setenv_replaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
