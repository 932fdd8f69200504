<?php
// finish-ignore: finish.php with ignore_user_abort(true).
require_once __DIR__ . '/_lib.php';
ignore_user_abort(true);
require __DIR__ . '/finish.php';
