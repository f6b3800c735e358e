# fcgihost_add_plugin(NAME SOURCES...): builds libNAME.so for fcgi-host's
# plugins folder, against the SDK headers only (C++ sources include
# <fcgihost/plugin.hpp>, C sources <fcgihost/plugin.h>). The same file serves
# this project's own build and, installed next to fcgihostConfig.cmake, a
# plugin project's find_package(fcgihost).
function(fcgihost_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE fcgihost::plugin_sdk)
  target_compile_features(${name} PRIVATE cxx_std_20)
  # Only the handler records are exported; nothing else of the plugin can
  # clash with the host or with another plugin.
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(CMAKE_LIBRARY_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_LIBRARY_OUTPUT_DIRECTORY})
  endif()
  if(COMMAND fcgihost_warnings)
    fcgihost_warnings(${name})
  endif()
endfunction()
