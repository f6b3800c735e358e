#!/bin/sh
# Exits without a word: not a CGI response.
exit 0
