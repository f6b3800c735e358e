<?php
// Used by ./run.sh and by the client tests against php-fpm: params, the body and a FCGI_STDERR line.
header('Content-Type: text/plain');
$body = file_get_contents('php://input');
echo "method=", $_SERVER['REQUEST_METHOD'] ?? '', "\n";
echo "query=", $_SERVER['QUERY_STRING'] ?? '', "\n";
echo "custom=", $_SERVER['HTTP_X_CUSTOM'] ?? '', "\n";
echo "content_length=", $_SERVER['CONTENT_LENGTH'] ?? '', "\n";
echo "body_length=", strlen($body), "\n";
echo "body_crc32=", hash("crc32b", $body), "\n";
error_log("php stderr for " . ($_SERVER['REQUEST_METHOD'] ?? ''));
