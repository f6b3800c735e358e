// Boost.Process v2 in 1.81 links only when compiled separately: its sources
// go into exactly this one file (see BOOST_PROCESS_V2_SEPARATE_COMPILATION).
#include <boost/process/v2/src.hpp>
