#!/usr/bin/perl
# Reads an upload in chunks and answers with its size and a checksum.
use strict;
use warnings;
use Digest::MD5;

binmode STDIN;
my $md5 = Digest::MD5->new;
my ($bytes, $chunk) = (0, '');
while (my $read = read(STDIN, $chunk, 65536)) {
    $bytes += $read;
    $md5->add($chunk);
}
print "Content-Type: text/plain\r\n\r\n";
print "received $bytes bytes, md5 ", $md5->hexdigest, "\n";
