<?php
// abort-output: the client leaves; the script then writes (ignore_user_abort
// off, so the failed write terminates it).
require_once __DIR__ . '/_lib.php';
register_shutdown_function(function () {
    status('shutdown');
    echo 'bye';
});
ready();
wait_signal('leave');
big_output(50);
mark('after-output');
