<?php
// abort-ignore-output: as abort-output with ignore_user_abort(true).
require_once __DIR__ . '/_lib.php';
ev('previous', ignore_user_abort(true));
register_shutdown_function(function () {
    status('shutdown');
    echo 'bye';
});
ready();
wait_signal('leave');
big_output(50);
status('after-output');
mark('end');
