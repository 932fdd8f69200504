<?php
// abort-ignore-no-output: as abort-no-output with ignore_user_abort(true).
require_once __DIR__ . '/_lib.php';
ignore_user_abort(true);
register_shutdown_function(function () {
    status('shutdown');
});
ready();
wait_signal('leave');
idle_poll(1.0);
status('main');
mark('end');
