<?php
// finish: fastcgi_finish_request() twice, then a small echo, then flush(),
// then 0.3 s of background work (in the shutdown function).
require_once __DIR__ . '/_lib.php';
register_shutdown_function(function () {
    usleep(300000);
    status('shutdown');
});
echo 'Test Start';
ev('finish', var_export(fastcgi_finish_request(), true));
ev('finish', var_export(fastcgi_finish_request(), true));
echo 'late';
status('after-echo');
flush();
status('after-flush');
mark('end');
