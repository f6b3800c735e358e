#!/bin/sh
# Ignores SIGTERM, so stopping it takes the SIGKILL after the grace period.
# Its pid goes to stderr: stdout stays empty, so a timeout is a clean 408.
trap '' TERM
echo "pid $$" >&2
exec sleep 1000
