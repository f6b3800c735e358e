#include "cgi_params.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace fcgihost::client {

namespace {

// "Content-Type" -> "HTTP_CONTENT_TYPE", as RFC 3875 4.1.18 maps header names.
std::string header_param_name(std::string_view header) {
  std::string name = "HTTP_";
  for (char c : header) name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

void set_param(protocol::name_value_list& params, std::string name, std::string value) {
  auto existing = std::find_if(params.begin(), params.end(), [&](const auto& pair) { return pair.name == name; });
  if (existing != params.end())
    existing->value = std::move(value);
  else
    params.push_back({std::move(name), std::move(value)});
}

protocol::name_value_list cgi_params_for(const http_request_line& request) {
  if (!request.uri.starts_with('/')) throw std::invalid_argument("the URI must start with '/': " + request.uri);
  const auto question = request.uri.find('?');
  const std::string path = request.uri.substr(0, question);
  const std::string query = question == std::string::npos ? "" : request.uri.substr(question + 1);
  std::string root = request.document_root;
  while (root.size() > 1 && root.ends_with('/')) root.pop_back();

  protocol::name_value_list params{
      {"QUERY_STRING", query},
      {"REQUEST_METHOD", request.method},
      {"CONTENT_TYPE", request.content_type},
      {"CONTENT_LENGTH", request.content_length ? std::to_string(*request.content_length) : ""},
      {"SCRIPT_NAME", path},
      {"REQUEST_URI", request.uri},
      {"DOCUMENT_URI", path},
      {"DOCUMENT_ROOT", root},
      {"SERVER_PROTOCOL", "HTTP/1.1"},
      {"REQUEST_SCHEME", "http"},
      {"GATEWAY_INTERFACE", "CGI/1.1"},
      {"SERVER_SOFTWARE", "fcgi-client"},
      {"REMOTE_ADDR", "127.0.0.1"},
      {"REMOTE_PORT", "0"},
      {"SERVER_ADDR", "127.0.0.1"},
      {"SERVER_PORT", "80"},
      {"SERVER_NAME", "localhost"},
      {"SCRIPT_FILENAME", root.empty() ? path : root + path},
  };
  for (const auto& line : request.headers) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0)
      throw std::invalid_argument("a header must be 'Name: value': " + line);
    const std::string_view name = trim(std::string_view(line).substr(0, colon));
    const std::string_view value = trim(std::string_view(line).substr(colon + 1));
    // CGI carries these two as CONTENT_TYPE and CONTENT_LENGTH, not HTTP_*.
    std::string param = header_param_name(name);
    if (param == "HTTP_CONTENT_TYPE") param = "CONTENT_TYPE";
    if (param == "HTTP_CONTENT_LENGTH") param = "CONTENT_LENGTH";
    set_param(params, std::move(param), std::string(value));
  }
  return params;
}

}  // namespace fcgihost::client
