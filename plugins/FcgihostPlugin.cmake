# fcgihost_add_plugin(NAME SOURCES...): builds lib NAME .so for fcgi-host's
# plugins folder, against the SDK headers only (C++ sources include
# <fcgihost/plugin.hpp>, C sources <fcgihost/plugin.h>).
function(fcgihost_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_include_directories(${name} PRIVATE ${FCGIHOST_PLUGIN_SDK_DIR})
  target_compile_features(${name} PRIVATE cxx_std_20)
  # Only the handler records are exported; nothing else of the plugin can
  # clash with the host or with another plugin.
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_LIBRARY_OUTPUT_DIRECTORY})
  if(COMMAND fcgihost_warnings)
    fcgihost_warnings(${name})
  endif()
endfunction()
