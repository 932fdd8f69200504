<?php
// timeout-busy-after-output: as timeout-busy, after the first output reached the client.
require_once __DIR__ . '/_lib.php';
set_time_limit(1);
register_shutdown_function(function () {
    status('shutdown');
    elapsed('shutdown');
});
ready();
burn(3.0);
mark('end');
