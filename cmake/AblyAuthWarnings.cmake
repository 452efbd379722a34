# ably_auth_target_warnings(<target> [PEDANTIC])
#
# Strict warnings for our C/C++ test and example programs: -Wall -Wextra -Werror for
# GCC/Clang (plus -Wpedantic with PEDANTIC), /W4 /WX for MSVC. Chosen per source language, so
# a target mixing C and C++ gets the right flags for each file.
function(ably_auth_target_warnings target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "PEDANTIC" "" "")
  set(_gnu_like "$<OR:$<COMPILE_LANG_AND_ID:C,GNU,Clang,AppleClang>,$<COMPILE_LANG_AND_ID:CXX,GNU,Clang,AppleClang>>")
  set(_msvc "$<OR:$<COMPILE_LANG_AND_ID:C,MSVC>,$<COMPILE_LANG_AND_ID:CXX,MSVC>>")
  set(_flags -Wall -Wextra -Werror)
  if(arg_PEDANTIC)
    list(APPEND _flags -Wpedantic)
  endif()
  # A quoted "$<cond:a;b>" keeps the list inside the generator expression.
  target_compile_options(${target} PRIVATE
    "$<${_gnu_like}:${_flags}>"
    "$<${_msvc}:/W4;/WX>")
endfunction()
