#!/bin/sh
# Who the script runs as.
printf 'Content-Type: text/plain\r\n\r\nuid=%s gid=%s groups=%s\n' "$(id -u)" "$(id -g)" "$(id -G)"
