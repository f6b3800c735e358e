#!/bin/sh
# The smallest CGI script: a header, a blank line, a body.
printf 'Content-Type: text/plain\r\n\r\nHello from a shell script!\n'
