#!/bin/sh
# Writes a line a second, for as many seconds as the query string says (5).
seconds=${QUERY_STRING:-5}
case $seconds in *[!0-9]*|'') seconds=5 ;; esac
printf 'Content-Type: text/plain\r\n\r\n'
i=0
while [ "$i" -lt "$seconds" ]; do
    echo "second $i"
    i=$((i + 1))
    sleep 1
done
echo done
