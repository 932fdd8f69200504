<?php
// ob-chunks: for chunk sizes 0, 1, 2, 3 and 5, the handler calls caused by
// writes of 1, 2, 1 and 4 bytes, then ob_end_clean (php-src ob_start_basic_004).
require_once __DIR__ . '/_lib.php';
foreach ([0, 1, 2, 3, 5] as $size) {
    ob_start(function (string $buf, int $phase) use ($size) {
        ev('ob', $size . ':' . $phase . ':' . strlen($buf));
        return $buf;
    }, $size);
    echo 'a';
    echo 'bb';
    echo 'c';
    echo 'dddd';
    ob_end_clean();
}
echo 'done';
