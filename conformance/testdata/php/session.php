<?php
// session: PHP's session lock with the files handler. The client driver
// runs role=init (creates the session, n=0), then role=a (the holder:
// n++, then holds the session until signalled, then 0.5 s more), then,
// while a holds it, role=b (logs whether session_start waited and the n it
// read). variant: lock (a holds to the end), write-close (a calls
// session_write_close first), read-and-close (b reads with read_and_close),
// finish (a calls fastcgi_finish_request after n++).
require_once __DIR__ . '/_lib.php';
$role = $_GET['role'] ?? '';
$variant = $_GET['variant'] ?? '';
if ($role === 'init') {
    session_start();
    $_SESSION['n'] = 0;
    echo 'init';
    return;
}
if ($role === 'b') {
    mark('before-start');
    $t = microtime(true);
    if ($variant === 'read-and-close') {
        session_start(['read_and_close' => true]);
    } else {
        session_start();
    }
    $w = microtime(true) - $t;
    ev('lock', $w > 0.25 ? 'waited' : 'immediate');
    ev('i.lockwait', sprintf('%dms', $w * 1000));
    ev('n', $_SESSION['n'] ?? 'unset');
    echo 'b';
    return;
}
session_start();
$_SESSION['n']++;
if ($variant === 'write-close') {
    session_write_close();
}
mark('locked');
if ($variant === 'finish') {
    echo 'answered';
    fastcgi_finish_request();
}
wait_signal('b');
usleep(500000);
mark('end');
echo 'a';
