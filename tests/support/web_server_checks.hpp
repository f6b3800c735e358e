// What every "behind a web server" test checks the same way, whatever the
// server (lighttpd, Apache): the CGI variables a script gets, uploads
// streamed whole to a handler and to a script, and the host's authorizers.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "crc32.hpp"
#include "http_client.hpp"

namespace fcgihost::test {

// The host's [[route]]s for FastCGI Authorizer requests, by the protected
// path: .../bearer/... to the authorizer plugin (users: ada, token t0ken),
// .../apikey/... to the authorizer.sh script (X-Api-Key: let-me-in).
inline std::string authorizer_routes() {
  return "[[route]]\nmatch = \"*/bearer/*\"\nrole = \"authorizer\"\nfunction = \"authorizer.bearer\"\n"
         "[[route]]\nmatch = \"*/apikey/*\"\nrole = \"authorizer\"\nscript = \"authorizer.sh\"\n"
         "[plugin.authorizer]\ntokens = \"t0ken=ada\"\n";
}

// env.py's output for GET SCRIPT_NAME/some/path?a=b.
inline void expect_cgi_variables(const http_response& env, const std::string& script_name,
                                 const std::string& script_filename) {
  EXPECT_EQ(env.status, 200);
  const std::vector<std::string> lines{"PATH_INFO=/some/path",       "SCRIPT_NAME=" + script_name,
                                       "QUERY_STRING=a=b",           "REQUEST_METHOD=GET",
                                       "GATEWAY_INTERFACE=CGI/1.1", "SCRIPT_FILENAME=" + script_filename};
  for (const auto& line : lines)
    EXPECT_NE(env.body.find("\n" + line + "\n"), std::string::npos) << line << " in\n" << env.body;
}

using post_function = std::function<http_response(const std::string& target, const std::string& body)>;

// 3 MiB through the echo handler at `echo_target` and the upload.pl script at `upload_target`.
inline void expect_uploads_stream(const post_function& post, const std::string& echo_target,
                                  const std::string& upload_target) {
  const std::string body = patterned_bytes(3 * 1024 * 1024 + 7);
  const auto echoed = post(echo_target, body);
  EXPECT_EQ(echoed.status, 200);
  ASSERT_EQ(echoed.body.size(), body.size());
  EXPECT_EQ(crc32_hex(echoed.body), crc32_hex(body));
  const auto counted = post(upload_target, body);
  EXPECT_EQ(counted.status, 200);
  EXPECT_TRUE(counted.body.starts_with("received " + std::to_string(body.size()) + " bytes, md5 ")) << counted.body;
}

}  // namespace fcgihost::test
