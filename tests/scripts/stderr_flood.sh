#!/bin/sh
# Writes the MiB of stderr lines the query asks for, then a valid response.
i=0
while [ "$i" -lt "${QUERY_STRING:-10}" ]; do
  head -c 1048576 /dev/zero | tr '\0' 'e' | fold -w 99 >&2
  i=$((i + 1))
done
printf 'Content-Type: text/plain\r\n\r\ndone\n'
