/* SPDX-License-Identifier: Apache-2.0 */
/* protocol/controller_meta (the JSON of a 2.x controller's metadata services) and the metadata
 * questions of transport/grpc/wire (KVMetadataRequest, NamespaceFileMetadata*Request). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kv_store.pb-c.h"
#include "metastore.pb-c.h"
#include "namespace_file_content.pb-c.h"
#include "protocol/controller_meta.h"
#include "request.pb-c.h"
#include "transport/grpc/wire.h"

/* 2026-12-05T12:00:00Z */
#define NOW_US (1796472000LL * 1000000)

static int kv(const char *json, struct kwg_controller_meta *m, struct kwg_err *err)
{
	memset(err, 0, sizeof(*err));
	return kwg_controller_kv_meta_decode(json, strlen(json), NOW_US, m, err);
}

static void test_kv_rows(void **state)
{
	struct kwg_controller_meta m;
	struct kwg_err err;

	(void)state;
	assert_int_equal(kv("{\"tenantId\":\"main\",\"namespace\":\"company.team\",\"name\":\"k\","
	                    "\"version\":2,\"last\":true,\"deleted\":false}",
	                    &m, &err),
	                 0);
	assert_true(m.found);
	assert_int_equal(m.version, 2);
	assert_false(m.deleted);
	assert_false(m.expired);
	assert_int_equal(kv("{\"name\":\"k\",\"deleted\":true}", &m, &err), 0);
	assert_true(m.found && m.deleted);
	assert_int_equal(m.version, 1); /* absent: the first revision */
	/* Expired when the date is not after now (kv_metadata's expiration_date <= now()). */
	assert_int_equal(kv("{\"expirationDate\":\"2020-01-01T00:00:00.000Z\"}", &m, &err), 0);
	assert_true(m.expired);
	assert_int_equal(kv("{\"expirationDate\":\"2026-12-05T12:00:00Z\"}", &m, &err), 0);
	assert_true(m.expired);
	assert_int_equal(kv("{\"expirationDate\":\"2026-12-05T12:00:00.000001Z\"}", &m, &err), 0);
	assert_false(m.expired);
	assert_int_equal(kv("{\"expiration_date\":\"2020-01-01T00:00:00Z\"}", &m, &err), 0);
	assert_true(m.expired);
	assert_int_equal(kv("{\"expirationDate\":null}", &m, &err), 0);
	assert_false(m.expired);
	/* No row: an empty message, blanks, JSON null. */
	assert_int_equal(kwg_controller_kv_meta_decode("", 0, NOW_US, &m, &err), 0);
	assert_false(m.found);
	assert_int_equal(kv(" \n", &m, &err), 0);
	assert_false(m.found);
	assert_int_equal(kv("null", &m, &err), 0);
	assert_false(m.found);
}

static void test_kv_errors_name_the_path(void **state)
{
	struct kwg_controller_meta m;
	struct kwg_err err;

	(void)state;
	assert_int_equal(kv("[1]", &m, &err), -EBADMSG);
	assert_string_equal(err.msg, "$: expected an object or null");
	assert_false(m.found);
	assert_int_equal(kv("{\"version\":\"2\"}", &m, &err), -EBADMSG);
	assert_string_equal(err.msg, "$.version: expected an integer >= 1");
	assert_int_equal(kv("{\"version\":0}", &m, &err), -EBADMSG);
	assert_int_equal(kv("{\"deleted\":\"yes\"}", &m, &err), -EBADMSG);
	assert_string_equal(err.msg, "$.deleted: expected a boolean");
	assert_false(m.found);
	assert_int_equal(kv("{\"expirationDate\":\"tomorrow\"}", &m, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "$.expirationDate: "));
	assert_int_equal(kv("{\"expirationDate\":7}", &m, &err), -EBADMSG);
	assert_int_equal(kv("{\"a\":", &m, &err), -EBADMSG);
}

static void test_nsfile_rows(void **state)
{
	struct kwg_controller_meta m;
	struct kwg_err err = {{0}};
	const char *file = "{\"path\":\"/scripts/main.py\",\"version\":3,\"deleted\":false}";
	const char *dir = "{\"path\":\"/scripts/\",\"version\":1,\"deleted\":false}";

	(void)state;
	assert_int_equal(kwg_controller_nsfile_meta_decode(file, strlen(file), &m, &err), 0);
	assert_true(m.found);
	assert_int_equal(m.version, 3);
	assert_false(m.directory);
	assert_int_equal(kwg_controller_nsfile_meta_decode(dir, strlen(dir), &m, &err), 0);
	assert_true(m.directory);
	assert_int_equal(kwg_controller_nsfile_meta_decode("null", 4, &m, &err), 0);
	assert_false(m.found);
	assert_int_equal(kwg_controller_nsfile_meta_decode("{\"version\":1}", 13, &m, &err),
	                 -EBADMSG);
	assert_non_null(strstr(err.msg, "path"));
}

static int list(const char *json, struct kwg_controller_nsfile **files, size_t *n,
                struct kwg_err *err)
{
	memset(err, 0, sizeof(*err));
	return kwg_controller_nsfile_list_decode(json, strlen(json), files, n, err);
}

static void test_nsfile_list(void **state)
{
	struct kwg_controller_nsfile *files;
	struct kwg_err err;
	size_t n;

	(void)state;
	assert_int_equal(list("[{\"path\":\"/z.txt\",\"version\":1,\"last\":true},"
	                      "{\"path\":\"/scripts/main.py\",\"version\":3},"
	                      "{\"path\":\"/scripts/main.py\",\"version\":2,\"last\":false},"
	                      "{\"path\":\"/gone.txt\",\"version\":1,\"deleted\":true},"
	                      "{\"path\":\"/scripts/\",\"version\":1}]",
	                      &files, &n, &err),
	                 0);
	assert_int_equal(n, 2);
	assert_string_equal(files[0].path, "/scripts/main.py");
	assert_int_equal(files[0].version, 3);
	assert_string_equal(files[1].path, "/z.txt");
	assert_int_equal(files[1].version, 1);
	kwg_controller_nsfiles_free(files, n);
	assert_int_equal(list("", &files, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(list("[]", &files, &n, &err), 0);
	assert_int_equal(n, 0);
	kwg_controller_nsfiles_free(files, n);
}

static void test_nsfile_list_refuses(void **state)
{
	static const char *const bad_paths[] = {"relative.txt", "/a/../b", "/..", "/a//b",
	                                        "/./a",         "//a",     ""};
	struct kwg_controller_nsfile *files;
	struct kwg_err err;
	char json[200];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		(void)snprintf(json, sizeof(json), "[{\"path\":\"/ok\"},{\"path\":\"%s\"}]",
		               bad_paths[i]);
		assert_int_equal(list(json, &files, &n, &err), -EBADMSG);
		assert_non_null(strstr(err.msg, "$[1].path: "));
		assert_null(files);
		assert_int_equal(n, 0);
	}
	assert_int_equal(list("{\"path\":\"/a\"}", &files, &n, &err), -EBADMSG);
	assert_string_equal(err.msg, "$: expected an array");
	assert_int_equal(
	    list("[{\"path\":\"/a\"},{\"path\":\"/a\",\"version\":2}]", &files, &n, &err),
	    -EBADMSG);
	assert_non_null(strstr(err.msg, "'/a' is current twice"));
	assert_int_equal(list("[{\"path\":\"/a\",\"last\":1}]", &files, &n, &err), -EBADMSG);
	assert_string_equal(err.msg, "$[0].last: expected a boolean");
	assert_int_equal(list("[7]", &files, &n, &err), -EBADMSG);
	assert_string_equal(err.msg, "$[0]: expected an object or null");
}

static void test_wire_questions(void **state)
{
	const struct kwg_grpc_who who = {"w-1", "2.0.0"};
	size_t len = 0;
	uint8_t *msg;

	(void)state;
	msg = kwg_grpc_pack_kv_meta(&who, "main", "company.team", "k", &len);
	assert_non_null(msg);
	KVMetadataRequest *kv = kvmetadata_request__unpack(NULL, len, msg);
	assert_non_null(kv);
	assert_string_equal(kv->header->clientid, "w-1");
	assert_string_equal(kv->header->messageformat, "JSON");
	assert_string_equal(kv->tenant_id, "main");
	assert_string_equal(kv->namespace_, "company.team");
	assert_string_equal(kv->name, "k");
	kvmetadata_request__free_unpacked(kv, NULL);
	free(msg);

	msg = kwg_grpc_pack_nsfile_meta(&who, NULL, "company.team", "/a.txt", &len);
	assert_non_null(msg);
	NamespaceFileMetadataPathRequest *p =
	    namespace_file_metadata_path_request__unpack(NULL, len, msg);
	assert_non_null(p);
	assert_string_equal(p->tenant_id, "");
	assert_string_equal(p->path, "/a.txt");
	assert_true(p->allow_deleted);
	assert_int_equal(p->version, 0);
	namespace_file_metadata_path_request__free_unpacked(p, NULL);
	free(msg);

	msg = kwg_grpc_pack_nsfile_all(&who, "t", "company", &len);
	assert_non_null(msg);
	NamespaceFileMetadataFindAllRequest *a =
	    namespace_file_metadata_find_all_request__unpack(NULL, len, msg);
	assert_non_null(a);
	assert_string_equal(a->tenant_id, "t");
	assert_string_equal(a->namespace_, "company");
	assert_string_equal(a->containing, "");
	namespace_file_metadata_find_all_request__free_unpacked(a, NULL);
	free(msg);
}

struct got {
	char data[64];
	size_t len, calls;
};

static int collect(void *ctx, const uint8_t *data, size_t len)
{
	struct got *g = ctx;

	if (g->len + len > sizeof(g->data))
		return -EMSGSIZE;
	if (len)
		memcpy(g->data + g->len, data, len);
	g->len += len;
	g->calls++;
	return 0;
}

/* The content questions (kv_store.proto, namespace_file_content.proto) and a StreamChunk. */
static void test_wire_content(void **state)
{
	struct kwg_grpc_who who = {"w-1", "2.0.0"};
	RequestOrResponseHeader h = REQUEST_OR_RESPONSE_HEADER__INIT;
	StreamChunk c = STREAM_CHUNK__INIT;
	struct got g = {0};
	uint8_t buf[128];
	size_t len = 0;
	uint8_t *msg;

	(void)state;
	msg = kwg_grpc_pack_kv_key(&who, "main", "company.team", "k", &len);
	assert_non_null(msg);
	KVKeyRequest *kv = kvkey_request__unpack(NULL, len, msg);
	assert_non_null(kv);
	assert_string_equal(kv->header->clientid, "w-1");
	assert_string_equal(kv->tenant_id, "main");
	assert_string_equal(kv->namespace_, "company.team");
	assert_string_equal(kv->key, "k");
	kvkey_request__free_unpacked(kv, NULL);
	free(msg);

	msg = kwg_grpc_pack_nsfile_object(&who, NULL, "company.team", "scripts/main.py.v2", &len);
	assert_non_null(msg);
	NamespaceFileObjectRequest *o = namespace_file_object_request__unpack(NULL, len, msg);
	assert_non_null(o);
	assert_string_equal(o->tenant_id, "");
	assert_string_equal(o->object, "scripts/main.py.v2");
	namespace_file_object_request__free_unpacked(o, NULL);
	free(msg);

	c.header = &h;
	c.content.data = (uint8_t *)"print(1)";
	c.content.len = 8;
	len = stream_chunk__pack(&c, buf);
	assert_int_equal(kwg_grpc_unpack_chunk(buf, len, collect, &g), 0);
	assert_int_equal(g.len, 8);
	assert_memory_equal(g.data, "print(1)", 8);
	/* An empty chunk is handed over too; a sink's error is the result. */
	c.content.len = 0;
	len = stream_chunk__pack(&c, buf);
	assert_int_equal(kwg_grpc_unpack_chunk(buf, len, collect, &g), 0);
	g.len = sizeof(g.data);
	c.content.len = 8;
	len = stream_chunk__pack(&c, buf);
	assert_int_equal(kwg_grpc_unpack_chunk(buf, len, collect, &g), -EMSGSIZE);
	assert_int_equal(kwg_grpc_unpack_chunk((const uint8_t *)"\xff\xff", 2, collect, &g),
	                 -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kv_rows),
	    cmocka_unit_test(test_kv_errors_name_the_path),
	    cmocka_unit_test(test_nsfile_rows),
	    cmocka_unit_test(test_nsfile_list),
	    cmocka_unit_test(test_nsfile_list_refuses),
	    cmocka_unit_test(test_wire_questions),
	    cmocka_unit_test(test_wire_content),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
