<?php
// abort-ignore-toggle: ignore_user_abort(true); the client leaves and a
// write notices it; then ignore_user_abort(false), an echo, a flush().
require_once __DIR__ . '/_lib.php';
ignore_user_abort(true);
register_shutdown_function(function () {
    status('shutdown');
});
ready();
wait_signal('leave');
big_output(10);
status('after-output');
ev('previous', ignore_user_abort(false));
echo 'x';
mark('after-echo');
ob_flush();
flush();
mark('after-flush');
