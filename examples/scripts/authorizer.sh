#!/bin/sh
# A FastCGI Authorizer as a script (a [[route]] with role = "authorizer"):
# the request gets through with header X-Api-Key: let-me-in, and the web
# server passes API_CLIENT on to what serves it; anything else is a 403.
if [ "$FCGI_ROLE" = AUTHORIZER ] && [ "${HTTP_X_API_KEY:-}" = "let-me-in" ]; then
  printf 'Status: 200 OK\r\nVariable-API_CLIENT: script-checked\r\n\r\n'
else
  printf 'Status: 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nNo valid X-Api-Key.\n'
fi
