<?php
// abort-during-shutdown: the script ends normally; the client leaves while a
// shutdown function runs, which then writes.
require_once __DIR__ . '/_lib.php';
register_shutdown_function(function () {
    status('shutdown');
    wait_signal('leave');
    ignore_user_abort(true);
    big_output(50);
    status('shutdown-after-output');
});
ready();
mark('end');
