<?php
// stop-reading: 8 MB of output to a client that does not read for a while.
require_once __DIR__ . '/_lib.php';
register_shutdown_function(function () {
    status('shutdown');
});
$chunk = str_repeat('y', 65536);
for ($i = 0; $i < 128; $i++) {
    echo $chunk;
}
mark('written');
status('main');
