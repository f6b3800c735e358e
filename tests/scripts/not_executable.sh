#!/bin/sh
# Deliberately committed without the executable bit: the host must refuse it.
printf 'Content-Type: text/plain\r\n\r\nthis must never run\n'
