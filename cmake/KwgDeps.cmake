# Third-party libraries, all from Debian 12 packages, imported through pkg-config.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv>=1.44)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson>=2.14)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq>=15)
# libcurl: headers only; loaded at the first Docker request or S3 transfer (common/lazy_curl.c).
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl>=7.88)
pkg_check_modules(LIBSECCOMP REQUIRED IMPORTED_TARGET libseccomp>=2.5)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
# libmicrohttpd and libarchive: headers only; loaded at first use (common/lazy_mhd.c, lazy_archive.c).
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd>=0.9.75)
# template/template.c: sha1/sha512/md5 filters (EVP) and the jq filter (Debian's libjq-dev has
# no pkg-config file; libjq.so.1 is loaded at the first jq filter, common/lazy_jq.c, so only its
# header is needed here).
pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto>=3.0)
find_path(JQ_INCLUDE_DIR jq.h REQUIRED)
# template/jregex.c: Java regular expressions in templates.
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8>=10.42)
# template/unicode.c: Java's case mapping and NFD (Debian's libunistring-dev has no pkg-config
# file).
find_library(UNISTRING_LIB unistring REQUIRED)
find_path(UNISTRING_INCLUDE_DIR unicase.h REQUIRED)
# transport/grpc: Kestra 2.x's worker controller (HTTP/2 and protobuf; protoc-c at build time).
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2>=1.52)
pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET libprotobuf-c>=1.4)
find_program(PROTOC_C protoc-c REQUIRED)
# transport/grpc/tls.c: TLS to the controller (libssl with libcrypto, Debian libssl-dev).
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl>=3.0)
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive>=3.6)
if(KWG_TESTS)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka>=1.1)
endif()
