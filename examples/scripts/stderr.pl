#!/usr/bin/perl
# Writes to stderr (the web server's error log, via FCGI_STDERR) and stdout.
use strict;
use warnings;
$| = 1;
print STDERR "stderr.pl: a warning for the error log\n";
print "Content-Type: text/plain\r\n\r\nsee the error log\n";
