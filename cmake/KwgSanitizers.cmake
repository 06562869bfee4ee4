# KWG_SANITIZE=address,undefined (any -fsanitize= list) instruments every target.
if(KWG_SANITIZE)
  list(APPEND KWG_C_FLAGS -fsanitize=${KWG_SANITIZE} -fno-sanitize-recover=all
       -fno-omit-frame-pointer)
  list(APPEND KWG_LINK_FLAGS -fsanitize=${KWG_SANITIZE})
endif()
