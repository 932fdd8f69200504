<?php
// timeout-busy: a busy loop runs into a 1 s time limit before any output.
require_once __DIR__ . '/_lib.php';
set_time_limit(1);
register_shutdown_function(function () {
    status('shutdown');
    elapsed('shutdown');
});
mark('start');
burn(3.0);
mark('end');
