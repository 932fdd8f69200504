<?php
// set-time-limit-reset: 0.6 s of work, set_time_limit(1) again, 0.6 s more.
require_once __DIR__ . '/_lib.php';
set_time_limit(1);
register_shutdown_function(function () {
    status('shutdown');
});
burn(0.6);
mark('burned-1');
set_time_limit(1);
burn(0.6);
mark('burned-2');
echo 'survived';
