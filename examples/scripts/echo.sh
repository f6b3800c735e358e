#!/bin/sh
# Sends the request body back as it arrives: cat streams, so the host never
# holds the body nor the response whole.
printf 'Content-Type: application/octet-stream\r\n\r\n'
exec cat
