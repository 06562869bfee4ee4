# Warnings (style.md §14), each probed so that gcc and clang both accept the list.
include(CheckCCompilerFlag)

set(KWG_WARNING_FLAGS
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations
  -Wold-style-definition -Wformat=2 -Wformat-security -Wpointer-arith -Wwrite-strings -Wundef
  -Wvla -Wimplicit-fallthrough -Wnull-dereference -Wno-unused-parameter
  -Werror=implicit-function-declaration -Werror=return-type -Werror=incompatible-pointer-types
  -Werror=int-conversion)
if(KWG_PICKY)
  list(APPEND KWG_WARNING_FLAGS -Wconversion -Wsign-conversion)
endif()

set(KWG_C_FLAGS "")
foreach(flag IN LISTS KWG_WARNING_FLAGS)
  string(MAKE_C_IDENTIFIER "HAVE${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    list(APPEND KWG_C_FLAGS ${flag})
  endif()
endforeach()
if(KWG_WERROR)
  list(APPEND KWG_C_FLAGS -Werror)
endif()

# Hardening.
list(APPEND KWG_C_FLAGS -fstack-protector-strong)
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug" AND NOT KWG_SANITIZE)
  list(APPEND KWG_C_FLAGS -D_FORTIFY_SOURCE=2)
endif()
set(KWG_LINK_FLAGS -Wl,-z,relro,-z,now -Wl,--as-needed)
