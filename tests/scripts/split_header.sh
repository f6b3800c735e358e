#!/bin/sh
# A header value with a bare CR (response splitting, if passed on).
printf 'Content-Type: text/plain\r\nX-Note: one\rSet-Cookie: evil=1\r\n\r\nbody\n'
