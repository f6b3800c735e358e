#!/usr/bin/perl
# Opens /dev/null 64 times and says how many opens worked.
use strict;
use warnings;
my @handles;
for (1 .. 64) {
    open(my $handle, '<', '/dev/null') or last;
    push @handles, $handle;
}
print "Content-Type: text/plain\r\n\r\nopened ", scalar(@handles), "\n";
