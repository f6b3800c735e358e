# fcgihost_warnings(TARGET): the project's warning set, errors when FCGIHOST_WERROR is on (CI).
function(fcgihost_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
    # g++ 12 reports its own coroutine frame deallocation in Asio's awaitables
    # as mismatched (a false positive on every co_spawn'd coroutine).
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-mismatched-new-delete>
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra>
    $<$<BOOL:${FCGIHOST_WERROR}>:-Werror>)
endfunction()
