<?php
// timeout-sleep: sleeping 1.5 s under a 1 s time limit.
require_once __DIR__ . '/_lib.php';
set_time_limit(1);
register_shutdown_function(function () {
    status('shutdown');
    elapsed('shutdown');
});
mark('start');
usleep(1500000);
mark('after-sleep');
echo 'done';
