<?php
// php-fpm's side of the 64 KiB response benchmark.
header('Content-Type: application/octet-stream');
$count = (int)($_SERVER['QUERY_STRING'] ?? '') ?: 65536;
header('Content-Length: ' . $count);
echo str_repeat('x', $count);
