<?php
// php-fpm's side of the tiny hello benchmark.
header('Content-Type: text/plain');
$query = $_SERVER['QUERY_STRING'] ?? '';
echo "Hello, ", $query === '' ? 'world' : $query, "!\n";
