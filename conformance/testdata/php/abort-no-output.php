<?php
// abort-no-output: the client leaves; the script works on without output.
require_once __DIR__ . '/_lib.php';
register_shutdown_function(function () {
    status('shutdown');
});
ready();
wait_signal('leave');
idle_poll(1.0);
status('main');
mark('end');
