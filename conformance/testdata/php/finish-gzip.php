<?php
// finish-gzip: 3 KB of text, compressed, answered with fastcgi_finish_request(),
// then 0.3 s of background work.
require_once __DIR__ . '/_lib.php';
header('Content-Type: text/plain');
echo str_repeat("Lifeline conformance line.\n", 120);
fastcgi_finish_request();
usleep(300000);
mark('end');
