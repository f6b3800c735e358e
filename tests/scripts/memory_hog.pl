#!/usr/bin/perl
# Asks for 512 MiB at once; with an address-space limit below that, it fails.
use strict;
use warnings;
$| = 1;
print "Content-Type: text/plain\r\n\r\n";
my $big = 'x' x (512 * 1024 * 1024);
print "allocated ", length($big), " bytes\n";
