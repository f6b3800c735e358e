# fcgihost_include_root(TARGET PART): TARGET's headers are included as
# <PART/...>, through an include root in the build tree that holds PART and
# nothing else. Its users see only that root (and those of what it links), so
# the direction of the parts is enforced by the compiler: runners cannot
# include <host/...>, nor the client <runners/...>. Within a part, the
# layering test (tests/layout) checks the direction between its folders.
function(fcgihost_include_root target part)
  set(root ${PROJECT_BINARY_DIR}/include-roots/${part})
  file(MAKE_DIRECTORY ${root})
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${part} ${root}/${part} SYMBOLIC)
  target_include_directories(${target} PUBLIC ${root})
endfunction()
