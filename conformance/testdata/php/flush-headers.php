<?php
// flush-headers: flush() with nothing written still sends the headers;
// header() afterwards fails.
require_once __DIR__ . '/_lib.php';
conf_errors();
header('X-Before: 1');
ev('sent', headers_sent() ? 'yes' : 'no');
flush();
ev('sent', headers_sent() ? 'yes' : 'no');
header('X-After: 1');
echo 'body';
