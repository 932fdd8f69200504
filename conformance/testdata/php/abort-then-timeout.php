<?php
// abort-then-timeout: the client leaves and a write notices it (ignore_user_abort
// on), then the script runs into its time limit.
require_once __DIR__ . '/_lib.php';
ignore_user_abort(true);
register_shutdown_function(function () {
    status('shutdown');
});
ready();
wait_signal('leave');
big_output(50);
status('after-output');
set_time_limit(1);
burn(3.0);
mark('end');
