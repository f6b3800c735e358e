#!/bin/sh
# Prints a body with no CGI header block.
echo "just a body, no headers"
