<?php
// php-fpm's side of the POST echo benchmark: the body back.
header('Content-Type: application/octet-stream');
$in = fopen('php://input', 'rb');
$out = fopen('php://output', 'wb');
stream_copy_to_stream($in, $out);
