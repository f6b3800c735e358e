#!/bin/sh
# Answers, then exits with the status the query string names.
printf 'Content-Type: text/plain\r\n\r\nexiting with %s\n' "$QUERY_STRING"
exit "$QUERY_STRING"
