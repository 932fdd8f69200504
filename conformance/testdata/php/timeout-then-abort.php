<?php
// timeout-then-abort: the script times out first; the client leaves while
// the shutdown function runs, which then writes (PHP-SEMANTICS.md pitfall 2).
require_once __DIR__ . '/_lib.php';
ignore_user_abort(true);
set_time_limit(1);
register_shutdown_function(function () {
    status('shutdown');
    wait_signal('leave');
    big_output(50);
    idle_poll(1.0);
    status('shutdown-after-output');
});
ready();
burn(3.0);
mark('end');
