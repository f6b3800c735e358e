# fcgihost_warnings(TARGET): the project's warning set, errors when FCGIHOST_WERROR is on (CI).
function(fcgihost_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra>
    $<$<BOOL:${FCGIHOST_WERROR}>:-Werror>)
endfunction()
