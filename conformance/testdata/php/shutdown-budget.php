<?php
// shutdown-budget: the script uses 0.6 s of its 1 s limit; its shutdown
// function would work 2 s; a second shutdown function follows.
require_once __DIR__ . '/_lib.php';
set_time_limit(1);
register_shutdown_function(function () {
    mark('shutdown-start');
    burn(2.0);
    mark('shutdown-end');
    elapsed('shutdown-end');
});
register_shutdown_function(function () {
    mark('second-shutdown');
});
burn(0.6);
mark('end');
echo 'ok';
