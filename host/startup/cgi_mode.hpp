// CGI mode: a web server ran fcgi-host as a plain CGI program (mod_cgi,
// lighttpd's mod_cgi), as libfcgi's FCGX_IsCGI programs notice. The host then
// serves exactly that one request: from its environment, stdin and stdout,
// through its own FastCGI server on a socketpair, so that the resolution,
// runners, timeout and 408 are those of FastCGI mode, byte for byte.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace fcgihost::host {

// GATEWAY_INTERFACE is set and fd 0 is not a listening socket.
bool started_as_cgi();

// RFC 3875 4.4: a query with no '=' is also given as command-line arguments,
// its words split at '+' and decoded (Apache's mod_cgi does this). Those are
// a client's words, never options: `arguments` without the query's words at
// their end (CVE-2012-1823's class: "?-s" or "?--scripts+/elsewhere").
std::vector<std::string> arguments_without_query_words(std::vector<std::string> arguments, std::string_view query);

// Sends the CGI request (environment as PARAMS, stdin as FCGI_STDIN, at most
// CONTENT_LENGTH bytes) over `host_end`, the connected socket the host serves,
// and copies FCGI_STDOUT to stdout and FCGI_STDERR to stderr as they come.
// A web server that takes nothing from stdout for `stall_limit` (the host's
// --timeout; 0: no limit) has the request aborted, as one that closed it.
// Blocks (it runs on a thread of its own); returns the exit status: 0 once
// the request ended (or the web server closed stdout), 1 if the host never
// ended it (a 502 was written then, if nothing else had been) or stdout took
// nothing for that long.
int relay_cgi_request(int host_end, std::chrono::milliseconds stall_limit);

}  // namespace fcgihost::host
