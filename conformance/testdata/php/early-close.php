<?php
// early-close: the seed's recipe (close-connection-early-answer.txt), then
// 0.4 s of background work. Also served from /buffered/, /gz/ and /zlib/.
require_once __DIR__ . '/_lib.php';
register_shutdown_function(function () {
    status('shutdown');
});
ob_start();
echo 'We\'ll email you as soon as this is done.';
$size = ob_get_length();
header('Content-Length: ' . $size);
header('Connection: close');
ob_end_flush();
ob_flush();
flush();
mark('answered');
usleep(400000);
status('background');
mark('end');
