<?php
// shutdown-order: two shutdown functions, the first registers a third; all
// echo through an output handler that the script left open.
require_once __DIR__ . '/_lib.php';
ob_start(function (string $buf, int $phase) {
    ev('ob', 'upper:' . $phase . ':' . strlen($buf));
    return strtoupper($buf);
});
register_shutdown_function(function () {
    ev('shutdown', 'a=' . connection_status());
    echo 'a';
    register_shutdown_function(function () {
        ev('shutdown', 'c=' . connection_status());
        echo 'c';
    });
});
register_shutdown_function(function () {
    ev('shutdown', 'b=' . connection_status());
    echo 'b';
});
echo 'main-';
mark('end');
