<?php
// early-close: the seed's recipe (close-connection-early-answer.txt), with
// a 1.6 KB answer (worth compressing), then 0.4 s of background work. Also
// served from /buffered/, /gz/ and /zlib/.
require_once __DIR__ . '/_lib.php';
register_shutdown_function(function () {
    status('shutdown');
});
ob_start();
echo str_repeat("We'll email you as soon as this is done.\n", 40);
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
