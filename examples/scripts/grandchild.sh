#!/bin/sh
# Starts a grandchild that sleeps, says its pid (on stderr, so a timeout is
# still a clean 408), then sleeps itself: stopping the script must stop
# both, since they share its process group.
sleep 1000 &
echo "script $$ grandchild $!" >&2
sleep 1000
