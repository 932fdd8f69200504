<?php
// normal-end: a script that ends normally; its shutdown function adds output.
require_once __DIR__ . '/_lib.php';
register_shutdown_function(function () {
    status('shutdown');
    echo '|shutdown';
});
mark('start');
echo 'hello';
status('main');
mark('end');
