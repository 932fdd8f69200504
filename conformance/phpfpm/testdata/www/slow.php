<?php
// Used by phpfpm_test.go: answers at once, then stays busy in a shutdown
// function, which WaitIdle must wait for.
register_shutdown_function(function () {
    usleep(300000);
    file_put_contents($_SERVER['LL_DONE'], 'done');
});
echo 'ok';
fastcgi_finish_request();
