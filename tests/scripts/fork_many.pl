#!/usr/bin/perl
# Tries to start 40 processes that sleep; says how many forks worked.
use strict;
use warnings;
my ($started, $failed) = (0, 0);
for (1 .. 40) {
    my $pid = fork;
    if (!defined $pid) { $failed++; next; }
    if ($pid == 0) { sleep 30; exit 0; }
    $started++;
}
print "Content-Type: text/plain\r\n\r\nstarted $started failed $failed\n";
