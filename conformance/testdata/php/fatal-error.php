<?php
// fatal-error: some output (still buffered), then a fatal error (an
// uncaught Error; Go: a panic).
require_once __DIR__ . '/_lib.php';
register_shutdown_function(function () {
    status('shutdown');
    echo '|shutdown';
});
echo 'partial';
mark('before');
throw new Error('boom');
